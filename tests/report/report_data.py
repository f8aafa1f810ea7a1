"""Hand-built inputs for the report tests (helpers; fixtures are in conftest.py).

``make_results()`` mimics `pendling compute` output for 2015–2020: every cell's mean relative change
follows :func:`rel_change`, so tests can recompute a plotted value on their own, and a few cells are
suppressed the way :func:`pendling.mobility.disclosure.apply_disclosure` leaves them (``suppressed``
true, ``n`` and statistics null).
"""

from __future__ import annotations

import numpy as np
import polars as pl

YEARS = list(range(2015, 2021))
FLOWS = ("movers", "job_changers")
GROUPS = ("digital", "office", "physical_social", "unclassified", "all")
REGIONS = ("hovedstaden", "rest", "all")
GROUP_OFFSET = {"digital": 0.10, "office": 0.05, "physical_social": 0.02, "unclassified": -0.01, "all": 0.04}
REGION_OFFSET = {"hovedstaden": -0.02, "rest": 0.01, "all": 0.0}
# (year, flow, job_group, region) suppressed by the (pretend) engine: a 2 × 2 block of job groups ×
# regions, so that no additive relation (all = hovedstaden + rest, all = Σ job groups) has a lone
# suppressed cell and re-applying the disclosure rules changes nothing.
SUPPRESSED = {
    (y, f, g, r)
    for y, f, groups in ((2017, "movers", ("digital", "office")), (2019, "job_changers", ("office", "physical_social")))
    for g in groups
    for r in ("hovedstaden", "rest")
}


def rel_change(year: int, flow: str, group: str, region: str) -> float:
    """The value every test expects for a published cell (a fraction: 0.05 = +5 %)."""
    return round(GROUP_OFFSET[group] + REGION_OFFSET[region] + 0.005 * (year - 2015) + (0.03 if flow == "job_changers" else 0.0), 6)


def cell_n(year: int, group: str, region: str) -> int:
    return 40 + 7 * (year - 2015) + 13 * GROUPS.index(group) + 5 * REGIONS.index(region)


def make_results() -> pl.DataFrame:
    rows = []
    for y in YEARS:
        for f in FLOWS:
            for g in GROUPS:
                for r in REGIONS:
                    supp = (y, f, g, r) in SUPPRESSED
                    m = rel_change(y, f, g, r)
                    rows.append({
                        "year": y, "flow": f, "job_group": g, "region": r,
                        "n": None if supp else cell_n(y, g, r),
                        "mean_rel_change": None if supp else m,
                        "ratio_of_means": None if supp else round(m * 0.9, 6),
                        "ci_low": None if supp else round(m - 0.02, 6),
                        "ci_high": None if supp else round(m + 0.02, 6),
                        "suppressed": supp,
                        "mean_minutes_before": None if supp else 20.0,
                        "mean_minutes_after": None if supp else round(20.0 * (1 + m), 6),
                        "suppression": ("primary" if (g, r) in (("digital", "hovedstaden"), ("office", "rest")) else "complementary") if supp else None,
                    })
    schema = {
        "year": pl.Int16, "flow": pl.Utf8, "job_group": pl.Utf8, "region": pl.Utf8, "n": pl.Int64,
        "mean_rel_change": pl.Float64, "ratio_of_means": pl.Float64, "ci_low": pl.Float64,
        "ci_high": pl.Float64, "suppressed": pl.Boolean, "mean_minutes_before": pl.Float64,
        "mean_minutes_after": pl.Float64, "suppression": pl.Utf8,
    }
    return pl.DataFrame(rows, schema=schema)




def toy_minutes(o: np.ndarray, d: np.ndarray) -> np.ndarray:
    """A made-up but deterministic travel time (minutes) for codes o → d; diagonal 7 minutes."""
    return np.where(o == d, 7.0, 10.0 + np.abs(o - d) * 0.5 + (o % 7))

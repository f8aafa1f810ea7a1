"""DISCO-08 codes for synthetic persons: a 4-digit unit group with Denmark's mix, tilted by region.

The national mix is EU-LFS employment by ISCO-08 sub-major group for Denmark, 2022
(``isco08_employment_dk.csv``), spread evenly over the unit groups of each sub-major group
(``isco08_unit_groups.csv``; armed forces and subsistence farmers have no LFS weight and are never
drawn). Each code gets DST's two extra digits (``00``, ``10`` or ``20``) so the extract carries
6-digit DISCO08_ALLE_INDK_13 codes as the registers do.

No DISCO-by-region table is public, so the regional difference is a stated assumption:
:data:`HOVEDSTADEN_TILT` multiplies a job group's weight for people living in Region Hovedstaden,
and the rest of the country gets the complementary tilt, so the national mix is unchanged.
Job groups come from the panel's own mapping (:mod:`pendling.panel.jobgroups`), so the generator and
the engine agree on every code's group by construction.

LBNR = 0 (unknown or fictive workplace) is drawn per job with :data:`FICTIVE_WORKPLACE_SHARE` by job
group: DST creates fictive workplaces mostly for home carers, cleaners and insurance agents.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pendling.panel.jobgroups import JOB_GROUPS, assign_job_group
from pendling.synth.calibration import reference_table

HOVEDSTADEN_TILT: dict[str, float] = {"digital": 1.40, "office": 1.10, "physical_social": 0.85, "unclassified": 1.0}
FICTIVE_WORKPLACE_SHARE: dict[str, float] = {
    "digital": 0.008,
    "office": 0.015,
    "physical_social": 0.06,
    "unclassified": 0.03,
}
DANISH_DETAIL: tuple[tuple[str, float], ...] = (("00", 0.70), ("10", 0.20), ("20", 0.10))
RECODE_ON_JOB_CHANGE = 0.5  # share of job changers whose 6-digit code changes (within the job group)


@dataclass(frozen=True)
class Occupations:
    """The code table and its sampling distributions.

    ``codes``: 6-digit DISCO strings; ``group``: index into JOB_GROUPS per code;
    ``cum_region[r]``: cumulative probability over codes for home region r (0 hovedstaden, 1 rest);
    ``cum_group_region[g, r]``: the same restricted to job group g (rows of zeros if g is empty).
    """

    codes: np.ndarray
    group: np.ndarray
    prob_region: np.ndarray  # [2, n_codes]
    cum_region: np.ndarray  # [2, n_codes]
    cum_group_region: np.ndarray  # [n_groups * 2, n_codes]
    fictive_share: np.ndarray  # [n_groups]

    def group_share(self, region: int) -> np.ndarray:
        """Share of each job group among persons living in ``region`` (0 hovedstaden, 1 rest)."""
        return np.bincount(self.group, weights=self.prob_region[region], minlength=len(JOB_GROUPS))


def build_occupations(hovedstaden_share: float, mapping: pl.DataFrame | None = None) -> Occupations:
    """Codes, job groups and regional mixes. ``hovedstaden_share``: share of employed living in Region
    Hovedstaden (keeps the national mix equal to the LFS mix). ``mapping``: job-group mapping frame
    (default: the shipped ``disco08_jobgroups.csv``)."""
    units = reference_table("isco08_unit_groups.csv", schema_overrides={"isco4": pl.String})
    lfs = reference_table("isco08_employment_dk.csv", schema_overrides={"isco2": pl.String})
    units = units.with_columns(pl.col("isco4").str.slice(0, 2).alias("isco2")).join(
        lfs.select("isco2", "employed_thousands_2022"), on="isco2", how="inner"
    )
    units = units.with_columns(
        (pl.col("employed_thousands_2022") / pl.len().over("isco2")).alias("unit_weight")
    )
    detail = pl.DataFrame(
        {"detail": [d for d, _ in DANISH_DETAIL], "detail_weight": [w for _, w in DANISH_DETAIL]}
    )
    table = (
        units.join(detail, how="cross")
        .select((pl.col("isco4") + pl.col("detail")).alias("disco"),
                (pl.col("unit_weight") * pl.col("detail_weight")).alias("weight"))
        .sort("disco")
    )
    table = assign_job_group(table, mapping)
    assert isinstance(table, pl.DataFrame)
    group = table["job_group"].replace_strict({g: i for i, g in enumerate(JOB_GROUPS)}, return_dtype=pl.Int8)
    group_np = group.to_numpy()
    weight = table["weight"].to_numpy()
    weight = weight / weight.sum()
    h = float(hovedstaden_share)
    tilt_h = np.array([HOVEDSTADEN_TILT[g] for g in JOB_GROUPS])
    # complementary tilt so that h * share_h + (1 - h) * share_rest = national share, group by group
    tilt_h = np.minimum(tilt_h, 1 / max(h, 1e-9) - 1e-6)
    tilt_r = (1 - h * tilt_h) / (1 - h)
    prob = np.vstack([weight * tilt_h[group_np], weight * tilt_r[group_np]])
    prob /= prob.sum(axis=1, keepdims=True)
    cum_region = _cumulative(prob)
    n_groups = len(JOB_GROUPS)
    cgr = np.zeros((n_groups * 2, weight.size))
    for g in range(n_groups):
        for r in range(2):
            p = np.where(group_np == g, prob[r], 0.0)
            if p.sum() > 0:
                cgr[g * 2 + r] = _cumulative(p[None, :] / p.sum())[0]
    return Occupations(
        codes=table["disco"].to_numpy().astype(str),
        group=group_np.astype(np.int8),
        prob_region=prob,
        cum_region=cum_region,
        cum_group_region=cgr,
        fictive_share=np.array([FICTIVE_WORKPLACE_SHARE[g] for g in JOB_GROUPS]),
    )


def _cumulative(prob: np.ndarray) -> np.ndarray:
    cum = np.cumsum(prob, axis=1)
    # exact 1.0 where the row's mass is exhausted, so the row-offset search never spills over
    cum[cum >= cum[:, -1:] * (1 - 1e-12)] = 1.0
    return cum

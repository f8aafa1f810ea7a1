"""Cell statistics checked against numbers worked out by hand from mobility_cases' rows."""

from __future__ import annotations

import math
import statistics

import polars as pl
import pytest
from scipy.stats import t as student_t

import pendling.mobility as mob
from pendling.mobility.stats import LEADING_COLUMNS

# (minutes before, minutes after) by hand from mobility_cases.MINUTES, per person in each flow
MOVERS = {1: (12.0, 180.0), 2: (12.0, 12.0), 8: (12.0, 6.0), 10: (180.0, 12.0)}
JOB_CHANGERS = {3: (10.0, 180.0), 11: (6.0, 12.0)}


def _cell(res: pl.DataFrame, flow: str, job_group: str, region: str) -> dict:
    rows = res.filter((pl.col("flow") == flow) & (pl.col("job_group") == job_group) & (pl.col("region") == region))
    assert rows.height == 1
    return rows.row(0, named=True)


def _by_hand(pairs: list[tuple[float, float]]) -> dict[str, float]:
    before = [b for b, _ in pairs]
    after = [a for _, a in pairs]
    r = [a / b - 1 for b, a in pairs]
    n = len(r)
    mean = sum(r) / n
    sd = statistics.stdev(r)
    tq = student_t.ppf(0.975, n - 1)
    ratio = (sum(after) / n) / (sum(before) / n)
    var_lin = statistics.variance(after) - 2 * ratio * statistics.covariance(after, before) \
        + ratio**2 * statistics.variance(before)
    se_ratio = math.sqrt(var_lin / n) / (sum(before) / n)
    logs = [math.log(a / b) for b, a in pairs]
    return {
        "n": n,
        "mean_rel_change": mean,
        "ratio_of_means": sum(after) / sum(before) - 1,
        "ci_low": mean - tq * sd / math.sqrt(n),
        "ci_high": mean + tq * sd / math.sqrt(n),
        "mean_minutes_before": sum(before) / n,
        "mean_minutes_after": sum(after) / n,
        "median_rel_change": statistics.median(r),
        "mean_log_ratio": sum(logs) / n,
        "geo_mean_rel_change": math.exp(sum(logs) / n) - 1,
        "share_longer": sum(x > 0 for x in r) / n,
        "share_shorter": sum(x < 0 for x in r) / n,
        "sd_rel_change": sd,
        "ratio_ci_low": ratio - 1 - tq * se_ratio,
        "ratio_ci_high": ratio - 1 + tq * se_ratio,
    }


@pytest.fixture
def raw(panel, matrix, municipalities) -> pl.DataFrame:
    return mob.compute(panel, matrix, 2021, by=["region", "kommunegruppe"], municipalities=municipalities,
                       disclosure=False)


def test_columns_come_in_the_agreed_order(raw):
    assert tuple(raw.columns[: len(LEADING_COLUMNS)]) == LEADING_COLUMNS
    assert raw.columns[:10] == ["year", "flow", "job_group", "region", "n", "mean_rel_change", "ratio_of_means",
                                "ci_low", "ci_high", "suppressed"]


@pytest.mark.parametrize(
    ("flow", "job_group", "region", "people"),
    [
        # person 8 has an unclassified DISCO: own rows, outside the job-group total 'all'
        ("movers", "all", "all", {k: MOVERS[k] for k in (1, 2, 10)}),
        ("movers", "all", "hovedstaden", {k: MOVERS[k] for k in (1, 2)}),  # home at t-1 in 101/147
        ("movers", "digital", "all", {k: MOVERS[k] for k in (1, 10)}),  # 10 is digital at t-1
        ("job_changers", "all", "all", JOB_CHANGERS),
    ],
)
def test_cell_statistics_match_hand_arithmetic(raw, flow, job_group, region, people):
    got = _cell(raw, flow, job_group, region)
    for key, value in _by_hand(list(people.values())).items():
        # sums are exact in fixed point at 2^-36 (r) and 2^-32 (minutes): agreement to 1e-9 is the design
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key


def test_single_person_cells(raw):
    mover1 = MOVERS[1]
    got = _cell(raw, "movers", "digital", "hovedstaden")
    assert got["n"] == 1
    assert got["mean_rel_change"] == pytest.approx(mover1[1] / mover1[0] - 1)
    assert got["ci_low"] is None and got["sd_rel_change"] is None  # no interval from one observation
    unknown = _cell(raw, "movers", "unclassified", "all")  # person 8, unknown DISCO
    assert unknown["n"] == 1 and unknown["mean_rel_change"] == pytest.approx(-0.5)
    # ... in rows of its own, outside the job-group total: all = digital + office + physical_social
    assert _cell(raw, "movers", "unclassified", "hovedstaden")["n"] == 1
    assert _cell(raw, "movers", "all", "hovedstaden")["n"] == sum(
        _cell(raw, "movers", g, "hovedstaden")["n"] for g in ("digital", "office", "physical_social"))
    within = _cell(raw, "movers", "office", "all")  # person 2 moved inside København
    assert within["n"] == 1 and within["mean_rel_change"] == 0.0


def test_regions_and_kommunegrupper(raw):
    assert _cell(raw, "movers", "all", "rest")["n"] == 1  # person 10 lived in Aarhus
    assert _cell(raw, "movers", "all", "midtjylland")["n"] == 1
    assert _cell(raw, "movers", "all", "nordjylland")["n"] == 0
    assert _cell(raw, "movers", "all", "hovedstadskommuner")["n"] == 2  # + person 8, unclassified
    assert _cell(raw, "movers", "unclassified", "hovedstadskommuner")["n"] == 1
    assert _cell(raw, "movers", "all", "storbykommuner")["n"] == 1
    assert _cell(raw, "job_changers", "physical_social", "rest")["n"] == 1  # person 3


def test_full_grid_and_sort_order(raw):
    regions = ["hovedstaden", "rest", "all", "nordjylland", "midtjylland", "syddanmark", "sjaelland",
               "hovedstadskommuner", "storbykommuner", "provinsbykommuner", "oplandskommuner", "landkommuner"]
    groups = ["digital", "office", "physical_social", "unclassified", "all"]
    assert raw.height == 2 * len(groups) * len(regions)
    expected = [(f, g, r) for f in ("movers", "job_changers") for g in groups for r in regions]
    assert list(raw.select("flow", "job_group", "region").iter_rows()) == expected
    empty = raw.filter(pl.col("n") == 0)
    assert empty["mean_rel_change"].null_count() == empty.height


def test_region_cells_add_up(raw):
    """n of hovedstaden + rest = all, and the five regions and five kommunegrupper add up to all."""
    wide = raw.pivot(on="region", index=["flow", "job_group"], values="n")
    five = ["nordjylland", "midtjylland", "syddanmark", "hovedstaden", "sjaelland"]
    kg = ["hovedstadskommuner", "storbykommuner", "provinsbykommuner", "oplandskommuner", "landkommuner"]
    assert (wide["hovedstaden"] + wide["rest"] == wide["all"]).all()
    assert (wide.select(pl.sum_horizontal(five)).to_series() == wide["all"]).all()
    assert (wide.select(pl.sum_horizontal(kg)).to_series() == wide["all"]).all()


def test_municipality_definition_drops_within_moves(panel, matrix, municipalities):
    res = mob.compute(panel, matrix, 2021, municipalities=municipalities, disclosure=False,
                      mover_definition="municipality")
    got = _cell(res, "movers", "all", "all")
    assert got["n"] == 2  # 1 and 10; person 8 (also a municipality mover) is unclassified
    assert _cell(res, "movers", "unclassified", "all")["n"] == 1
    hand = _by_hand([MOVERS[k] for k in (1, 10)])
    assert got["mean_rel_change"] == pytest.approx(hand["mean_rel_change"])


def test_reruns_are_identical(panel, matrix, municipalities):
    a = mob.compute(panel, matrix, municipalities=municipalities, by="region")
    b = mob.compute(panel.sample(fraction=1.0, shuffle=True, seed=1), matrix, municipalities=municipalities,
                    by="region")
    assert a.equals(b)

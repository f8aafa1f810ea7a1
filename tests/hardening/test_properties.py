"""Properties that must hold for every input (hypothesis, fixed seed, bounded examples).

* panel attrition sums to the rows read, matches a reference classifier written here, and does
  not depend on row order;
* flows attrition sums to the person-years of each year (checked inside the scaling property);
* adding a person who neither moves nor changes job changes no flow cell;
* permuting rows changes nothing;
* scaling the matrix by k leaves every relative change unchanged (and scales the minutes);
* a mover whose home municipality does not change has r = 0 at municipality resolution.
"""

from __future__ import annotations

import polars as pl
from hardening_helpers import CANONICAL, CODES, MUNICIPALITIES, PROPERTY, matrix_frame, person_histories
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import pendling.mobility as mob
from pendling.panel import check_attrition, load_panel

YEARS = (2019, 2020, 2021)
FLOW_YEARS = [2020, 2021]


def _scaffold() -> pl.DataFrame:
    """One person present in every year, so every requested flow year has t-1 and t (a stayer)."""
    return pl.DataFrame([(10**9, y, 101, 1, 1, 101, "4110") for y in YEARS], schema=CANONICAL, orient="row")


def _run(panel: pl.DataFrame, matrix: pl.DataFrame | None = None, **kw) -> mob.MobilityResult:
    return mob.run(pl.concat([panel, _scaffold()]), matrix if matrix is not None else matrix_frame(), FLOW_YEARS,
                   municipalities=MUNICIPALITIES, **kw)


# ---------------------------------------------------------------------------------------------
# panel attrition against a reference classifier

VALID = {101, 147, 751, 461, 400}
ALIAS = {411}
AWAY = {0, 950, 955, 995, 999}
UNCLASSIFIED = {"999999", None}

dst_row = st.tuples(
    st.sampled_from([1, 2, 3, 4, 5, None, -5]),                     # PNR: repeats, missing, negative
    st.sampled_from([2015, 2016, None]),                           # AAR
    st.sampled_from([101, 147, 411, 400, 0, 950, 999, 123, None]),  # KOM
    st.sampled_from([7, 0, None]),                                  # LBNR
    st.sampled_from([101, 751, 411, 955, 555, None]),               # ARBKOM
    st.sampled_from(["251200", "4110", "999999", None]),            # DISCO
)


def _reference_buckets(rows: list[tuple], on_duplicate: str) -> dict[tuple[int | None, str], int]:
    """The documented precedence, row by row in plain Python (independent of the engine)."""
    def pnr(r):  # strict=False: a negative PNR is unreadable, i.e. missing
        return r[0] if r[0] is not None and r[0] >= 0 else None

    keys = [(pnr(r), r[1]) for r in rows]
    eligible = [k[0] is not None and k[1] is not None for k in keys]
    counts: dict[tuple, int] = {}
    for k, ok in zip(keys, eligible, strict=True):
        if ok:
            counts[k] = counts.get(k, 0) + 1
    seen: set[tuple] = set()
    out: dict[tuple[int | None, str], int] = {}
    for r, k, ok in zip(rows, keys, eligible, strict=True):
        _, year, home, lbnr, work, disco = r
        duplicate = False
        if ok and counts[k] > 1:
            duplicate = on_duplicate == "drop" or k in seen
            seen.add(k)
        if k[0] is None:
            b = "excluded_null_pnr"
        elif year is None:
            b = "excluded_year_missing"
        elif duplicate:
            b = "excluded_duplicate"
        elif home is None or home in AWAY:
            b = "excluded_home_abroad_or_unknown"
        elif home not in VALID | ALIAS:
            b = "excluded_home_invalid_code"
        elif work is None or work in AWAY:
            b = "excluded_work_abroad_or_unknown"
        elif work not in VALID | ALIAS:
            b = "excluded_work_invalid_code"
        elif home in ALIAS or work in ALIAS:
            b = "kept_code_alias"
        elif lbnr == 0:
            b = "kept_lbnr0"
        elif lbnr is None:
            b = "kept_lbnr_missing"
        elif disco in UNCLASSIFIED:
            b = "kept_disco_unclassified"
        else:
            b = "kept"
        out[(year, b)] = out.get((year, b), 0) + 1
    return out


@settings(PROPERTY, max_examples=100)
@given(rows=st.lists(dst_row, max_size=30), on_duplicate=st.sampled_from(["drop", "first"]))
def test_panel_attrition_sums_to_the_input_and_matches_the_reference(rows, on_duplicate) -> None:
    df = pl.DataFrame(rows, schema={"PNR": pl.Int64, "AAR": pl.Int64, "KOM": pl.Int64, "LBNR": pl.Int64,
                                    "ARBKOM": pl.Int64, "DISCO08_ALLE_INDK_13": pl.Utf8}, orient="row")
    panel = load_panel(df, strict=False, on_duplicate=on_duplicate)
    check_attrition(panel.attrition, len(rows))
    got = {(y, b): n for y, b, n in panel.attrition.filter(pl.col("n") > 0).select("year", "bucket", "n").rows()}
    assert got == _reference_buckets(rows, on_duplicate)
    kept = sum(n for (_, b), n in got.items() if b.startswith("kept"))
    assert panel.frame.height == kept
    assert panel.frame.select(pl.struct("pnr", "year").is_duplicated().any()).item() is False
    if on_duplicate == "drop":  # 'first' depends on file order by definition; nothing else may
        again = load_panel(df.reverse(), strict=False, on_duplicate=on_duplicate)
        assert_frame_equal(again.frame, panel.frame)
        assert_frame_equal(again.attrition, panel.attrition)


def _check_flows_attrition(panel: pl.DataFrame, res: mob.MobilityResult) -> None:
    """Flows attrition sums to the person-years of each flow year; the flow buckets equal the cells."""
    full = pl.concat([panel, _scaffold()])
    flows = res.attrition.filter(pl.col("stage") == "flows").group_by("year").agg(pl.col("n").sum()).sort("year")
    want = full.filter(pl.col("year").is_in(FLOW_YEARS)).group_by("year").len().sort("year")
    assert flows["n"].to_list() == want["len"].to_list()
    for flow, bucket in (("movers", "mover"), ("job_changers", "job_changer")):
        # job group 'all' leaves out 'unclassified', which has its own row: together they are the flow
        national = res.results.filter(pl.col("flow") == flow, pl.col("region") == "all",
                                      pl.col("job_group").is_in(["all", "unclassified"]))
        cells = national.group_by("year").agg(pl.col("n").sum()).sort("year")["n"].to_list()
        counted = res.attrition.filter(stage="flows", bucket=bucket).sort("year")["n"].to_list()
        assert cells == counted


# ---------------------------------------------------------------------------------------------
# invariances


@PROPERTY
@given(panel=person_histories(years=YEARS), home=st.sampled_from(CODES), work=st.sampled_from(CODES),
       disco=st.sampled_from(["251200", "4110", "999999"]), disclosure=st.booleans())
def test_adding_a_stayer_changes_no_flow(panel, home, work, disco, disclosure) -> None:
    stayer = pl.DataFrame([(10**8, y, home, 5, 77, work, disco) for y in YEARS], schema=CANONICAL, orient="row")
    before = _run(panel, disclosure=disclosure)
    after = _run(pl.concat([panel, stayer]), disclosure=disclosure)
    assert_frame_equal(before.results, after.results)
    old = before.attrition.filter(stage="flows")
    new = after.attrition.filter(stage="flows")
    if not disclosure:  # exactly one more stayer in each flow year, nothing else moved
        assert new["n"].to_list() == [n + (b == "stayer") for n, b in zip(old["n"], old["bucket"], strict=True)]


@PROPERTY
@given(panel=person_histories(years=YEARS, min_people=1), order=st.randoms(use_true_random=False))
def test_permuting_rows_changes_nothing(panel, order) -> None:
    idx = list(range(panel.height))
    order.shuffle(idx)
    shuffled = panel[idx]
    a, b = _run(panel), _run(shuffled)
    assert_frame_equal(a.results, b.results)
    assert_frame_equal(a.attrition, b.attrition)


@PROPERTY
@given(panel=person_histories(years=YEARS), k=st.sampled_from([0.37, 1.5, 3.0, 60.0, 1234.5]))
def test_scaling_the_matrix_leaves_relative_changes_unchanged(panel, k) -> None:
    """k keeps every time at 2.5 minutes or more: minutes enter the exact sums in fixed point with a
    resolution of 2^-32 minutes, so ratios of means are exact to ~1e-10 only for realistic times."""
    a = _run(panel, disclosure=False)
    b = _run(panel, matrix_frame(scale=k), disclosure=False)
    _check_flows_attrition(panel, a)
    assert_frame_equal(a.attrition, b.attrition)
    relative = ["mean_rel_change", "ratio_of_means", "ci_low", "ci_high", "mean_log_ratio", "geo_mean_rel_change",
                "sd_rel_change", "share_longer", "share_shorter", "median_rel_change", "ratio_ci_low", "ratio_ci_high"]
    cols = [c for c in relative if c in a.results.columns]
    # r = kT1/kT0 - 1 equals T1/T0 - 1 up to float rounding (a few ulp, then 2^-36 fixed point)
    keys = ["year", "flow", "job_group", "region", "n"]
    assert_frame_equal(a.results.select(*keys, *cols), b.results.select(*keys, *cols), abs_tol=1e-8, rel_tol=1e-9)
    for col in ("mean_minutes_before", "mean_minutes_after"):
        assert_frame_equal(a.results.select(pl.col(col) * k), b.results.select(col), rel_tol=1e-9, abs_tol=1e-9)


@PROPERTY
@given(panel=person_histories(years=YEARS))
def test_a_mover_within_the_municipality_has_r_zero(panel) -> None:
    t = mob.transitions(pl.concat([panel, _scaffold()]), matrix_frame(), FLOW_YEARS, municipalities=MUNICIPALITIES)
    movers = t.filter(pl.col("bucket") == "mover")
    same = movers.filter(pl.col("home_before") == pl.col("home_after"))
    assert (same["rel_change"] == 0.0).all()
    assert (same["minutes_before"] == same["minutes_after"]).all()
    # and every such row really is an address move with the same workplace
    assert (same["addr_before"] != same["addr_after"]).all()
    assert (same["work_id_before"] == same["work_id_after"]).all()
    # a municipality mover's r is the matrix ratio, computed here by hand
    m = {(o, d): v for o, d, v in matrix_frame().select("origin", "destination", "minutes").rows()}
    cols = ("home_before", "home_after", "work_before", "work_after", "rel_change")
    for hb, ha, wb, wa, r in movers.select(cols).rows():
        assert abs(r - (m[(ha, wa)] / m[(hb, wb)] - 1)) < 1e-12

"""No exported table may hold a cell with 0 < n < min N, a cell recoverable by subtraction, or a
minimum/maximum: checked on the API results, on what the writers put on disk (Parquet, CSV, Excel,
Stata, SAS transport),
on the CLI's output and on the data behind the figures.

The complementary-suppression check here is written independently of the engine: the additive
relations between the published cells are listed by hand, and a relation (or an attrition group,
whose total is known) with exactly one hidden member is a leak.
"""

from __future__ import annotations

import re

import polars as pl
from hardening_helpers import (
    CANONICAL,
    FEW,
    MUNICIPALITIES,
    PROPERTY,
    matrix_frame,
    person_histories,
    read_xlsx,
    sheet_frame,
)
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import pendling.mobility as mob
from pendling.cli import app
from pendling.mobility.disclosure import recoverable_cells
from pendling.mobility.export import beside, write_results
from pendling.report.excel import disclosure_problems
from pendling.report.figures import change_data, distance_by_year

YEARS = (2019, 2020, 2021)
REGIONS5 = ("nordjylland", "midtjylland", "syddanmark", "hovedstaden", "sjaelland")
STATS = ("mean_rel_change", "ratio_of_means", "ci_low", "ci_high", "mean_minutes_before", "mean_minutes_after",
         "median_rel_change", "mean_log_ratio", "geo_mean_rel_change", "share_longer", "share_shorter",
         "sd_rel_change", "ratio_ci_low", "ratio_ci_high")
MIN_MAX = re.compile(r"(^|_)(min|max|minimum|maximum)(_|$)", re.IGNORECASE)


def _scaffold() -> pl.DataFrame:
    return pl.DataFrame([(10**9, y, 101, 1, 1, 101, "4110") for y in YEARS], schema=CANONICAL, orient="row")


def _relations(regions: set[str], job_groups: set[str]) -> list[tuple[str, str, tuple[str, ...]]]:
    """(dimension, total, parts) written out from the documented cell families."""
    rels = [("region", "all", ("hovedstaden", "rest"))]
    names = {"nordjylland", "midtjylland", "syddanmark", "sjaelland"}
    if regions & names:
        five = tuple(r for r in regions if r in names | {"hovedstaden"})
        rels += [("region", "all", five), ("region", "rest", tuple(r for r in five if r != "hovedstaden"))]
    kg = tuple(r for r in regions if r not in names | {"hovedstaden", "rest", "all"})
    if kg:
        rels.append(("region", "all", kg))
    rels.append(("job_group", "all", tuple(sorted(job_groups - {"all", "unclassified"}))))  # nuisance: outside
    return rels


def _n(v: object) -> int | None:
    return None if v is None or v == "" else int(float(v))


def assert_results_safe(results: pl.DataFrame, min_n: int) -> None:
    """The rules, checked from scratch on any results table (as read back from disk)."""
    assert not [c for c in results.columns if MIN_MAX.search(c)], results.columns
    rows = results.to_dicts()
    for r in rows:
        n, hidden = _n(r["n"]), str(r["suppressed"]).lower() in ("true", "1", "1.0")
        assert (n is None) == hidden, r
        if n is not None:
            assert n == 0 or n >= min_n, f"published n={n} below {min_n}: {r}"
        else:
            assert all(r.get(c) in (None, "") for c in STATS if c in r), f"suppressed cell carries values: {r}"
        if n is not None and n < 50:
            assert r.get("median_rel_change") in (None, ""), f"median of a cell with n={n}: {r}"
        for share in ("share_longer", "share_shorter"):
            if r.get(share) not in (None, ""):
                k = round(float(r[share]) * n)
                assert k >= min_n and n - k >= min_n, f"{share} reveals fewer than {min_n}: {r}"
    # complementary suppression: no relation within (year, flow) has exactly one hidden member
    cells = {(str(r["year"]).split(".")[0], r["flow"], r["job_group"], r["region"]): _n(r["n"]) for r in rows}
    regions = {k[3] for k in cells}
    groups = {k[2] for k in cells}
    for year, flow in {(k[0], k[1]) for k in cells}:
        for dim, total, parts in _relations(regions, groups):
            others = groups if dim == "region" else regions
            for other in others:
                def key(label: str) -> tuple:
                    return (year, flow, other, label) if dim == "region" else (year, flow, label, other)

                members = [key(total), *(key(p) for p in parts)]
                if key(total) not in cells:
                    continue
                hidden = [m for m in members if m in cells and cells[m] is None]
                assert len(hidden) != 1, f"{hidden[0]} = {total} - others: recoverable ({dim} relation)"


def assert_attrition_safe(attrition: pl.DataFrame, results: pl.DataFrame, min_n: int) -> None:
    """Small counts hidden; no (stage, year) group with exactly one count left to deduce, counting a
    flow bucket as known wherever the results publish its national cell."""
    # a flow's bucket count = its national 'all' cell + the national 'unclassified' cell (outside 'all')
    parts: dict[tuple, list] = {}
    for r in results.to_dicts():
        if r["region"] == "all" and r["job_group"] in ("all", "unclassified"):
            key = (str(r["year"]).split(".")[0], {"movers": "mover", "job_changers": "job_changer"}[r["flow"]])
            parts.setdefault(key, []).append(_n(r["n"]))
    national = {k: None if None in v else sum(v) for k, v in parts.items()}
    groups: dict[tuple, list] = {}
    for r in attrition.to_dicts():
        n = _n(r["n"])
        if n is not None:
            assert n == 0 or n >= min_n, f"attrition publishes {n} < {min_n}: {r}"
        year = None if r["year"] in (None, "") else str(r["year"]).split(".")[0]
        known = n is not None or national.get((year, r["bucket"])) is not None
        if r["stage"] == "flows" and (year, r["bucket"]) in national:
            assert n is None or n == national[(year, r["bucket"])], r
            if national[(year, r["bucket"])] is None:
                assert n is None, f"{r['bucket']} {year} published in attrition but suppressed in results"
        groups.setdefault((r["stage"], year), []).append(known)
    for (stage, year), known in groups.items():
        assert known.count(False) != 1, f"attrition {stage} {year}: one hidden count = total - the rest"


def _stat_file(path) -> pl.DataFrame:
    """A .dta/.xpt read back with pyreadstat, under pendling's column names."""
    import pyreadstat

    from pendling.statfiles import XPT5_NAMES

    pdf, _ = (pyreadstat.read_dta if path.suffix == ".dta" else pyreadstat.read_xport)(path)
    frame = pl.from_pandas(pdf, nan_to_null=True)
    back = {short: long for long, short in XPT5_NAMES.items()}
    return frame.rename({c: back.get(c, c) for c in frame.columns})


def _run(panel: pl.DataFrame, **kw) -> mob.MobilityResult:
    return mob.run(pl.concat([panel, _scaffold()]), matrix_frame(), [2020, 2021], municipalities=MUNICIPALITIES, **kw)


BY = st.sampled_from([None, "region", "kommunegruppe", ("region", "kommunegruppe")])


@PROPERTY
@given(panel=person_histories(years=YEARS, max_people=60), min_n=st.sampled_from([3, 5, 8]), by=BY)
def test_api_results_and_attrition_disclose_nothing(panel, min_n, by) -> None:
    res = _run(panel, min_n=min_n, by=by)
    assert_results_safe(res.results, min_n)
    assert_attrition_safe(res.attrition, res.results, min_n)
    assert recoverable_cells(res.results).is_empty()
    assert disclosure_problems(res.results, res.attrition, min_n=min_n) == []


@FEW
@given(panel=person_histories(years=YEARS, max_people=60), min_n=st.sampled_from([3, 5]), by=BY)
def test_written_tables_disclose_nothing(panel, min_n, by, tmp_path_factory) -> None:
    res = _run(panel, min_n=min_n, by=by)
    out = tmp_path_factory.mktemp("export")
    write_results(res, out / "r.parquet")
    write_results(res, out / "r.csv")
    write_results(res, out / "r.xlsx")
    write_results(res, out / "r.dta")
    write_results(res, out / "r.xpt")
    book = read_xlsx(out / "r.xlsx")
    tables = {
        "parquet": (pl.read_parquet(out / "r.parquet"), pl.read_parquet(beside(out / "r.parquet", "attrition"))),
        "csv": (pl.read_csv(out / "r.csv", infer_schema=False),
                pl.read_csv(beside(out / "r.csv", "attrition"), infer_schema=False)),
        "xlsx": (sheet_frame(book["results"]), sheet_frame(book["attrition"])),
        "dta": (_stat_file(out / "r.dta"), _stat_file(beside(out / "r.dta", "attrition"))),
        "xpt": (_stat_file(out / "r.xpt"), _stat_file(beside(out / "r.xpt", "attrition"))),
    }
    for fmt, (results, attrition) in tables.items():
        assert results.height == res.results.height, fmt
        try:
            assert_results_safe(results, min_n)
            assert_attrition_safe(attrition, results, min_n)
        except AssertionError as exc:
            raise AssertionError(f"{fmt}: {exc}") from None
    for sheet in book.values():  # no minimum or maximum anywhere in the workbook's headers
        assert not [h for h in sheet[0] if isinstance(h, str) and MIN_MAX.search(h)]
    # the data behind the figures (FigureResult.data is what a figure draws)
    for flow in ("movers", "job_changers"):
        for region in ("all", "hovedstaden", "rest"):
            data = change_data(res.results, flow=flow, region=region, min_n=min_n)
            published = data.filter(pl.col("n").is_not_null())
            assert ((published["n"] == 0) | (published["n"] >= min_n)).all()
            assert data.filter(pl.col("suppressed"))["mean_rel_change"].null_count() == data["suppressed"].sum()


@FEW
@given(panel=person_histories(years=YEARS, max_people=60), min_n=st.sampled_from([3, 5, 8]))
def test_cli_output_discloses_nothing(panel, min_n, tmp_path_factory) -> None:
    tmp = tmp_path_factory.mktemp("cli")
    panel_file = tmp / "panel.parquet"
    pl.concat([panel, _scaffold()]).write_parquet(panel_file)
    out = tmp / "results.parquet"
    result = CliRunner().invoke(app, ["compute", "--panel", str(panel_file), "--years", "2020-2021",
                                      "--min-n", str(min_n), "--by", "region", "--out", str(out)])
    assert result.exit_code == 0, result.output
    results = pl.read_parquet(out)
    assert_results_safe(results, min_n)
    assert_attrition_safe(pl.read_parquet(beside(out, "attrition")), results, min_n)
    # the console table shows the same cells: a suppressed one never shows a count
    assert "suppressed" in result.output or results["suppressed"].sum() == 0


@PROPERTY
@given(panel=person_histories(years=YEARS, max_people=30), min_n=st.sampled_from([3, 5, 8]))
def test_distance_figure_data_discloses_nothing(panel, min_n) -> None:
    frame = pl.concat([panel, _scaffold()])
    tables = {region: distance_by_year(frame, matrix_frame(), min_n=min_n, region=region)
              for region in ("all", "hovedstaden", "rest")}
    for table in tables.values():
        published = table.filter(pl.col("n").is_not_null())
        assert ((published["n"] >= min_n) | (published["n"] == 0)).all()
    # all = hovedstaden + rest per year: never exactly one of the three hidden
    for year in frame["year"].unique().to_list():
        hidden = [r for r, t in tables.items() if t.filter(pl.col("year") == year)["n"].null_count()]
        assert len(hidden) != 1, (year, hidden)


def test_attrition_complement_is_never_a_count_the_results_publish() -> None:
    """3 movers (hidden everywhere), 6 job-changers (published in the results), 20 stayers: hiding the
    job-changer count as the movers' complement would hide nothing (results give 6), so the stayers'
    count must be hidden instead; otherwise movers = total - 6 - 20."""
    rows = []
    for p in range(1, 30):
        kind = "mover" if p <= 3 else "job_changer" if p <= 9 else "stayer"
        rows.append((p, 2020, 751, p, 100 + p, 751, "251200"))
        rows.append((p, 2021, 461 if kind == "mover" else 751, p + (kind == "mover"),
                     100 + p + 1000 * (kind == "job_changer"), 751, "251200"))
    res = mob.run(pl.DataFrame(rows, schema=CANONICAL, orient="row"), matrix_frame(), 2021,
                  municipalities=MUNICIPALITIES)
    flows = dict(res.attrition.filter(stage="flows").select("bucket", "n").rows())
    national = dict(res.results.filter(job_group="all", region="all").select("flow", "n").rows())
    assert national == {"movers": None, "job_changers": 6}
    assert flows["mover"] is None and flows["job_changer"] == 6 and flows["stayer"] is None
    assert_attrition_safe(res.attrition, res.results, 5)


def test_checker_catches_a_lone_suppressed_cell() -> None:
    """The independent checks above must be able to fail: hide one cell of a published table."""
    panel = pl.DataFrame(
        [(p, y, 751, p, 10 + p, 751, "251200") for p in range(1, 13) for y in (2020, 2021)]
        + [(p, 2020, 751, p, 10 + p, 751, "251200") for p in range(20, 32)]
        + [(p, 2021, 461, p + 1, 10 + p, 751, "251200") for p in range(20, 32)],
        schema=CANONICAL, orient="row",
    )
    res = mob.run(panel, matrix_frame(), 2021, municipalities=MUNICIPALITIES)
    assert_results_safe(res.results, 5)
    cell = (pl.col("flow") == "movers") & (pl.col("job_group") == "digital") & (pl.col("region") == "rest")
    leaky = res.results.with_columns(
        pl.when(cell).then(None).otherwise(pl.col("n")).alias("n"),
        (pl.col("suppressed") | cell).alias("suppressed"),
        *(pl.when(cell).then(None).otherwise(pl.col(c)).alias(c) for c in STATS),
    )
    try:
        assert_results_safe(leaky, 5)
    except AssertionError as exc:
        assert "recoverable" in str(exc)
    else:
        raise AssertionError("a lone suppressed cell went unnoticed")
    small = res.results.with_columns(pl.when(cell).then(3).otherwise(pl.col("n")).alias("n"))
    try:
        assert_results_safe(small, 5)
    except AssertionError as exc:
        assert "below 5" in str(exc)
    else:
        raise AssertionError("a published n of 3 went unnoticed")

"""Line figures: the plotted arrays equal the results table; suppressed cells are gaps, not zeros."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from matplotlib.collections import PolyCollection

from pendling.errors import InputError
from pendling.report import figures, style
from pendling.report.afstb4 import load_afstb4_national

from .report_data import SUPPRESSED, YEARS, rel_change


def _lines(fig) -> dict[str, object]:
    return {line.get_gid(): line for line in fig.axes[0].lines}


@pytest.mark.parametrize(("flow", "region"), [("movers", "all"), ("movers", "hovedstaden"), ("job_changers", "rest")])
def test_change_lines_equal_results(results: pl.DataFrame, flow: str, region: str) -> None:
    fr = figures.plot_change(results, flow=flow, region=region)
    lines = _lines(fr.figure)
    assert set(lines) == {"zero", "digital", "office", "physical_social", "all"}  # unclassified off by default
    for group in ("digital", "office", "physical_social", "all"):
        expected = [
            math.nan if (y, flow, group, region) in SUPPRESSED else rel_change(y, flow, group, region) for y in YEARS
        ]
        np.testing.assert_array_equal(lines[group].get_xdata(), YEARS)
        np.testing.assert_allclose(lines[group].get_ydata(), expected, equal_nan=True)
        assert lines[group].get_color() == style.JOB_GROUP_COLOURS[group]
    assert lines["zero"].get_ydata()[0] == 0.0
    # data is exactly what is drawn, row for row
    for group, line in lines.items():
        if group == "zero":
            continue
        part = fr.data.filter(pl.col("job_group") == group)
        np.testing.assert_allclose(part["mean_rel_change"].fill_null(np.nan).to_numpy(), line.get_ydata(), equal_nan=True)


def test_suppressed_cells_are_gaps_not_zero(results: pl.DataFrame) -> None:
    fr = figures.plot_change(results, flow="movers", region="hovedstaden")
    y = _lines(fr.figure)["digital"].get_ydata()
    i = YEARS.index(2017)
    assert math.isnan(y[i]) and not np.isnan(np.delete(y, i)).any()
    row = fr.data.filter((pl.col("year") == 2017) & (pl.col("job_group") == "digital")).row(0, named=True)
    assert row["suppressed"] and row["mean_rel_change"] is None and row["ci_low"] is None
    # digital and office in 2017: both counts named, and no wording that reads as "gaps drawn as 0"
    hidden = fr.data.filter(pl.col("suppressed"))
    primary = hidden.filter(pl.col("suppression") == "primary").height
    assert hidden.height == 2 and f"gaps — {primary} primary (n < 5), {2 - primary} complementary" in fr.caption
    assert "suppressed cells are drawn as gaps" in fr.caption.lower() and "gaps: 2" not in fr.caption


def test_fixture_is_a_disclosure_fixed_point(results: pl.DataFrame) -> None:
    from pendling.mobility.disclosure import apply_disclosure

    assert apply_disclosure(results, 5)["suppressed"].to_list() == results["suppressed"].to_list()


def test_undisclosed_table_is_disclosed_before_drawing(results: pl.DataFrame) -> None:
    # an unsuppressed table (compute(..., disclosure=False)) where one cell has n = 3
    raw = results.filter(~pl.col("suppressed")).vstack(
        results.filter(pl.col("suppressed")).with_columns(n=pl.lit(60, pl.Int64), mean_rel_change=pl.lit(0.3))
    )
    raw = raw.with_columns(
        n=pl.when((pl.col("year") == 2016) & (pl.col("flow") == "movers") & (pl.col("job_group") == "office")
                  & (pl.col("region") == "hovedstaden")).then(3).otherwise(pl.col("n")),
        suppressed=pl.lit(False),
    )
    fr = figures.plot_change(raw, flow="movers", region="hovedstaden", min_n=5)
    y = {g: line.get_ydata() for g, line in _lines(fr.figure).items()}
    i = YEARS.index(2016)
    assert math.isnan(y["office"][i])  # primary: n = 3
    # complementary: all(hovedstaden) = Σ job groups, so at least one more cell of Hovedstaden 2016 is blanked
    grid = figures.change_data(raw, flow="movers", region="hovedstaden", job_groups=style.JOB_GROUPS)
    assert grid.filter(pl.col("year") == 2016)["suppressed"].sum() >= 2
    assert grid.filter(pl.col("year") != 2016)["suppressed"].sum() == 0
    # the same table drawn without disclosure (on-server use only) shows the cell
    raw_fig = figures.plot_change(raw, flow="movers", region="hovedstaden", min_n=3, disclosure=False)
    assert _lines(raw_fig.figure)["office"].get_ydata()[i] == pytest.approx(rel_change(2016, "movers", "office", "hovedstaden"))


def test_small_n_hidden_even_if_not_flagged(results: pl.DataFrame) -> None:
    leaky = results.with_columns(
        n=pl.when((pl.col("year") == 2016) & (pl.col("job_group") == "office")).then(3).otherwise(pl.col("n"))
    )
    fr = figures.plot_change(leaky, flow="movers", region="all", min_n=5, disclosure=False)
    y = _lines(fr.figure)["office"].get_ydata()
    assert math.isnan(y[YEARS.index(2016)])
    # with a lower threshold the same cell is drawn
    fr3 = figures.plot_change(leaky, flow="movers", region="all", min_n=3)
    assert _lines(fr3.figure)["office"].get_ydata()[YEARS.index(2016)] == pytest.approx(rel_change(2016, "movers", "office", "all"))


def test_confidence_bands_follow_ci(results: pl.DataFrame) -> None:
    fr = figures.plot_change(results, flow="movers", region="all", job_groups=["digital"])
    bands = [c for c in fr.figure.axes[0].collections if isinstance(c, PolyCollection) and c.get_gid() == "digital_ci"]
    assert len(bands) == 1
    verts = np.concatenate([p.vertices for p in bands[0].get_paths()])
    expected_hi = max(rel_change(y, "movers", "digital", "all") for y in YEARS) + 0.02
    expected_lo = min(rel_change(y, "movers", "digital", "all") for y in YEARS) - 0.02
    assert verts[:, 1].max() == pytest.approx(expected_hi)
    assert verts[:, 1].min() == pytest.approx(expected_lo)
    assert fr.figure.axes[0].yaxis.get_major_formatter()(0.05, 0) == "5%"


def test_missing_cells_become_gaps(results: pl.DataFrame) -> None:
    holes = results.filter(~((pl.col("year") == 2018) & (pl.col("flow") == "movers") & (pl.col("job_group") == "office")))
    fr = figures.plot_change(holes, flow="movers")
    assert math.isnan(_lines(fr.figure)["office"].get_ydata()[YEARS.index(2018)])
    assert fr.data.height == len(YEARS) * 4


def test_change_errors(results: pl.DataFrame) -> None:
    with pytest.raises(InputError, match="region 'sjaelland'"):
        figures.plot_change(results, region="sjaelland")
    with pytest.raises(InputError, match="flow 'stayers'"):
        figures.plot_change(results, flow="stayers")
    with pytest.raises(InputError, match="lacks columns"):
        figures.plot_change(results.drop("ci_low"))
    with pytest.raises(InputError, match="more than one row"):
        figures.plot_change(pl.concat([results, results]))


def _panel() -> pl.DataFrame:
    # 2019: 6 in Hovedstaden, 8 elsewhere; 2020: 2 in Hovedstaden (too few), 9 elsewhere; 2021: 3 people.
    rows = (
        [(2019, 101, 147)] * 4 + [(2019, 147, 147)] * 2 + [(2019, 751, 751)] * 5 + [(2019, 751, 461)] * 3
        + [(2020, 101, 101)] * 2 + [(2020, 751, 751)] * 9
        + [(2021, 751, 751)] * 3
    )
    return pl.DataFrame(rows, schema={"year": pl.Int16, "home_muni": pl.Int16, "work_muni": pl.Int16}, orient="row")


def test_distance_by_year_means_and_disclosure(toy_matrix: pl.DataFrame) -> None:
    km = {(o, d): k for o, d, k in toy_matrix.select("origin", "destination", "km").iter_rows()}
    panel = _panel()
    out = figures.distance_by_year(panel, toy_matrix, min_n=5)
    assert out.columns == list(figures.DISTANCE_TABLE)
    # 2019: plain mean over the 14 person-years, computed here without the engine
    rows19 = [(h, w) for y, h, w in panel.iter_rows() if y == 2019]
    vals = [km[p] for p in rows19]
    r19 = out.filter(pl.col("year") == 2019).row(0, named=True)
    assert r19["n"] == 14 and r19["mean_km"] == pytest.approx(sum(vals) / 14)
    half = 1.959963984540054 * np.std(vals, ddof=1) / math.sqrt(14)
    assert r19["ci_low"] == pytest.approx(r19["mean_km"] - half)
    # 2021: 3 person-years < 5 → suppressed, a gap
    r21 = out.filter(pl.col("year") == 2021).row(0, named=True)
    assert r21["suppressed"] and r21["mean_km"] is None and r21["n"] is None
    # 2020: Hovedstaden has 2 (primary); 'rest' would then equal all − hovedstaden, so it goes too
    rest = figures.distance_by_year(panel, toy_matrix, min_n=5, region="rest")
    assert rest.filter(pl.col("year") == 2020)["suppressed"].item()
    assert not rest.filter(pl.col("year") == 2019)["suppressed"].item()
    hov = figures.distance_by_year(panel, toy_matrix, min_n=5, region="hovedstaden")
    assert hov.filter(pl.col("year") == 2019)["mean_km"].item() == pytest.approx(
        (4 * km[(101, 147)] + 2 * km[(147, 147)]) / 6
    )


def test_distance_unknown_pair_is_an_error(toy_matrix: pl.DataFrame) -> None:
    small = toy_matrix.filter(pl.col("origin") != 751)
    with pytest.raises(InputError, match="not in the matrix"):
        figures.distance_by_year(_panel(), small)


def test_distance_figure_lines(toy_matrix: pl.DataFrame) -> None:
    table = figures.distance_by_year(_panel(), toy_matrix, min_n=5)
    ref = load_afstb4_national()
    fr = figures.plot_distance(table, min_n=5)
    lines = _lines(fr.figure)
    x = lines["pendling"].get_xdata()
    assert list(x) == sorted(set(ref["year"].to_list()) | {2019, 2020, 2021})
    ours = dict(zip(table["year"].to_list(), table["mean_km"].to_list(), strict=True))
    expected = [ours.get(int(y)) for y in x]
    np.testing.assert_allclose(lines["pendling"].get_ydata(), [np.nan if v is None else v for v in expected], equal_nan=True)
    official = dict(ref.filter(pl.col("kind") == "dst_national").select("year", "km").iter_rows())
    estimate = dict(ref.filter(pl.col("kind") != "dst_national").select("year", "km").iter_rows())
    np.testing.assert_allclose(lines["afstb4"].get_ydata(), [official.get(int(y), np.nan) for y in x], equal_nan=True)
    np.testing.assert_allclose(lines["afstb4_estimate"].get_ydata(), [estimate.get(int(y), np.nan) for y in x], equal_nan=True)
    # the region series has no DST overlay
    regional = figures.plot_distance(figures.distance_by_year(_panel(), toy_matrix, region="rest"), region="rest")
    assert set(_lines(regional.figure)) == {"pendling"}


def test_afstb4_reference_matches_published_values() -> None:
    # Independently published national values (DST Nyt / press, see register-domain notes).
    ref = dict(load_afstb4_national().select("year", "km").iter_rows())
    assert ref[2008] == 19.1 and ref[2016] == 21.5 and ref[2018] == 21.7 and ref[2019] == 22.0
    kinds = load_afstb4_national()["kind"].unique().sort().to_list()
    assert kinds == ["dst_national", "employment_weighted_estimate"]


def test_saving_is_byte_identical(results: pl.DataFrame, tmp_path) -> None:
    outs = []
    for i in range(2):
        fr = figures.plot_change(results, flow="movers")
        outs.append((style.save_figure(fr.figure, tmp_path / f"a{i}.png"), style.save_figure(fr.figure, tmp_path / f"a{i}.svg")))
    (png0, svg0), (png1, svg1) = outs
    assert png0.read_bytes() == png1.read_bytes()
    assert svg0.read_bytes() == svg1.read_bytes()
    assert png0.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<dc:date>" not in svg0.read_bytes()
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
    with pytest.raises(InputError, match="unsupported figure format"):
        style.save_figure(fr.figure, tmp_path / "a.jpg")

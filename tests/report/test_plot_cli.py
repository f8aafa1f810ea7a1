"""`pendling plot` and `pendling map` end to end: the plotted table equals the results table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from .report_data import SUPPRESSED, YEARS, make_results, rel_change
from typer.testing import CliRunner

from pendling.cli import app

runner = CliRunner()


def _run(*args: str) -> str:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res.output


@pytest.fixture
def results_file(tmp_path: Path) -> Path:
    path = tmp_path / "results.parquet"
    make_results().write_parquet(path)
    return path


@pytest.mark.parametrize(
    ("figure", "flow", "region"),
    [("movers", "movers", "all"), ("movers", "movers", "hovedstaden"), ("movers", "movers", "rest"),
     ("job-changers", "job_changers", "all")],
)
def test_plot_change_from_results(tmp_path: Path, results_file: Path, figure: str, flow: str, region: str) -> None:
    out, data = tmp_path / "fig.png", tmp_path / "fig.csv"
    _run("plot", "--figure", figure, "--region", region, "--results", str(results_file),
         "-o", str(out), "--data-out", str(data))
    assert out.read_bytes()[:4] == b"\x89PNG"
    plotted = pl.read_csv(data)
    assert plotted.height == len(YEARS) * 4
    for row in plotted.iter_rows(named=True):
        key = (row["year"], flow, row["job_group"], region)
        if key in SUPPRESSED:
            assert row["suppressed"] and row["mean_rel_change"] is None
        else:
            assert row["mean_rel_change"] == pytest.approx(rel_change(*key))


def test_plot_svg_rerun_identical(tmp_path: Path, results_file: Path) -> None:
    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    _run("plot", "--figure", "job-changers", "--results", str(results_file), "-o", str(a))
    _run("plot", "--figure", "job-changers", "--results", str(results_file), "-o", str(b))
    assert a.read_bytes() == b.read_bytes() and a.read_bytes().lstrip().startswith(b"<?xml")


def _panel_frame() -> pl.DataFrame:
    """Eight people over 2019–2021 in 101/147/751; three move home keeping their job (LBNR)."""
    rows = []
    for pnr in range(1, 9):
        home = [101, 147, 751][pnr % 3]
        for year in (2019, 2020, 2021):
            moved = pnr <= 3 and year >= 2020
            rows.append((pnr, year, 751 if moved and home != 751 else (147 if moved else home), pnr * 10 + int(moved),
                         1000 + pnr, 101 if pnr % 2 else 751, "251110" if pnr % 2 else "411010",
                         "digital" if pnr % 2 else "office"))
    return pl.DataFrame(rows, orient="row", schema={
        "pnr": pl.Int64, "year": pl.Int16, "home_muni": pl.Int16, "home_addr": pl.Int64, "work_id": pl.Int64,
        "work_muni": pl.Int16, "disco": pl.Utf8, "job_group": pl.Utf8})


def test_plot_from_panel_equals_compute(tmp_path: Path, toy_matrix: pl.DataFrame, monkeypatch) -> None:
    import pendling.cli.plot as cli_plot
    from pendling.mobility import compute

    frame = _panel_frame()
    monkeypatch.setattr(cli_plot, "_panel", lambda source, reading: frame)
    mpath = tmp_path / "m.parquet"
    toy_matrix.write_parquet(mpath)
    data = tmp_path / "d.parquet"
    _run("plot", "--figure", "movers", "--panel", "ignored", "--matrix", str(mpath), "--min-n", "3",
         "-o", str(tmp_path / "m.png"), "--data-out", str(data))
    expected = compute(frame, toy_matrix, min_n=3).filter((pl.col("flow") == "movers") & (pl.col("region") == "all"))
    plotted = pl.read_parquet(data)
    joined = plotted.join(expected.select("year", "job_group", pl.col("mean_rel_change").alias("exp"),
                                          pl.col("suppressed").alias("exp_s")), on=["year", "job_group"], how="left")
    assert joined.height == plotted.height and joined["exp_s"].null_count() == 0
    for r in joined.iter_rows(named=True):
        if r["exp_s"]:
            assert r["mean_rel_change"] is None
        elif r["exp"] is None:
            assert r["mean_rel_change"] is None
        else:
            assert r["mean_rel_change"] == pytest.approx(r["exp"])
    assert plotted["mean_rel_change"].is_not_null().any()


def test_plot_distance_from_panel_and_back(tmp_path: Path, toy_matrix: pl.DataFrame, monkeypatch) -> None:
    import pendling.cli.plot as cli_plot

    frame = _panel_frame()
    monkeypatch.setattr(cli_plot, "_panel", lambda source, reading: frame)
    mpath = tmp_path / "m.parquet"
    toy_matrix.write_parquet(mpath)
    table = tmp_path / "distance.csv"
    _run("plot", "--figure", "distance", "--panel", "x", "--matrix", str(mpath), "-o", str(tmp_path / "d.png"),
         "--data-out", str(table))
    plotted = pl.read_csv(table)
    km = dict(((o, d), k) for o, d, k in toy_matrix.select("origin", "destination", "km").iter_rows())
    for year in (2019, 2020, 2021):
        rows = frame.filter(pl.col("year") == year)
        expected = sum(km[(h, w)] for h, w in rows.select("home_muni", "work_muni").iter_rows()) / rows.height
        got = plotted.filter(pl.col("year") == year).row(0, named=True)
        assert got["n"] == 8 and got["mean_km"] == pytest.approx(expected)
    assert plotted.filter(pl.col("year") == 2019)["afstb4_km"].item() == 22.0
    # the plotted table is itself a valid --results input for the distance figure
    _run("plot", "--figure", "distance", "--results", str(table), "-o", str(tmp_path / "d2.png"))


def test_map_from_and_matrix(tmp_path: Path, toy_matrix: pl.DataFrame, toy_boundaries, ferries_csv, monkeypatch) -> None:
    import pendling.geo
    import pendling.report.maps as maps

    monkeypatch.setattr(pendling.geo, "boundaries", lambda: toy_boundaries)
    real_ferry_lines = maps.ferry_lines
    monkeypatch.setattr(maps, "ferry_lines", lambda path=None: real_ferry_lines(ferries_csv))
    mpath = tmp_path / "m.parquet"
    toy_matrix.write_parquet(mpath)
    data = tmp_path / "from.csv"
    _run("map", "--from", "101", "--matrix-file", str(mpath), "-o", str(tmp_path / "kbh.png"), "--data-out", str(data))
    got = pl.read_csv(data)
    want = toy_matrix.filter(pl.col("origin") == 101).sort("destination")
    assert got["destination"].to_list() == want["destination"].to_list()
    np.testing.assert_allclose(got["minutes"].to_numpy(), want["minutes"].to_numpy())
    wide = tmp_path / "wide.parquet"
    _run("map", "--matrix", "--matrix-file", str(mpath), "-o", str(tmp_path / "matrix.svg"), "--data-out", str(wide))
    w = pl.read_parquet(wide)
    assert w.shape == (98, 99) and w["origin"][0] == 101
    assert w.filter(pl.col("origin") == 751)["101"].item() == pytest.approx(
        toy_matrix.filter((pl.col("origin") == 751) & (pl.col("destination") == 101))["minutes"].item()
    )


@pytest.mark.parametrize(
    "args",
    [
        ["plot", "--figure", "movers", "--results", "r.parquet", "--panel", "p", "-o", "x.png"],
        ["plot", "--figure", "movers", "--results", "missing.parquet", "-o", "x.png"],
        ["plot", "--figure", "movers", "--min-n", "2", "-o", "x.png"],
        ["map", "-o", "x.png"],
        ["map", "--from", "101", "--matrix", "-o", "x.png"],
    ],
)
def test_cli_errors_are_friendly(tmp_path: Path, args: list[str], monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert "error:" in res.output and "Traceback" not in res.output

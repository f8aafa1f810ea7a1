"""The realism report at grid level (issue 18): road km between home and work cells vs AFSTB4, per year.

The cell-pair km source is injected (a toy: 1 + 1.25 × straight-line km between cell corners), so the
figures can be recomputed here by hand from the extract files; the routed km is measured in
benchmarks/synth_realism_grid.md."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from pendling.cli import app
from pendling.errors import InputError
from pendling.synth import generate, realism_report
from pendling.synth import report as rep
from pendling.synth.calibration import afstb4_commute_km, afstb4_national_km


def _toy_km(pairs: pl.DataFrame) -> pl.DataFrame:
    """1 + 1.25 × the straight line between the cells' lower-left corners, km ('1km_<north>_<east>' ids)."""
    def ne(col: str) -> tuple[np.ndarray, np.ndarray]:
        parts = pairs[col].str.split("_").list
        return parts.get(1).cast(pl.Float64).to_numpy(), parts.get(2).cast(pl.Float64).to_numpy()

    (no, eo), (nd, ed) = ne("origin"), ne("destination")
    return pairs.with_columns(pl.Series("km", 1.0 + 1.25 * np.hypot(no - nd, eo - ed)))


@pytest.fixture(scope="module")
def dirty_grid(tmp_path_factory, matrix):
    """Register noise on (unknown codes 999, 411 for Bornholm, duplicate rows), 12,000 persons, 2021-2022."""
    out = tmp_path_factory.mktemp("synth-grid-dirty")
    return generate(out, persons=12_000, years="2021-2022", seed=3, scenario="dirty", matrix=matrix, zones="grid1km")


def _by_hand(path, code: int) -> tuple[int, float, float]:
    """Persons counted, their mean toy km and mean matrix km for residents of ``code``, straight from the file."""
    df = pl.read_parquet(path).with_columns(pl.col("KOM", "ARBKOM").replace(411, 400))
    df = df.filter((pl.col("KOM") != 999) & (pl.col("ARBKOM") != 999)).unique("PNR", keep="first")
    res = df.filter(pl.col("KOM") == code)
    toy = _toy_km(res.select(pl.col("BOP_DDKN").alias("origin"), pl.col("ARB_DDKN").alias("destination")))["km"]
    return res.height, float(toy.mean()), float(toy.sum())


def test_one_municipality_by_hand(dirty_grid, matrix) -> None:
    grid = rep.grid_commutes(dirty_grid.directory, matrix=matrix, pair_km=_toy_km)
    muni = rep.grid_municipal(grid)
    for year, path in zip((2021, 2022), dirty_grid.files, strict=True):
        for code in (101, 400):  # København; Bornholm, where the dirt writes 411
            n, mean, _ = _by_hand(path, code)
            row = muni.filter((pl.col("year") == year) & (pl.col("KOM") == code))
            assert row["persons"].item() == n > 0
            assert row["grid_km"].item() == pytest.approx(mean, rel=1e-12)
            dst = afstb4_commute_km().filter((pl.col("code") == code) & (pl.col("year") == year))["km"].item()
            assert row["grid_diff"].item() == pytest.approx(mean - dst, rel=1e-12)
    assert grid["excluded"].sum() == 0  # every counted row has both cells


def test_national_mean_and_correlation_by_hand(dirty_grid, matrix) -> None:
    grid = rep.grid_commutes(dirty_grid.directory, matrix=matrix, pair_km=_toy_km)
    yearly = rep.grid_yearly(grid)
    assert yearly["year"].to_list() == [2021, 2022]
    path = dirty_grid.files[1]
    df = pl.read_parquet(path).with_columns(pl.col("KOM", "ARBKOM").replace(411, 400))
    df = df.filter((pl.col("KOM") != 999) & (pl.col("ARBKOM") != 999)).unique("PNR", keep="first")
    km = _toy_km(df.select(pl.col("BOP_DDKN").alias("origin"), pl.col("ARB_DDKN").alias("destination")))["km"]
    df = df.with_columns(km)
    y = yearly.filter(pl.col("year") == 2022)
    assert y["persons"].item() == df.height
    assert y["grid_national_km"].item() == pytest.approx(km.mean(), rel=1e-12)
    dst22 = afstb4_national_km().filter(pl.col("year") == 2022)["km"].item()
    assert y["grid_ratio"].item() == pytest.approx(km.mean() / dst22, rel=1e-12)
    means = df.group_by("KOM").agg(pl.col("km").mean()).join(
        afstb4_commute_km().filter(pl.col("year") == 2022).select(pl.col("code").alias("KOM"), pl.col("km").alias("dst")),
        on="KOM")
    assert y["grid_correlation"].item() == pytest.approx(np.corrcoef(means["km"], means["dst"])[0, 1], rel=1e-10)
    assert y["cross_border_share"].item() == pytest.approx((df["KOM"] != df["ARBKOM"]).mean(), rel=1e-12)
    ok = 0.95 <= y["grid_ratio"].item() <= 1.05 and y["grid_correlation"].item() >= 0.96
    assert y["grid_ok"].item() == ok


def test_unroutable_pairs_are_counted_not_averaged(dirty_grid, matrix) -> None:
    """Pairs the km source cannot route (null km) are excluded from the grid mean and counted."""
    def holes(pairs: pl.DataFrame) -> pl.DataFrame:
        t = _toy_km(pairs)
        return t.with_columns(pl.when(pl.col("origin") == pl.col("destination")).then(None).otherwise("km").alias("km"))

    grid = rep.grid_commutes(dirty_grid.directory, matrix=matrix, pair_km=holes)
    df = pl.read_parquet(dirty_grid.files[0]).with_columns(pl.col("KOM", "ARBKOM").replace(411, 400))
    df = df.filter((pl.col("KOM") != 999) & (pl.col("ARBKOM") != 999)).unique("PNR", keep="first")
    same = df.filter(pl.col("BOP_DDKN") == pl.col("ARB_DDKN"))
    assert same.height > 0
    assert grid.filter(pl.col("year") == 2021)["excluded"].sum() == same.height
    y = rep.grid_yearly(grid).filter(pl.col("year") == 2021)
    rest = df.filter(pl.col("BOP_DDKN") != pl.col("ARB_DDKN"))
    km = _toy_km(rest.select(pl.col("BOP_DDKN").alias("origin"), pl.col("ARB_DDKN").alias("destination")))["km"]
    assert y["grid_national_km"].item() == pytest.approx(km.mean(), rel=1e-12)


def test_report_adds_grid_rows_only_with_cells(dirty_grid, matrix, default_extract) -> None:
    grid = rep.grid_commutes(dirty_grid.directory, matrix=matrix, pair_km=_toy_km)
    table = realism_report(dirty_grid.directory, matrix=matrix, grid=grid)
    y = rep.grid_yearly(grid).filter(pl.col("year") == 2022)
    got = dict(zip(table["metric"], table["value"], strict=True))
    assert got["grid_national_mean_km_ratio"] == y["grid_ratio"].item()
    assert got["grid_municipal_mean_km_correlation"] == y["grid_correlation"].item()
    band = table.filter(pl.col("metric") == "grid_municipal_mean_km_correlation")
    assert (band["low"].item(), band["high"].item()) == (0.96, 1.0)
    assert "grid_national_mean_km_ratio" not in realism_report(dirty_grid.directory, matrix=matrix)["metric"].to_list()
    assert rep.has_cells(dirty_grid.directory) and not rep.has_cells(default_extract.directory)
    with pytest.raises(InputError, match="no cell columns"):
        rep.grid_commutes(default_extract.directory, matrix=matrix, pair_km=_toy_km)


def test_cli_report_routes_cells_unless_told_municipality(dirty_grid, monkeypatch) -> None:
    seen: list[int] = []

    def toy_source(progress=None):
        def km(pairs: pl.DataFrame) -> pl.DataFrame:
            seen.append(pairs.height)
            return _toy_km(pairs)
        return km

    monkeypatch.setattr(rep, "routed_km", toy_source)
    runner = CliRunner()
    res = runner.invoke(app, ["synth", "--report", str(dirty_grid.directory)], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    assert "grid_municipal_mean_km_correlation" in res.output and "road km between 1 km cells" in res.output
    assert len(seen) == 1 and seen[0] > 1000  # distinct pairs of both years, in one call
    res = runner.invoke(app, ["synth", "--report", str(dirty_grid.directory), "--zones", "municipality"],
                        env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    assert "grid_municipal_mean_km_correlation" not in res.output and len(seen) == 1


def test_no_routable_pair_at_all_is_an_error(dirty_grid, matrix) -> None:
    """Cell ids the router does not know (e.g. another id format) must not pass as 'everyone excluded'."""
    def nothing(pairs: pl.DataFrame) -> pl.DataFrame:
        return pairs.with_columns(pl.lit(None, pl.Float64).alias("km"))

    with pytest.raises(InputError, match="no home-work cell pair"):
        rep.grid_commutes(dirty_grid.directory, matrix=matrix, pair_km=nothing)

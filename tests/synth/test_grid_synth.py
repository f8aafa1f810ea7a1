"""synth --zones grid1km: cells placed in each row's own municipality, read by the default column map,
municipality totals and rates as in the municipality-level extract (choices from the grid-fitted
gravity); municipality vs grid side by side on it (zone times from straight-line distances here: routing is tested in tests/routing)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pendling import zones as Z
from pendling.mobility.zonecompare import compare_zones
from pendling.panel import load_panel
from pendling.synth import generate


@pytest.fixture(scope="module")
def grid_extract(tmp_path_factory, matrix):
    out = tmp_path_factory.mktemp("synth-grid")
    return generate(out, persons=20_000, years="2020-2021", seed=5, scenario="default", matrix=matrix, zones="grid1km")


def _crow_times(pairs: pl.DataFrame) -> pl.DataFrame:
    """Minutes = 2 + straight-line km between cell centres at 40 km/h (an independent toy time); ids as
    DDKN text, as a user's pair table has them (the panel holds Int64 cell codes)."""
    pairs = pairs.select(Z.cell_text(pairs["origin"]), Z.cell_text(pairs["destination"]))
    o, d = Z.parse_cells(pairs["origin"]), Z.parse_cells(pairs["destination"])
    km = np.hypot((o["east_m"] - d["east_m"]).to_numpy(), (o["north_m"] - d["north_m"]).to_numpy()) / 1000
    return pairs.with_columns(pl.Series("minutes", 2.0 + km / 40 * 60))


def test_grid_extract_keeps_municipality_totals_and_rates(grid_extract, matrix, tmp_path):
    """The grid extract chooses with the gravity fitted on cell-level times (pendling.synth.gridfit), so its
    flows between municipalities differ from the municipality-level extract's; what the issue keeps are the
    municipality totals (residence and workplace shares, the same calibration targets) and the rates."""
    from pendling.synth.report import measure

    plain = generate(tmp_path / "m", persons=20_000, years="2020-2021", seed=5, scenario="default", matrix=matrix)
    for f_grid, f_plain in zip(grid_extract.files, plain.files, strict=True):
        g, p = pl.read_parquet(f_grid), pl.read_parquet(f_plain)
        assert g.columns == [*p.columns, "BOP_DDKN", "ARB_DDKN"]
        assert g.height == p.height
        assert not g.drop("BOP_DDKN", "ARB_DDKN").equals(p)  # other choices
    mg, mp = measure(grid_extract.directory, matrix), measure(plain.directory, matrix)
    for k in ("residence_share_correlation", "workplace_share_correlation"):
        assert mg[k] > 0.99 and abs(mg[k] - mp[k]) < 0.005, k
    for k in ("residence_share_max_abs_diff", "workplace_share_max_abs_diff"):
        assert mg[k] < 0.01, k
    for k in ("move_rate", "within_municipality_move_share", "job_change_rate", "exit_rate"):
        assert abs(mg[k] - mp[k]) < 0.02, (k, mg[k], mp[k])
    # fitted to the same 41 % cross-border share; the municipality fit of the matrix does not enter
    assert abs(mg["cross_border_share"] - mp["cross_border_share"]) < 0.03
    assert grid_extract.manifest["zones"]["system"] == "grid1km"
    assert grid_extract.manifest["calibration"]["delta"] != plain.manifest["calibration"]["delta"]


def test_panel_reads_synthetic_cells(grid_extract):
    p = load_panel(grid_extract.directory, on_duplicate="drop", zones=True)
    assert {"home_zone", "work_zone"} <= set(p.frame.columns)
    n = dict(p.attrition.group_by("bucket").agg(pl.col("n").sum()).iter_rows())
    assert n["excluded_zone_malformed"] == 0 and n["excluded_zone_outside_denmark"] == 0
    assert n["excluded_zone_outside_municipality"] == 0  # every cell was placed in its own municipality
    f = p.frame
    # a move inside a municipality is (almost always) a move between cells
    pairs = f.sort("pnr", "year").with_columns(
        pl.col("home_addr").shift(1).over("pnr").alias("a0"), pl.col("home_zone").shift(1).over("pnr").alias("z0"),
        pl.col("home_muni").shift(1).over("pnr").alias("m0"))
    inside = pairs.filter((pl.col("a0") != pl.col("home_addr")) & (pl.col("m0") == pl.col("home_muni")))
    assert inside.height > 100
    assert (inside["z0"] != inside["home_zone"]).mean() > 0.7
    # same dwelling, same cell
    same = pairs.filter(pl.col("a0") == pl.col("home_addr"))
    assert (same["z0"] == same["home_zone"]).all()


def test_municipality_vs_grid_side_by_side(grid_extract):
    p = load_panel(grid_extract.directory, on_duplicate="drop", zones=True)
    used = p.frame.select(pl.col("home_zone").alias("origin"), pl.col("work_zone").alias("destination")).unique()
    zt = _crow_times(used)
    cmp = compare_zones(p, "grid1km", zone_times=zt, disclosure=False)
    movers = cmp.movers.filter(pl.col("flow") == "movers")
    assert movers["r_zero_municipality"].sum() > 50  # moves inside the same municipality pair
    assert movers["r_zero_municipality_nonzero_grid"].sum() >= 0.7 * movers["r_zero_municipality"].sum()
    head = cmp.cells.filter((pl.col("job_group") == "all") & (pl.col("region") == "all"))
    assert head.height == 2 and head["mean_rel_change_grid"].is_not_null().all()
    assert (head["mean_rel_change_diff"] == head["mean_rel_change_grid"] - head["mean_rel_change_municipality"]).all()


def test_side_by_side_hides_small_differences(grid_extract):
    p = load_panel(grid_extract.directory, on_duplicate="drop", zones=True)
    used = p.frame.select(pl.col("home_zone").alias("origin"), pl.col("work_zone").alias("destination")).unique()
    cmp = compare_zones(p, "grid1km", zone_times=_crow_times(used), disclosure=True, min_n=5)
    d = (cmp.cells["n_grid"] - cmp.cells["n_municipality"]).abs()
    assert not ((d > 0) & (d < 5)).any()

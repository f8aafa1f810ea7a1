"""Population and jobs surface on the 1 km grid (pendling.surface)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pendling import surface
from pendling.errors import InputError
from pendling.routing.landcover import CELL_PX, SUB, metres_per_pixel, read_landcover


@pytest.fixture(scope="module")
def sindal(osm_dir):
    cells, places = read_landcover(osm_dir / "tiles", workers=1)
    grid, info = surface.grid_features(cells, places)
    return cells, places, grid, info


def test_grid_cells_ids_and_municipality(sindal):
    cells, _, grid, info = sindal
    built = grid.filter(pl.col("res_m2") > 0)
    assert built.height > 0
    # ids encode the lower-left corner in km (EPSG:25832): Sindal lies near N 6363 km, E 570 km
    n_e = built["cell"].str.extract_groups(r"^1km_(\d+)_(\d+)$")
    assert (n_e.struct.field("1").cast(pl.Int32) == built["north_km"]).all()
    assert (n_e.struct.field("2").cast(pl.Int32) == built["east_km"]).all()
    assert built["north_km"].is_between(6340, 6390).all() and built["east_km"].is_between(550, 600).all()
    assert set(built["code"].to_list()) <= {860, 813}  # Hjørring (and Frederikshavn at the tiles' edge)
    assert grid.select(pl.struct("north_km", "east_km").is_duplicated().sum()).item() == 0
    # nothing lost on the way from fine cells to 1 km cells: residential area is conserved
    area = (CELL_PX * metres_per_pixel(cells["cy"].to_numpy() * CELL_PX + CELL_PX // 2)) ** 2
    assert grid["res_m2"].sum() == pytest.approx(float((cells["res"].to_numpy() / (SUB * SUB) * area).sum()), rel=1e-9)
    # land cells: every 1 km cell around the data whose centre is on land; the nine tiles and their buffers span ≈ 10 × 10 km
    assert 30 < grid["land_km2"].sum() < 200 and set(grid["land_km2"].unique().to_list()) <= {0.0, 1.0}
    assert info["cells_1km"] == grid.height


def test_fit_recovers_known_coefficients_and_reports_the_fit():
    rng = np.random.default_rng(3)
    codes = np.repeat(np.arange(101, 131, dtype=np.int16), 20)
    grid = pl.DataFrame({"code": codes, "a": rng.random(len(codes)) * 1000, "b": rng.random(len(codes)) * 50})
    truth = {"a": 2.0, "b": 30.0}
    tot = grid.group_by("code").agg((pl.col("a") * 2.0 + pl.col("b") * 30.0).sum().alias("t")).sort("code")
    coef, fit = surface.fit_model(grid, tot["t"], tot["code"], ("a", "b"))
    assert coef == pytest.approx(truth, rel=1e-6)
    assert fit["in_sample"]["median_abs_pct_error"] == 0 and fit["in_sample"]["pearson_r"] == pytest.approx(1)
    assert fit["municipalities"] == 30
    with pytest.raises(InputError, match="without any surface features"):
        surface.fit_model(grid.filter(pl.col("code") != 101), tot["t"], tot["code"], ("a", "b"))


def test_fit_stats_by_hand():
    st = surface.fit_stats(np.array([110.0, 180.0, 300.0, 600.0]), np.array([100.0, 200.0, 300.0, 400.0]))
    # errors 10 %, 10 %, 0 %, 50 %: median 10, max 50
    assert st["median_abs_pct_error"] == 10.0 and st["max_abs_pct_error"] == 50.0


def test_shipped_surface_matches_its_provenance():
    import json

    from pendling import paths

    d = paths.data_dir() / "surface"
    grid = pl.read_parquet(d / "grid_1km.parquet")
    prov = json.loads((d / "provenance.json").read_text(encoding="utf-8"))
    assert grid.height == prov["totals"]["cells"]
    assert grid["cell"].str.contains(r"^1km_\d{4}_\d{3}$").all() and grid["cell"].is_unique().all()
    assert set(grid["code"].unique().to_list()) <= set(surface.load_targets()["code"].to_list())
    assert (grid["persons"] >= 0).all() and (grid["jobs"] >= 0).all()
    # the fitted municipality sums are what the stated fit is computed from
    t = surface.load_targets()
    s = t.join(grid.group_by("code").agg(pl.col("persons").sum()), on="code", how="left").fill_null(0.0)
    st = surface.fit_stats(s["persons"].to_numpy(), s["population"].to_numpy())
    assert st["median_abs_pct_error"] == pytest.approx(prov["residential"]["fit"]["in_sample"]["median_abs_pct_error"], abs=0.11)
    assert "OpenStreetMap contributors" in (d / "ATTRIBUTION.md").read_text(encoding="utf-8")

"""Sanity bounds on the shipped national matrix (data/od_matrix), built from the OSM vector tiles.

These are plausibility checks, not tuning targets: the speeds were not adjusted to meet them.
"""

from __future__ import annotations

import json

import polars as pl
import pytest

from pendling import odmatrix, paths, routing

ISLANDS = {563: ["fanoe"], 741: ["samsoe_hou", "samsoe_kalundborg"], 825: ["laesoe"],
           492: ["aeroe_svendborg", "aeroe_rudkoebing", "aeroe_fynshav", "aeroe_faaborg"],
           400: ["bornholm_ystad", "bornholm_koege"]}  # fmt: skip


@pytest.fixture(scope="module")
def m() -> pl.DataFrame:
    return odmatrix.load_matrix()


def _pair(m, o, d) -> dict:
    return odmatrix.lookup(m, o, d)


def test_all_pairs_finite_positive(m):
    assert m.height == 98 * 98
    assert m["minutes"].is_finite().all() and (m["minutes"] > 0).all()
    assert m["km"].is_finite().all()


def test_long_distance_bounds(m):
    cph_aar = _pair(m, 101, 751)
    assert 150 <= cph_aar["minutes"] <= 210
    ferries = routing.load_ferries()
    odde = ferries.filter(pl.col("route") == "odde_aarhus")["minutes"][0]
    assert cph_aar["ferry_minutes"] == 0 or cph_aar["ferry_minutes"] == pytest.approx(odde)  # Storebælt or Odde
    assert 210 <= _pair(m, 101, 851)["minutes"] <= 285
    assert 60 <= _pair(m, 461, 561)["minutes"] <= 105
    assert _pair(m, 101, 147)["minutes"] < 20 and _pair(m, 147, 101)["minutes"] < 20


def test_islands_only_by_ferry(m):
    ferries = routing.load_ferries()
    for code, routes in ISLANDS.items():
        least = ferries.filter(pl.col("route").is_in(routes))["minutes"].min()
        other = m.filter(((pl.col("origin") == code) | (pl.col("destination") == code)) & (pl.col("origin") != pl.col("destination")))
        assert other.height == 2 * 97
        assert (other["ferry_minutes"] >= least - 1e-6).all(), code
        assert (other["minutes"] > other["ferry_minutes"]).all()


def test_diagonal_is_the_area_formula(m):
    prof = routing.load_profile()
    mun = routing.municipality_points("inside")
    minutes, km = routing.internal_time(mun["area_km2"], prof)
    diag = m.filter(pl.col("origin") == pl.col("destination")).sort("origin")
    assert diag["minutes"].to_list() == pytest.approx(list(minutes))
    assert diag["km"].to_list() == pytest.approx(list(km))


def test_provenance_and_attribution():
    d = paths.od_matrix_dir()
    prov = json.loads((d / "provenance.json").read_text())
    assert prov["input"]["kind"] == "vector_tiles" and len(prov["input"]["sha256"]) == 64
    assert prov["input"]["osm_date"] == "2021-08-05"
    assert prov["profile"]["sha256"] and prov["ferries"]["sha256"]
    assert prov["points"]["set"] == "municipalities:inside" and len(prov["snapping"]["snap_m_by_code"]) == 98
    assert "ODbL" in prov["licence"]
    assert "OpenStreetMap contributors" in (d / "ATTRIBUTION.md").read_text()
    assert "OpenStreetMap contributors" in (paths.roads_dir() / "ATTRIBUTION.md").read_text()


def test_sanity_report(m):
    rep = routing.check_matrix(m)
    assert rep["unreachable_pairs"] == 0
    assert rep["triangle_violations"] == 0
    assert 0.99 < rep["symmetry_ratio_median"] < 1.01
    assert rep["slowest"][0]["origin"] == 400 or rep["slowest"][0]["destination"] == 400  # Bornholm

"""Zone systems: DDKN cell ids parsed without a lookup table, zones placed on land and in their
municipality on the shipped boundaries, user point tables."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pendling import geo, zones
from pendling.errors import InputError


def test_valid_ids_of_each_resolution():
    p = zones.parse_cells(["1km_6170_720", "100m_61705_7203", "10km_617_72"])
    assert p["error"].is_null().all()
    assert p["resolution_m"].to_list() == [1000, 100, 10_000]
    # lower-left corner: northing then easting, in units of the cell size
    assert p["north_m"].to_list() == [6_170_000, 6_170_500, 6_170_000]
    assert p["east_m"].to_list() == [720_000, 720_300, 720_000]


def test_invalid_ids_are_reported_not_raised():
    ids = ["1km_6170_72", "1km_617_720", "1km-6170-720", "km_6170_720", "1km_6170_720_1", "", None, "1KM_6170_720"]
    p = zones.parse_cells(ids, "grid1km")
    assert p.height == len(ids)
    assert p["error"].str.starts_with("not a DDKN cell id").all()
    assert p["resolution_m"].is_null().all()


def test_other_resolution_than_the_zone_system():
    p = zones.parse_cells(["100m_61705_7203", "10km_617_72", "1km_6170_720"], "grid1km")
    assert p["error"].to_list() == ["resolution 100m, expected 1km", "resolution 10km, expected 1km", None]


def test_outside_denmark():
    # Oslo (N 6,640 km), Hamburg (N 5,935 km), west of Jylland in the North Sea, east of Bornholm
    p = zones.parse_cells(["1km_6640_597", "1km_5935_566", "1km_6200_300", "10km_615_95"])
    assert (p["error"] == "outside Denmark").all()
    t = zones.zone_table(["1km_6640_597"], "grid1km")
    assert t["status"].to_list() == ["outside_denmark"]


def test_bounds_hold_every_municipality():
    b = geo.boundaries().to_crs(geo.METRIC_CRS).total_bounds
    assert zones.DK_EAST_M[0] <= b[0] and b[2] < zones.DK_EAST_M[1]
    assert zones.DK_NORTH_M[0] <= b[1] and b[3] < zones.DK_NORTH_M[1]


@pytest.mark.parametrize("res", [100, 1000, 10_000])
def test_cell_ids_round_trip(res):
    rng = np.random.default_rng(res)
    x = rng.uniform(441_000, 890_000, 500)
    y = rng.uniform(6_050_000, 6_400_000, 500)
    p = zones.parse_cells(zones.cell_ids(x, y, res), {100: "grid100m", 1000: "grid1km", 10_000: "grid10km"}[res])
    assert p["error"].is_null().all()
    e, n = p["east_m"].to_numpy(), p["north_m"].to_numpy()
    assert ((e <= x) & (x < e + res) & (n <= y) & (y < n + res)).all()


def test_cells_map_to_their_municipality():
    # the inside point lies ≥ 250 m inside its municipality, so the centre of its 100 m cell does too
    m = geo.municipalities()
    x, y = zones._xy(m["inside_lon"].to_numpy(), m["inside_lat"].to_numpy())
    t = zones.zone_table(zones.cell_ids(x, y, 100), "grid100m")
    got = t.join(pl.DataFrame({"zone": zones.cell_ids(x, y, 100), "code": m["code"]}), on="zone")
    assert got.height == 98
    assert (got["status"] == "ok").all()
    assert (got["municipality"] == got["code"].cast(pl.Int16)).all()


def test_sea_and_coast():
    t = zones.zone_table(["1km_6300_650", "1km_6171_730", "1km_6176_723"], "grid1km").sort("zone")
    st = dict(zip(t["zone"].to_list(), t["status"].to_list(), strict=True))
    assert st["1km_6300_650"] == "not_on_land"  # Kattegat
    assert st["1km_6171_730"] == "moved_to_land"  # Amager coast: centre in the sea, land in the cell
    assert st["1km_6176_723"] == "ok"  # central København
    moved = t.filter(pl.col("zone") == "1km_6171_730")
    assert 730_000 <= moved["x"][0] < 731_000 and 6_171_000 <= moved["y"][0] < 6_172_000
    assert moved["municipality"][0] == 185  # Tårnby
    assert t.filter(pl.col("zone") == "1km_6300_650")["municipality"].is_null().all()


def test_points_in_either_crs():
    xy = pl.DataFrame({"zone": ["a", "b", "sea"], "x": [723_400.0, 571_800.0, 650_000.0], "y": [6_175_200.0, 6_224_800.0, 6_300_000.0]})
    lon, lat = zones._lonlat(xy["x"].to_numpy(), xy["y"].to_numpy())
    ll = pl.DataFrame({"zone": ["a", "b", "sea"], "lon": lon, "lat": lat})
    t1 = zones.zone_table(["a", "b", "sea", "nope"], "points", points=xy)
    t2 = zones.zone_table(["a", "b", "sea", "nope"], "points", points=ll)
    assert t1["municipality"].to_list() == t2["municipality"].to_list() == [101, 751, None, None]
    assert t1["zone"].to_list() == ["a", "b", "nope", "sea"]  # sorted
    assert t1["status"].to_list() == ["ok", "ok", "invalid_id", "not_on_land"]
    np.testing.assert_allclose(t1["x"].to_numpy()[:2], t2["x"].to_numpy()[:2], atol=1e-3)
    assert (t1["area_km2"] == zones.DEFAULT_POINT_AREA_KM2).all()


def test_points_table_errors():
    with pytest.raises(InputError, match="duplicate"):
        zones.read_zone_points(pl.DataFrame({"zone": ["a", "a"], "x": [1.0, 2.0], "y": [1.0, 2.0]}))
    with pytest.raises(InputError, match="lacks columns"):
        zones.read_zone_points(pl.DataFrame({"zone": ["a"], "east": [1.0]}))
    with pytest.raises(InputError, match="impossible"):
        zones.read_zone_points(pl.DataFrame({"zone": ["a"], "lon": [200.0], "lat": [55.0]}))


def test_municipality_zones_are_the_inside_points():
    t = zones.zone_table(pl.Series([101, 751, 999]), "municipality")
    assert t["zone"].dtype == pl.Int16
    assert t["status"].to_list() == ["ok", "ok", "invalid_id"]
    m = geo.municipalities().filter(pl.col("code").is_in([101, 751])).sort("code")
    assert t["lon"].head(2).to_list() == m["inside_lon"].to_list()
    with pytest.raises(InputError, match="unknown zone system"):
        zones.zone_table(["x"], "grid5km")

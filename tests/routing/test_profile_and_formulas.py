"""Car profile parsing and the closed-form pieces (internal time, great-circle lengths)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from pendling import routing
from pendling.errors import InputError
from pendling.routing.graph import haversine_m
from pendling.routing.matrix import MEAN_DISC_DISTANCE
from pendling.routing.profile import edge_speeds, parse_maxspeed


def test_maxspeed_tags_including_danish_zones():
    prof = routing.load_profile()
    tags = pl.Series(["80", "50 km/h", "DK:urban", "DK:rural", "DK:motorway", "30 mph", "none", "signals", None, "60;50"])
    got = parse_maxspeed(tags, prof).to_list()
    assert got[:5] == [80.0, 50.0, 50.0, 80.0, 130.0]
    assert got[5] == pytest.approx(30 * 1.609344)
    assert got[6] == prof.max_speed_kmh  # 'none' = no limit → the profile cap
    assert got[7] is None and got[8] is None  # unusable → class default later
    assert got[9] == 60.0


def test_class_defaults_fill_where_no_maxspeed():
    prof = routing.load_profile()
    hw = pl.Series(["motorway", "residential", "tertiary"])
    ms = pl.Series([None, 30.0, None], dtype=pl.Float64)
    assert edge_speeds(hw, ms, prof).to_list() == [prof.speeds_kmh["motorway"], 30.0, prof.speeds_kmh["tertiary"]]
    with pytest.raises(InputError, match="without a speed"):
        edge_speeds(pl.Series(["hovercraft_lane"]), None, prof)


def test_profile_file_errors_name_the_problem(tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text("[speeds_kmh]\nmotorway = 110\n")
    with pytest.raises(InputError, match="lacks a default speed") as exc:
        routing.load_profile(bad)
    assert exc.value.file == str(bad)
    with pytest.raises(InputError, match="not found"):
        routing.load_profile(tmp_path / "missing.toml")


def test_mean_distance_in_a_disc_matches_monte_carlo():
    """128/(45π)·R is checked against simulation, independently of the engine."""
    rng = np.random.default_rng(7)
    n = 400_000
    r = np.sqrt(rng.random((2, n)))
    phi = rng.random((2, n)) * 2 * math.pi
    x, y = r * np.cos(phi), r * np.sin(phi)
    mc = np.hypot(x[0] - x[1], y[0] - y[1]).mean()
    assert mc == pytest.approx(MEAN_DISC_DISTANCE, rel=0.005)
    assert MEAN_DISC_DISTANCE == pytest.approx(0.9054, abs=1e-4)


def test_internal_time_formula_by_hand():
    prof = routing.load_profile()
    minutes, km = routing.internal_time(np.array([100.0]), prof)
    r = math.sqrt(100 / math.pi)  # 5.642 km
    expect_km = 0.905414 * r * prof.internal_detour
    assert km[0] == pytest.approx(expect_km, rel=1e-5)
    assert minutes[0] == pytest.approx(expect_km / prof.internal_speed_kmh * 60 + prof.internal_terminal_minutes, rel=1e-5)
    with pytest.raises(InputError):
        routing.internal_time(np.array([0.0]), prof)


def test_haversine_agrees_with_pyproj_geod():
    from pyproj import Geod

    lon1, lat1, lon2, lat2 = np.array([12.57, 8.45]), np.array([55.68, 55.47]), np.array([10.21, 9.92]), np.array([56.16, 57.05])
    _, _, d = Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)
    assert haversine_m(lon1, lat1, lon2, lat2) == pytest.approx(d, rel=0.004)  # sphere vs ellipsoid

"""Urban speeds, junction delays and the built-up raster of the car profile."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pendling import routing
from pendling.errors import InputError
from pendling.routing.graph import assemble
from pendling.routing.landcover import (
    CELL_PX,
    CELLS_PER_TILE,
    builtup_raster,
    classify_segments,
    decode_landcover_tile,
    metres_per_pixel,
    read_landcover,
)
from pendling.routing.profile import JUNCTION_KINDS, edge_speeds, junction_kinds, junction_seconds


def _kind_names(u, v, hw, n):
    k = junction_kinds(np.array(u), np.array(v), pl.Series(hw), n)
    return [JUNCTION_KINDS[i] for i in k]


def test_junction_kinds_by_hand():
    # node 0 is a T: primary 1–0–2 with a minor side road 3–0; node 4–5 a plain chain
    u = [1, 0, 2, 0, 3, 0, 4]
    v = [0, 1, 0, 2, 0, 3, 5]
    hw = ["primary", "primary", "primary", "primary", "minor", "minor", "minor"]
    got = _kind_names(u, v, hw, 6)
    assert got[0] == "through" and got[2] == "through"  # along the primary
    assert got[4] == "give_way"  # from the side road onto the primary
    assert got[1] == got[3] == got[5] == got[6] == "none"  # heads 1, 2, 3, 5 are not junctions
    # four primaries meet: a crossing; the same with minor roads: a minor junction
    u4, v4 = [1, 2, 3, 4], [0, 0, 0, 0]
    assert set(_kind_names(u4, v4, ["primary"] * 4, 5)) == {"crossing"}
    assert set(_kind_names(u4, v4, ["residential"] * 4, 5)) == {"minor"}
    # a motorway node (ramp junction) is grade separated; service roads do not make a junction
    assert _kind_names([1, 2, 3], [0, 0, 0], ["motorway", "motorway", "motorway_link"], 4) == ["none"] * 3
    assert _kind_names([1, 2, 3], [0, 0, 0], ["minor", "minor", "service"], 4) == ["none"] * 3


def test_junction_seconds_and_urban_speeds_from_the_profile():
    prof = routing.load_profile()
    kind = np.arange(len(JUNCTION_KINDS))
    rural = junction_seconds(kind, np.zeros(len(kind), dtype=bool), prof)
    town = junction_seconds(kind, np.ones(len(kind), dtype=bool), prof)
    assert rural[0] == 0 and list(rural[1:]) == [prof.junction_seconds[k] for k in JUNCTION_KINDS[1:]]
    assert town == pytest.approx(rural * prof.urban_junction_factor)
    hw = pl.Series(["primary", "primary", "motorway"])
    sp = edge_speeds(hw, None, prof, urban=pl.Series([False, True, True])).to_list()
    assert sp == [prof.speeds_kmh["primary"], prof.urban_speeds_kmh["primary"], prof.urban_speeds_kmh["motorway"]]
    # a tagged maxspeed still wins over both defaults
    assert edge_speeds(hw, pl.Series([None, 30.0, None]), prof, urban=pl.Series([True] * 3)).to_list()[1] == 30.0


def test_assemble_adds_the_junction_delay_to_the_entering_edge():
    prof = routing.load_profile()
    # a T junction at key 10: primary 11–10–12 and a minor road 13–10, all two-way, all rural
    nodes = pl.DataFrame({"key": [10, 11, 12, 13], "lon": [10.0, 9.99, 10.01, 10.0], "lat": [56.0, 56.0, 56.0, 56.01]})
    seg = pl.DataFrame(
        {"u": [11, 10, 13], "v": [10, 12, 10], "highway": ["primary", "primary", "minor"], "oneway": [0, 0, 0], "maxspeed": [None] * 3},
        schema_overrides={"oneway": pl.Int8, "maxspeed": pl.String},
    )
    g = assemble(seg, nodes, prof)
    e = g.edges.with_columns(free=pl.col("length_m") / 1000 / pl.col("highway").replace_strict(prof.speeds_kmh, return_dtype=pl.Float64) * 60)
    delay = e.with_columns(d=(pl.col("minutes") - pl.col("free")) * 60).select("u", "v", "highway", "d")
    into = delay.filter(pl.col("v") == 0)  # node 0 = key 10
    assert into.filter(pl.col("highway") == "minor")["d"].item() == pytest.approx(prof.junction_seconds["give_way"])
    assert into.filter(pl.col("highway") == "primary")["d"].to_list() == pytest.approx([prof.junction_seconds["through"]] * 2)
    assert delay.filter(pl.col("v") != 0)["d"].abs().max() < 1e-9
    assert g.info["junction_entries"]["give_way"] == 1


def test_profile_rejects_bad_urban_and_junction_values(tmp_path):
    base = (routing.load_profile().path and open(routing.load_profile().path, encoding="utf-8").read())
    bad = tmp_path / "p.toml"
    bad.write_text(base.replace("[urban_speeds_kmh]\n", "[urban_speeds_kmh]\nhovercraft = 30\n"))
    with pytest.raises(InputError, match="urban speeds") as exc:
        routing.load_profile(bad)
    assert "hovercraft" in str(exc.value)
    bad.write_text(base.replace("[junction_seconds]\n", "[junction_seconds]\nroundabout = 5\n"))
    with pytest.raises(InputError, match="junction delays"):
        routing.load_profile(bad)


def test_landcover_of_a_real_tile(osm_dir):
    """Sindal's centre tile: residential landuse covers part of it, and counts stay within 0..16."""
    path = osm_dir / "tiles" / "13" / "4328" / "2489.pbf"
    out = decode_landcover_tile(str(path))
    assert len(out["cx"]) > 0
    assert (out["cx"] // CELLS_PER_TILE == 4328).all() and (out["cy"] // CELLS_PER_TILE == 2489).all()
    for g in ("res", "com", "ind", "inst"):
        assert out[g].max() <= 16
    assert out["res"].sum() > 0
    total = sum(out[g].astype(int) for g in ("res", "com", "ind", "inst"))
    assert total.max() <= 16  # a sample point counts for one class only
    # the cell side by hand: equator 40,075,016.686 m over 2^25 pixels, times cos(lat)
    lat = routing.tiles.pixel_to_lonlat(np.array([0]), np.array([2489 * 4096]))[1][0]
    assert CELL_PX * metres_per_pixel(2489 * 4096) == pytest.approx(40_075_016.686 / 2**25 * 128 * np.cos(np.radians(lat)))
    assert 80 < CELL_PX * metres_per_pixel(2489 * 4096) < 84  # Sindal, 57.5° N
    cells, places = read_landcover(osm_dir / "tiles", workers=1)
    assert cells.select(pl.struct("cx", "cy").is_duplicated().sum()).item() == 0  # tiles never overlap
    assert cells.height >= len(out["cx"])


def test_builtup_raster_and_segment_classification():
    # one fully residential cell at (100, 200) and nothing else: a 1-cell window keeps it sharp,
    # a 3-cell window spreads 1/9 to the neighbours
    cells = pl.DataFrame(
        {"cx": [100], "cy": [200], "res": [16], "com": [0], "ind": [0], "inst": [0], "bld_m2": [0.0], "bld_n": [0]},
        schema_overrides={"cx": pl.Int32, "cy": pl.Int32, "res": pl.UInt8, "com": pl.UInt8, "ind": pl.UInt8, "inst": pl.UInt8, "bld_m2": pl.Float32, "bld_n": pl.Int32},
    )
    cx0, cy0, share = builtup_raster(cells, 3)
    assert share[200 - cy0, 100 - cx0] == pytest.approx(1 / 9)
    assert share[201 - cy0, 101 - cx0] == pytest.approx(1 / 9)
    assert share[203 - cy0, 100 - cx0] == 0

    def key(px, py):
        return (px << 26) | py

    inside = (100 * CELL_PX + 10, 200 * CELL_PX + 10)
    outside = (105 * CELL_PX, 200 * CELL_PX)
    seg = pl.DataFrame({"u": [key(*inside), key(*outside)], "v": [key(inside[0] + 20, inside[1]), key(outside[0] + 20, outside[1])]})
    assert classify_segments(seg, cells, window_cells=1, min_share=0.5).to_list() == [True, False]
    assert classify_segments(seg, cells, window_cells=3, min_share=0.5).to_list() == [False, False]

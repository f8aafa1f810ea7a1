"""Vector tiles (a real 3×3 z13 block around Sindal) and the ferry table."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pendling import routing
from pendling.errors import InputError
from pendling.routing.graph import assemble
from pendling.routing.tiles import EXTENT, decode_tile, pixel_to_lonlat, read_tiles


def test_tiles_merge_across_seams_and_dedupe(osm_dir):
    tiles = osm_dir / "tiles"
    seg, nodes, info = read_tiles(tiles, workers=1)
    assert info["tiles"] == 9
    assert seg.select(pl.struct("u", "v", "highway", "oneway").is_duplicated().sum()).item() == 0
    assert info["segments_unique"] < info["segments_decoded"]  # border segments came from 2+ tiles
    # decoding one tile by itself: its out-of-tile vertices are real vertices of the neighbours
    one = decode_tile(str(tiles / "13" / "4328" / "2489.pbf"))
    outside = (one["bx"] // EXTENT != 4328) | (one["by"] // EXTENT != 2489)
    assert outside.any()
    keys = set(nodes["key"].to_list())
    ext = (one["bx"][outside] << 26) | one["by"][outside]
    assert np.isin(ext, list(keys)).mean() > 0.95
    g = routing.build_graph(tiles=tiles, ferries=False, workers=1)
    # the kept network spans all nine tiles: seams are joined, not cut
    tx = np.floor((g.nodes["lon"].to_numpy() + 180) / 360 * 8192).astype(int)
    assert {4327, 4328, 4329} <= set(tx)
    assert g.info["dropped_components"]["nodes"] < 0.2 * g.info["nodes_read"]
    assert set(g.edges["highway"].unique()) <= {
        "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary",
        "secondary_link", "tertiary", "tertiary_link", "minor", "service",
    }  # fmt: skip


def test_pixel_to_lonlat_is_web_mercator():
    lon, lat = pixel_to_lonlat(np.array([0, 2**24]), np.array([0, 2**24]))
    assert lon[0] == -180 and lon[1] == 0 and lat[1] == pytest.approx(0)
    assert lat[0] == pytest.approx(85.0511287798)


def test_ferry_table_is_valid_and_documented():
    t = routing.load_ferries()
    must = {"bornholm_ystad", "samsoe_hou", "laesoe", "fanoe", "aeroe_svendborg", "langeland_lolland", "als_fyn",
            "odde_aarhus", "odde_ebeltoft", "hundested_roervig", "hvalpsund_sundsoere"}  # fmt: skip
    assert must <= set(t["route"])
    assert t["source"].null_count() == 0
    assert (t["minutes"] == t["crossing_minutes"] + t["wait_minutes"] + t["extra_minutes"]).all()
    assert (t["km"] > 0).all()


def test_ferry_table_errors(tmp_path):
    bad = tmp_path / "f.csv"
    bad.write_text("route,terminal_a\nx,y\n")
    with pytest.raises(InputError, match="lacks columns"):
        routing.load_ferries(bad)


def test_ferry_edge_joins_two_islands_with_its_time():
    prof = routing.load_profile()
    nodes = pl.DataFrame({"key": [1, 2, 3, 4], "lon": [10.0, 10.01, 10.2, 10.21], "lat": [56.0, 56.0, 56.0, 56.0]})
    seg = pl.DataFrame(
        {"u": [1, 3], "v": [2, 4], "highway": ["tertiary", "tertiary"], "oneway": [0, 0], "maxspeed": [None, None]},
        schema_overrides={"oneway": pl.Int8, "maxspeed": pl.String},
    )
    g = assemble(seg, nodes, prof)
    table = pl.DataFrame(
        {"route": ["x"], "terminal_a": ["A"], "lon_a": [10.0102], "lat_a": [56.0], "terminal_b": ["B"], "lon_b": [10.1998],
         "lat_b": [56.0], "crossing_minutes": [30.0], "wait_minutes": [15.0], "extra_minutes": [0.0], "km": [12.0],
         "snap_class_b": [None], "source": ["test"]},
        schema_overrides={"snap_class_b": pl.String},
    )  # fmt: skip
    table = table.with_columns((pl.col("crossing_minutes") + pl.col("wait_minutes")).alias("minutes"))
    g2, rep = routing.add_ferries(g, table, min_component=2)
    assert rep["status"].to_list() == ["ok", "ok"] and rep["snap_m"].max() < 20
    res = routing.route_nodes(g2, np.array([0]), np.array([3]))
    road = g.edges.filter(pl.col("u") == 0)["minutes"][0] + g.edges.filter(pl.col("u") == 2)["minutes"][0]
    assert res["minutes"][0, 0] == pytest.approx(45.0 + road)
    assert res["ferry_minutes"][0, 0] == pytest.approx(45.0)
    assert res["km"][0, 0] == pytest.approx(12.0 + g.edges["length_m"][:2].sum() / 1000, rel=1e-3)
    assert np.isnan(routing.route_nodes(g, np.array([0]), np.array([3]))["minutes"][0, 0])

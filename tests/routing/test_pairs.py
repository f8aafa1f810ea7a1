"""routing.pair_times: any zone pairs, checked against an independent Dijkstra on a small real graph
(Sindal, OSM), both engines, within-zone time, cache, ids as given; and the municipality path against
the shipped matrix (whatever matrix is shipped at test time)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.sparse.csgraph import dijkstra
from typer.testing import CliRunner

from pendling import odmatrix, paths, routing, zones
from pendling.cli import app
from pendling.errors import InputError
from pendling.routing import pairs as pairs_mod
from pendling.routing.graph import adjacency


@pytest.fixture(scope="module")
def cells(sindal_raw) -> list[str]:
    """1 km cells under the Sindal graph (Hjørring municipality, 860)."""
    x, y = zones._xy(sindal_raw.nodes["lon"].to_numpy(), sindal_raw.nodes["lat"].to_numpy())
    ids = zones.cell_ids(x, y, 1000).value_counts().filter(pl.col("count") >= 20)["zone"].sort()
    t = zones.snap_zones(zones.zone_table(ids, "grid1km"), sindal_raw)
    ok = t.filter(pl.col("status") == "ok")["zone"].to_list()
    assert len(ok) >= 8
    return ok


@pytest.fixture(scope="module")
def pair_frame(cells) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    o = rng.choice(cells, 300)
    d = rng.choice(cells, 300)
    return pl.DataFrame({"origin": [*o, cells[0], "1km_6300_650"], "destination": [*d, cells[0], cells[1]]})


def reference(graph, frame: pl.DataFrame) -> np.ndarray:
    """Plain scipy Dijkstra on the uncontracted graph + the access legs at both ends (minutes)."""
    t = zones.snap_zones(zones.zone_table(pl.concat([frame["origin"], frame["destination"]]).unique(), "grid1km"), graph)
    node = dict(zip(t["zone"].to_list(), t["node"].to_list(), strict=True))
    snap = dict(zip(t["zone"].to_list(), t["snap_m"].to_list(), strict=True))
    o = np.asarray([node[z] for z in frame["origin"]])
    d = np.asarray([node[z] for z in frame["destination"]])
    a = adjacency(graph.edges, graph.n_nodes)
    a.data = np.maximum(a.data, 1e-9)
    dist = dijkstra(a, directed=True, indices=np.unique(o))
    road = dist[np.searchsorted(np.unique(o), o), d]
    access = (np.asarray([snap[z] for z in frame["origin"]]) + np.asarray([snap[z] for z in frame["destination"]])) / 1000.0
    return road + access / routing.load_profile().access_speed_kmh * 60.0


@pytest.mark.parametrize("engine", ["ch", "dijkstra"])
def test_pairs_match_independent_dijkstra(sindal_raw, pair_frame, engine):
    r = routing.pair_times(pair_frame, "grid1km", graph=sindal_raw, engine=engine, cache=False)
    assert r.height == pair_frame.height
    assert r["origin"].to_list() == pair_frame["origin"].to_list()  # one row per input row, ids as given
    assert r["destination"].to_list() == pair_frame["destination"].to_list()
    assert r["status"][-1] == "origin:not_on_land" and r["minutes"][-1] is None
    routed = r.with_row_index().filter(pl.col("status") == "ok")
    assert routed.height >= 250
    ref = reference(sindal_raw, pair_frame[routed["index"].to_numpy()])
    np.testing.assert_allclose(routed["minutes"].to_numpy(), ref, rtol=1e-9, atol=1e-9)
    assert (routed["km"] > 0).all() and (routed["ferry_minutes"] == 0).all()
    assert pairs_mod.last_summary().engine == engine


def test_engines_agree_on_km(sindal_raw, pair_frame):
    a = routing.pair_times(pair_frame, "grid1km", graph=sindal_raw, engine="ch", cache=False)
    b = routing.pair_times(pair_frame, "grid1km", graph=sindal_raw, engine="dijkstra", cache=False)
    ok = a["status"] == "ok"
    np.testing.assert_allclose(a.filter(ok)["km"].to_numpy(), b.filter(ok)["km"].to_numpy(), rtol=1e-9)


def test_within_cell_time(sindal_raw, cells):
    r = routing.pair_times(pl.DataFrame({"origin": [cells[0]], "destination": [cells[0]]}), "grid1km", graph=sindal_raw, cache=False)
    minutes, km = routing.internal_time(np.array([1.0]), routing.load_profile())  # 1 km² cell
    assert r["status"][0] == "same_zone"
    assert r["minutes"][0] == pytest.approx(minutes[0]) and r["minutes"][0] > 0
    assert r["km"][0] == pytest.approx(km[0]) and r["ferry_minutes"][0] == 0.0


def test_cache_is_reused(sindal_raw, pair_frame, tmp_path, monkeypatch):
    monkeypatch.setenv("PENDLING_CACHE_DIR", str(tmp_path))
    a = routing.pair_times(pair_frame, "grid1km", graph=sindal_raw, engine="ch")
    first = pairs_mod.last_summary()
    assert first.node_pairs_cached == 0 and first.node_pairs_routed > 0
    assert list((tmp_path / "pairs").glob("*/ch.parquet"))
    b = routing.pair_times(pair_frame, "grid1km", graph=sindal_raw, engine="ch")
    again = pairs_mod.last_summary()
    assert again.node_pairs_routed == 0 and again.node_pairs_cached == first.node_pairs_routed
    assert a.equals(b)


def test_invalid_ids(sindal_raw, cells):
    bad = pl.DataFrame({"origin": [cells[0], "1km_6170_72", "100m_61705_7203"], "destination": [cells[1], cells[1], cells[1]]})
    with pytest.raises(InputError, match="2 ids are not zones of 'grid1km'") as e:
        routing.pair_times(bad, "grid1km", graph=sindal_raw, cache=False)
    assert set(e.value.values) == {"1km_6170_72", "100m_61705_7203"}
    r = routing.pair_times(bad, "grid1km", graph=sindal_raw, cache=False, on_invalid="null")
    assert r["status"].to_list() == ["ok", "origin:invalid_id", "origin:invalid_id"]
    assert pairs_mod.last_summary().not_routable == 2
    with pytest.raises(InputError, match="lacks columns"):
        routing.pair_times(pl.DataFrame({"from": ["a"]}), "grid1km", graph=sindal_raw)
    with pytest.raises(InputError, match="missing origin"):
        routing.pair_times(pl.DataFrame({"origin": [None, "a"], "destination": ["a", "a"]}, schema={"origin": pl.Utf8, "destination": pl.Utf8}), "grid1km", graph=sindal_raw)


def test_cli_answers_a_pair_file(sindal_raw, pair_frame, tmp_path):
    gdir = routing.save_graph(sindal_raw, tmp_path / "graph")
    pf = tmp_path / "pairs.parquet"
    pair_frame.write_parquet(pf)
    out = tmp_path / "times.parquet"
    res = CliRunner().invoke(app, ["matrix", "pairs", "--zones", "grid1km", "--pairs", str(pf), "--out", str(out), "--graph", str(gdir), "--no-cache"])
    assert res.exit_code == 0, res.output
    assert "1 without a time" in res.output
    t = pl.read_parquet(out)
    assert t.columns == list(pairs_mod.PAIR_COLUMNS) and t.height == pair_frame.height
    direct = routing.pair_times(pair_frame, "grid1km", graph=routing.load_graph(gdir), cache=False)
    assert t.equals(direct)


def test_municipality_rows_are_the_shipped_matrix():
    """The municipality zone system through pair_times gives the shipped matrix's rows bit for bit
    (a few origins × all destinations keeps the test fast; the benchmark checks all 98 × 98)."""
    m = odmatrix.load_matrix()
    sub = m.filter(pl.col("origin").is_in([101, 147, 400, 820]))
    r = routing.pair_times(sub.select("origin", "destination"), graph=routing.load_graph(paths.roads_dir()), cache=False)
    assert r["origin"].dtype == sub["origin"].dtype
    for col in ("minutes", "km", "ferry_minutes"):
        assert (r[col] == sub[col]).all(), col
    assert pairs_mod.last_summary().engine == "dijkstra"


def test_points_route_like_the_cells_at_the_same_place(sindal_raw, cells, pair_frame, tmp_path):
    t = zones.zone_table(cells, "grid1km")
    pts = t.select(pl.col("zone").str.replace("1km", "p"), "x", "y")
    pts.write_csv(tmp_path / "points.csv")
    grid = pair_frame.head(50).filter(pl.col("origin") != pl.col("destination"))
    as_points = grid.select(pl.col("origin", "destination").str.replace("1km", "p"))
    a = routing.pair_times(grid, "grid1km", graph=sindal_raw, cache=False)
    b = routing.pair_times(as_points, "points", points=tmp_path / "points.csv", graph=sindal_raw, cache=False)
    assert b["origin"].to_list() == as_points["origin"].to_list()
    for col in ("minutes", "km", "ferry_minutes"):
        np.testing.assert_allclose(a[col].to_numpy(), b[col].to_numpy(), rtol=1e-12)
    with pytest.raises(InputError, match="not zones of 'points'"):
        routing.pair_times(pl.DataFrame({"origin": ["nowhere"], "destination": ["p_1"]}), "points", points=pts, graph=sindal_raw)


def test_a_municipality_subset_routes_like_the_full_matrix():
    m = odmatrix.load_matrix()
    sub = m.filter(pl.col("origin").is_in([101, 751]) & pl.col("destination").is_in([101, 751, 851]))
    frame = sub.select(pl.col("origin").cast(pl.Utf8).str.zfill(4), "destination")  # '0101': text ids as in DST files
    r = routing.pair_times(frame, graph=routing.load_graph(paths.roads_dir()), cache=False)
    assert r["origin"].to_list() == frame["origin"].to_list()
    for col in ("minutes", "km", "ferry_minutes"):
        assert (r[col] == sub[col]).all(), col

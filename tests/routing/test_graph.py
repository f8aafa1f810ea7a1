"""Road graphs from the real OSM fixtures: one-ways, motorways, components, contraction, storage."""

from __future__ import annotations

import networkx as nx
import numpy as np
import osmium
import polars as pl
import pytest

from pendling import io, routing
from pendling.errors import InputError
from pendling.routing.graph import assemble
from pendling.routing.osm import car_allowed, oneway_of


def _nx(graph: routing.RoadGraph, drop_class: str | None = None) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(range(graph.n_nodes))
    e = graph.edges if drop_class is None else graph.edges.filter(pl.col("highway") != drop_class)
    for u, v, w, hw in e.select("u", "v", "minutes", "highway").iter_rows():
        if not g.has_edge(u, v) or w < g[u][v]["weight"]:
            g.add_edge(u, v, weight=w, highway=hw)
    return g


def _node_at(graph: routing.RoadGraph, lon: float, lat: float) -> int:
    snapped = routing.snap_points(graph, pl.DataFrame({"code": [0], "lon": [lon], "lat": [lat]}))
    assert snapped["snap_m"][0] < 0.5  # the OSM node itself
    return int(snapped["node"][0])


def test_fixtures_build_car_networks(osm_dir):
    for name in ("sindal", "kalvebod_faelled", "roenne"):
        g = routing.build_graph(osm=osm_dir / f"{name}.osm", ferries=False)
        assert g.n_nodes > 20 and g.n_edges > 40
        classes = set(g.edges["highway"].unique())
        assert not classes & {"footway", "path", "cycleway", "track", "steps", "pedestrian"}
        assert g.info["reader"]["ways_excluded"] > 0
        assert g.info["contraction"]["nodes_after"] < g.info["contraction"]["nodes_before"]


def test_access_and_oneway_rules():
    assert car_allowed({"highway": "residential"})
    assert not car_allowed({"highway": "residential", "access": "private"})
    assert car_allowed({"highway": "residential", "access": "no", "motor_vehicle": "yes"})
    assert not car_allowed({"highway": "track"})
    assert not car_allowed({"highway": "service", "service": "parking_aisle"})
    assert oneway_of({"highway": "motorway"}) == 1
    assert oneway_of({"highway": "primary", "junction": "roundabout"}) == 1
    assert oneway_of({"highway": "residential", "oneway": "-1"}) == -1
    assert oneway_of({"highway": "motorway", "oneway": "no"}) == 0


def test_oneway_streets_are_respected(osm_dir, sindal_raw):
    """Every oneway=yes way read independently with pyosmium has u→v but never v→u in the graph."""
    checked = 0
    for w in osmium.FileProcessor(str(osm_dir / "sindal.osm")).with_locations():
        if not w.is_way() or w.tags.get("oneway") != "yes" or not car_allowed(dict(w.tags)):
            continue
        a, b = w.nodes[0], w.nodes[1]
        try:
            u = _node_at(sindal_raw, a.location.lon, a.location.lat)
            v = _node_at(sindal_raw, b.location.lon, b.location.lat)
        except AssertionError:
            continue  # that way lies outside the kept component
        e = sindal_raw.edges
        assert e.filter((pl.col("u") == u) & (pl.col("v") == v)).height == 1
        assert e.filter((pl.col("u") == v) & (pl.col("v") == u)).height == 0
        # going against the one-way takes a detour (or is impossible), never the direct edge
        back = routing.route_nodes(sindal_raw, np.array([v]), np.array([u]))["minutes"][0, 0]
        fwd = routing.route_nodes(sindal_raw, np.array([u]), np.array([v]))["minutes"][0, 0]
        assert np.isnan(back) or back > fwd
        checked += 1
    assert checked >= 3


def test_motorway_route_beats_the_residential_detour(kalvebod_all):
    g = kalvebod_all
    ramps = np.unique(g.edges.filter(pl.col("highway") == "motorway_link").select("u", "v").to_numpy().ravel())
    with_mw = routing.route_nodes(g, ramps, ramps)["minutes"]
    no_mw = routing.RoadGraph(g.nodes, g.edges.filter(pl.col("highway") != "motorway"), g.info)
    without = routing.route_nodes(no_mw, ramps, ramps)["minutes"]
    gain = without - with_mw
    assert np.nanmax(gain) > 0.3  # some ramp-to-ramp trip is clearly faster on the motorway
    i, j = np.unravel_index(np.nanargmax(gain), gain.shape)
    path = nx.shortest_path(_nx(g), int(ramps[i]), int(ramps[j]), weight="weight")
    used = {_nx(g)[a][b]["highway"] for a, b in zip(path[:-1], path[1:], strict=True)}
    assert "motorway" in used
    assert nx.shortest_path_length(_nx(g), int(ramps[i]), int(ramps[j]), weight="weight") == pytest.approx(with_mw[i, j])


@pytest.mark.parametrize("simplify", [False, True])
def test_graph_backend_equals_networkx_reference(osm_dir, roenne_raw, simplify):
    """scipy Dijkstra on the contracted CSR vs networkx on the full graph: the same minutes."""
    g = routing.build_graph(osm=osm_dir / "roenne.osm", ferries=False, simplify=simplify)
    rng = np.random.default_rng(3)
    pts = g.nodes[np.sort(rng.choice(g.n_nodes, 8, replace=False))]
    res = routing.route_nodes(g, pts["node"].to_numpy(), pts["node"].to_numpy())
    ref_g = _nx(roenne_raw)
    ref_nodes = [_node_at(roenne_raw, lo, la) for lo, la in pts.select("lon", "lat").iter_rows()]
    lengths = {a: nx.single_source_dijkstra_path_length(ref_g, a, weight="weight") for a in ref_nodes}
    ref = np.array([[lengths[a][b] for b in ref_nodes] for a in ref_nodes])
    np.testing.assert_allclose(res["minutes"], ref, rtol=1e-5, atol=1e-6)


def test_unreachable_pairs_are_reported_not_zero(kalvebod_all):
    g = kalvebod_all
    kept, report = routing.keep_largest_component(g)
    assert report.height == kept.info["dropped_components"]["components"] > 0
    assert report["nodes"].sum() + kept.n_nodes == g.n_nodes
    lost = g.nodes.join(kept.nodes.select("lon", "lat", pl.lit(True).alias("k")), on=["lon", "lat"], how="left").filter(pl.col("k").is_null())
    big = kept.nodes[0]
    pts = pl.DataFrame(
        {"code": [1, 2], "lon": [big["lon"][0], lost["lon"][0]], "lat": [big["lat"][0], lost["lat"][0]], "area_km2": [1.0, 1.0]}
    )
    m = routing.travel_time_matrix(g, pts)
    off = m.filter(pl.col("origin") != pl.col("destination"))
    assert off["minutes"].null_count() >= 1  # null, never 0
    assert (off["minutes"].drop_nulls() > 0).all()
    with pytest.raises(InputError, match="unreachable"):
        routing.build_matrix(g, points=pts, out_dir="/nonexistent-never-written")


def test_km_is_the_length_of_the_fastest_route_not_the_shortest():
    """A 10 km residential road vs a 12 km motorway detour: the fast route is 12 km, not 10."""
    prof = routing.load_profile()
    nodes = pl.DataFrame({"key": [1, 2, 3], "lon": [10.0, 10.0, 10.05], "lat": [56.0, 56.09, 56.045]})
    seg = pl.DataFrame(
        {"u": [1, 1, 3], "v": [2, 3, 2], "highway": ["residential", "motorway", "motorway"], "oneway": [0, 0, 0], "maxspeed": [None, None, None]},
        schema_overrides={"oneway": pl.Int8, "maxspeed": pl.String},
    )
    g = assemble(seg, nodes, prof)
    res = routing.route_nodes(g, np.array([0]), np.array([1]))
    direct = g.edges.filter((pl.col("u") == 0) & (pl.col("v") == 1))["length_m"][0] / 1000
    via = g.edges.filter(pl.col("highway") == "motorway")["length_m"].sum() / 2 / 1000
    assert via > direct
    assert res["km"][0, 0] == pytest.approx(via)
    assert res["minutes"][0, 0] == pytest.approx(via / prof.speeds_kmh["motorway"] * 60)


def test_saved_graph_is_compact_deterministic_and_routes_identically(tmp_path, osm_dir):
    g = routing.build_graph(osm=osm_dir / "sindal.osm", ferries=False)
    routing.save_graph(g, tmp_path / "a")
    routing.save_graph(routing.build_graph(osm=osm_dir / "sindal.osm", ferries=False), tmp_path / "b")
    for f in ("nodes.parquet", "edges.parquet"):
        assert io.sha256_file(tmp_path / "a" / f) == io.sha256_file(tmp_path / "b" / f)
    back = routing.load_graph(tmp_path / "a")
    assert pl.read_parquet(tmp_path / "a" / "nodes.parquet").schema["lon"] == pl.Float32
    nodes = g.nodes["node"].to_numpy()[:: max(1, g.n_nodes // 10)]
    np.testing.assert_array_equal(routing.route_nodes(g, nodes, nodes)["minutes"], routing.route_nodes(back, nodes, nodes)["minutes"])
    with pytest.raises(InputError, match="road graph file missing"):
        routing.load_graph(tmp_path / "nothing")


def test_bad_osm_input_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        routing.build_graph(osm=tmp_path / "missing.osm")
    empty = tmp_path / "empty.osm"
    empty.write_text('<?xml version="1.0"?><osm version="0.6"><node id="1" lat="56" lon="10"/></osm>')
    with pytest.raises(InputError, match="no drivable roads"):
        routing.build_graph(osm=empty)
    with pytest.raises(InputError, match="exactly one"):
        routing.build_graph()

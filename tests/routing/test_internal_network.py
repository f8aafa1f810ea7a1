"""`internal='network'`: within-municipality time from sampled trips on the road graph.

Two fake "municipalities" (the west and east halves of the Sindal OSM extract) on the small
contracted graph; expected values are computed independently with networkx and shapely.
"""

from __future__ import annotations

import json
import math

import geopandas as gpd
import networkx as nx
import numpy as np
import polars as pl
import pytest
import shapely
from typer.testing import CliRunner

from pendling import routing
from pendling.cli import app
from pendling.errors import InputError
from pendling.routing.internal import (
    WEIGHT_CLASSES,
    collapsed_strata_se,
    network_internal_time,
    sample_nodes,
    settings,
)

K, M = 4, 6  # small samples: the networkx check below stays quick


@pytest.fixture(scope="module")
def sindal(osm_dir) -> routing.RoadGraph:
    """The Sindal extract as the national graph is built: largest component, degree-2 contracted."""
    return routing.build_graph(osm=osm_dir / "sindal.osm", ferries=False)


@pytest.fixture(scope="module")
def halves(sindal) -> gpd.GeoDataFrame:
    """Two fake municipalities, codes 1 (west) and 2 (east), split at the median node longitude."""
    lon, lat = sindal.nodes["lon"].to_numpy(), sindal.nodes["lat"].to_numpy()
    mid = float(np.median(lon))
    w, s, e, n = lon.min() - 0.01, lat.min() - 0.01, lon.max() + 0.01, lat.max() + 0.01
    return gpd.GeoDataFrame({"code": [2, 1]}, geometry=[shapely.box(mid, s, e, n), shapely.box(w, s, mid, n)], crs="EPSG:4326")


def _points(halves: gpd.GeoDataFrame, codes=(1, 2)) -> pl.DataFrame:
    """A point inside each half (west, east), labelled with ``codes`` (WGS84 degrees)."""
    p = halves.sort_values("code").geometry.representative_point()
    return pl.DataFrame({"code": list(codes), "lon": p.x.tolist(), "lat": p.y.tolist()})


def _weights_by_hand(graph: routing.RoadGraph) -> dict[int, float]:
    """Half the length (m) of each incident local street, each undirected street once."""
    seen: dict[tuple[int, int], float] = {}
    for u, v, length, hw in graph.edges.select("u", "v", "length_m", "highway").iter_rows():
        if hw in WEIGHT_CLASSES and u != v:
            seen.setdefault((min(u, v), max(u, v)), length)
    w: dict[int, float] = {}
    for (a, b), length in seen.items():
        w[a] = w.get(a, 0.0) + length / 2
        w[b] = w.get(b, 0.0) + length / 2
    return w


def _nx_graph(graph: routing.RoadGraph) -> nx.DiGraph:
    """Fastest parallel edge per (u, v), with its length."""
    g = nx.DiGraph()
    for u, v, minutes, length in graph.edges.select("u", "v", "minutes", "length_m").iter_rows():
        if u != v and (not g.has_edge(u, v) or minutes < g[u][v]["minutes"]):
            g.add_edge(u, v, minutes=minutes, length=length)
    return g


def test_same_result_twice(sindal, halves):
    a = network_internal_time(sindal, halves, sources=K, destinations=M)
    b = network_internal_time(sindal, halves.iloc[::-1], sources=K, destinations=M, workers=1)
    assert a.equals(b)  # input order and thread count do not matter
    assert a["code"].to_list() == [1, 2]
    s1, _ = sample_nodes(sindal, halves, sources=K, destinations=M)
    s2, _ = sample_nodes(sindal, halves, sources=K, destinations=M)
    assert s1.equals(s2)


def test_equals_a_networkx_mean_over_the_sampled_pairs(sindal, halves):
    samples, _ = sample_nodes(sindal, halves, sources=K, destinations=M)
    got = network_internal_time(sindal, halves, sources=K, destinations=M)
    g = _nx_graph(sindal)
    for code in (1, 2):
        src = samples.filter(code=code, role="source")["node"].to_list()
        dst = samples.filter(code=code, role="destination")["node"].to_list()
        assert len(src) == K and len(dst) == M
        minutes, km = [], []
        for s in src:
            dist, path = nx.single_source_dijkstra(g, s, weight="minutes")
            for d in dst:
                minutes.append(dist[d])
                km.append(sum(g[a][b]["length"] for a, b in zip(path[d][:-1], path[d][1:])) / 1000.0)
        row = got.filter(code=code)
        assert row["minutes"][0] == pytest.approx(np.mean(minutes), rel=1e-9)
        assert row["km"][0] == pytest.approx(np.mean(km), rel=1e-6)


@pytest.mark.parametrize("late_share", [0.0, 1.0])
def test_pairs_missed_by_the_cutoff_are_finished_exactly(sindal, halves, monkeypatch, late_share):
    from pendling.routing import internal

    exact = network_internal_time(sindal, halves, sources=K, destinations=M)
    # A cutoff of ~0.1 min misses nearly every pair; late_share 0 finishes them all by searching
    # the sources again, 1 by searching backwards from the destinations.
    monkeypatch.setattr(internal, "LIMIT_MINUTES_PER_KM", 0.0)
    monkeypatch.setattr(internal, "LIMIT_SLACK_MINUTES", 0.1)
    monkeypatch.setattr(internal, "LATE_SHARE", late_share)
    got = network_internal_time(sindal, halves, sources=K, destinations=M)
    assert np.allclose(got.select("minutes", "km").to_numpy(), exact.select("minutes", "km").to_numpy(), rtol=1e-9)


def test_samples_are_weighted_local_street_nodes_inside_their_area(sindal, halves):
    samples, summary = sample_nodes(sindal, halves, sources=K, destinations=2000)
    w = _weights_by_hand(sindal)
    lon, lat = sindal.nodes["lon"].to_numpy(), sindal.nodes["lat"].to_numpy()
    poly = dict(zip(halves["code"], halves.geometry, strict=True))
    for code, node in samples.select("code", "node").unique().iter_rows():
        assert w.get(node, 0.0) > 0
        assert poly[code].contains(shapely.Point(lon[node], lat[node]))
    # Stratified draws: a node holding share p of its area's weight is drawn n·p times, ± 1.
    for code in (1, 2):
        inside = [i for i in w if poly[code].contains(shapely.Point(lon[i], lat[i]))]
        total = sum(w[i] for i in inside)
        counts = samples.filter(code=code, role="destination")["node"].value_counts()
        drawn = dict(zip(counts["node"].to_list(), counts["count"].to_list(), strict=True))
        for i in inside:
            expected = 2000 * w[i] / total
            assert math.floor(expected) - 1 <= drawn.get(i, 0) <= math.ceil(expected) + 1
        assert summary.filter(code=code)["road_km"][0] == pytest.approx(total / 1000.0)


def test_positive_finite_and_access_legs_added_in_the_matrix(sindal, halves):
    net = network_internal_time(sindal, halves, sources=K, destinations=M)
    assert (net["minutes"] > 0).all() and (net["km"] > 0).all()
    assert np.isfinite(net.select("minutes", "km", "se_minutes").to_numpy()).all()
    pts = _points(halves)
    prof = routing.load_profile()
    m = routing.travel_time_matrix(sindal, pts, internal="network", areas=halves, internal_sources=K, profile=prof)
    diag = m.filter(pl.col("origin") == pl.col("destination")).sort("origin")
    full = network_internal_time(sindal, halves, sources=K)
    access = 2 * diag["snap_m_origin"].to_numpy() / 1000.0
    assert np.allclose(diag["minutes"].to_numpy(), full["minutes"].to_numpy() + access / prof.access_speed_kmh * 60)
    assert np.allclose(diag["km"].to_numpy(), full["km"].to_numpy() + access)
    assert (diag["minutes"] > 0).all()


def test_collapsed_strata_standard_error():
    assert collapsed_strata_se(np.array([1.0, 3.0, 2.0, 6.0])) == pytest.approx(math.sqrt(4 + 16) / 4)
    assert math.isnan(collapsed_strata_se(np.array([5.0])))


def test_bad_areas_are_input_errors(sindal, halves):
    far = gpd.GeoDataFrame({"code": [9]}, geometry=[shapely.box(12.0, 55.0, 12.1, 55.1)], crs="EPSG:4326")
    with pytest.raises(InputError, match="no road node"):
        network_internal_time(sindal, far)
    with pytest.raises(InputError, match="duplicate codes"):
        network_internal_time(sindal, gpd.GeoDataFrame(pd_concat(halves, halves), crs="EPSG:4326"))
    pts = _points(halves, codes=(1, 3))
    with pytest.raises(InputError, match="without an area polygon"):
        routing.travel_time_matrix(sindal, pts, internal="network", areas=halves)


def pd_concat(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    import pandas as pd

    return pd.concat([a, b], ignore_index=True)


def test_cli_builds_with_internal_network(tmp_path, sindal, halves):
    graph_dir = routing.save_graph(sindal, tmp_path / "roads")
    pts = tmp_path / "pts.csv"
    _points(halves).write_csv(pts)
    areas = tmp_path / "areas.geojson"
    halves.to_file(areas, driver="GeoJSON")
    args = ["matrix", "build", "--graph", str(graph_dir), "--points", str(pts), "--internal", "network",
            "--areas", str(areas), "--internal-sources", str(K), "--out", str(tmp_path / "m")]  # fmt: skip
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    m = pl.read_parquet(tmp_path / "m" / "od_matrix.parquet")
    assert m.height == 4 and (m["minutes"] > 0).all()
    prov = json.loads((tmp_path / "m" / "provenance.json").read_text())
    assert prov["internal"]["mode"] == "network" and prov["internal"]["sources_k"] == K
    assert prov["internal"]["weight_classes"] == list(WEIGHT_CLASSES)
    assert {k: prov["internal"][k] for k in settings(K)} == json.loads(json.dumps(settings(K)))
    first = (tmp_path / "m" / "od_matrix.parquet").read_bytes()
    assert CliRunner().invoke(app, args).exit_code == 0
    assert (tmp_path / "m" / "od_matrix.parquet").read_bytes() == first  # deterministic
    bad = CliRunner().invoke(app, ["matrix", "build", "--graph", str(graph_dir), "--points", str(pts), "--internal", "nope"])
    assert bad.exit_code == 2 and "network" in bad.output

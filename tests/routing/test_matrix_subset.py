"""`travel_time_matrix(origins=, destinations=)`: a sub-block of the matrix, routed only from the
requested origins, equal to the same cells of the full matrix."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import polars as pl
import pytest
import shapely
from polars.testing import assert_frame_equal
from pyproj import Transformer

from pendling import routing
from pendling.errors import InputError
from pendling.routing import matrix as matrix_mod

# Made-up municipality-like codes: Int16 and not in the order of the rows, as in the real point set.
CODES = [851, 101, 751, 147, 461, 561, 400, 810, 621, 157, 330, 787]


@pytest.fixture(scope="module")
def sindal(osm_dir) -> routing.RoadGraph:
    """Sindal built as the national graph is: largest component, degree-2 chains contracted."""
    return routing.build_graph(osm=osm_dir / "sindal.osm", ferries=False)


@pytest.fixture(scope="module")
def points(sindal: routing.RoadGraph) -> pl.DataFrame:
    """12 points a few hundred metres off random road nodes (so access legs are not zero)."""
    rng = np.random.default_rng(7)
    idx = rng.choice(sindal.n_nodes, len(CODES), replace=False)
    nodes = sindal.nodes[idx]
    return pl.DataFrame(
        {
            "code": pl.Series(CODES, dtype=pl.Int16),
            "lon": nodes["lon"].to_numpy() + rng.uniform(-0.003, 0.003, len(CODES)),
            "lat": nodes["lat"].to_numpy() + rng.uniform(-0.002, 0.002, len(CODES)),
            "area_km2": rng.uniform(20.0, 300.0, len(CODES)),
        }
    )


@pytest.fixture(scope="module")
def full(sindal: routing.RoadGraph, points: pl.DataFrame) -> pl.DataFrame:
    return routing.travel_time_matrix(sindal, points)


def _block(full: pl.DataFrame, origins, destinations) -> pl.DataFrame:
    return full.filter(pl.col("origin").is_in(list(origins)) & pl.col("destination").is_in(list(destinations)))


@pytest.mark.parametrize(
    ("origins", "destinations"),
    [
        ([101, 751], None),  # two rows
        (None, [851]),  # one column
        ([461, 147, 810], [147, 400, 621, 810]),  # overlapping: two diagonal cells
        ([330], [330]),  # the diagonal alone
        ([157, 101], [561, 787]),  # no diagonal cell at all
    ],
)
def test_sub_block_equals_the_full_matrix(sindal, points, full, origins, destinations) -> None:
    sub = routing.travel_time_matrix(sindal, points, origins=origins, destinations=destinations)
    expect = _block(full, origins or CODES, destinations or CODES)
    assert sub.height == len(origins or CODES) * len(destinations or CODES)
    assert_frame_equal(sub, expect, check_exact=True)
    assert sub.select("origin", "destination").equals(sub.select("origin", "destination").sort("origin", "destination"))


def test_none_is_every_point(sindal, points, full) -> None:
    assert_frame_equal(routing.travel_time_matrix(sindal, points, origins=None, destinations=None), full, check_exact=True)
    assert_frame_equal(routing.travel_time_matrix(sindal, points, origins=CODES, destinations=CODES[::-1]), full, check_exact=True)


def test_order_repeats_and_text_codes_do_not_matter(sindal, points, full) -> None:
    a = routing.travel_time_matrix(sindal, points, origins=[751, 101, 751], destinations=np.array([400, 147], dtype=np.int16))
    b = routing.travel_time_matrix(sindal, points, origins=pl.Series([101, 751]), destinations=("0147", "0400"))
    assert_frame_equal(a, b, check_exact=True)
    assert_frame_equal(a, _block(full, [101, 751], [147, 400]), check_exact=True)


def test_routes_only_from_the_requested_origins(sindal, points, monkeypatch) -> None:
    calls: list[int] = []
    real = matrix_mod.dijkstra

    def counting(*args, **kwargs):
        calls.append(len(np.atleast_1d(kwargs["indices"])))
        return real(*args, **kwargs)

    monkeypatch.setattr(matrix_mod, "dijkstra", counting)
    routing.travel_time_matrix(sindal, points, origins=[101, 461], destinations=None)
    routing.travel_time_matrix(sindal, points)
    assert calls == [2, len(CODES)]


def test_minutes_match_networkx_and_access_legs_by_hand(sindal, points) -> None:
    """Independent of the engine: brute-force nearest node in UTM metres, networkx Dijkstra, and
    the access legs timed at the profile's access speed (km/h) at both ends."""
    prof = routing.load_profile()
    utm = Transformer.from_crs("EPSG:4326", "EPSG:25832", always_xy=True)
    nx_, ny_ = utm.transform(sindal.nodes["lon"].to_numpy(), sindal.nodes["lat"].to_numpy())
    px, py = utm.transform(points["lon"].to_numpy(), points["lat"].to_numpy())
    d = np.hypot(px[:, None] - nx_[None, :], py[:, None] - ny_[None, :])
    node, snap_m = d.argmin(axis=1), d.min(axis=1)
    g = nx.DiGraph()
    for u, v, w in sindal.edges.select("u", "v", "minutes").iter_rows():
        if not g.has_edge(u, v) or w < g[u][v]["weight"]:
            g.add_edge(u, v, weight=w)
    code_row = {c: i for i, c in enumerate(points["code"].to_list())}
    origins, destinations = [810, 330], [101, 851, 787]
    sub = routing.travel_time_matrix(sindal, points, origins=origins, destinations=destinations)
    for o, dst, minutes, km, snap_o in sub.select("origin", "destination", "minutes", "km", "snap_m_origin").iter_rows():
        i, j = code_row[o], code_row[dst]
        road = nx.dijkstra_path_length(g, int(node[i]), int(node[j]), weight="weight")
        access = (snap_m[i] + snap_m[j]) / 1000.0 / prof.access_speed_kmh * 60.0
        assert minutes == pytest.approx(road + access, rel=1e-6)
        assert snap_o == pytest.approx(snap_m[i], abs=0.01)
        assert km > (snap_m[i] + snap_m[j]) / 1000.0


def test_network_internal_time_on_the_sub_block(sindal) -> None:
    """internal='network' is sampled per municipality (seeded by code): the subset gives the same diagonal."""
    lon, lat = sindal.nodes["lon"].to_numpy(), sindal.nodes["lat"].to_numpy()
    mid = float(np.median(lon))
    w, s, e, n = lon.min() - 0.01, lat.min() - 0.01, lon.max() + 0.01, lat.max() + 0.01
    halves = gpd.GeoDataFrame({"code": [2, 1]}, geometry=[shapely.box(mid, s, e, n), shapely.box(w, s, mid, n)], crs="EPSG:4326")
    p = halves.sort_values("code").geometry.representative_point()
    pts = pl.DataFrame({"code": [1, 2], "lon": p.x.tolist(), "lat": p.y.tolist()})
    kw = {"internal": "network", "areas": halves, "internal_sources": 4}
    full = routing.travel_time_matrix(sindal, pts, **kw)
    sub = routing.travel_time_matrix(sindal, pts, origins=[2], destinations=[1, 2], **kw)
    assert_frame_equal(sub, full.filter(pl.col("origin") == 2), check_exact=True)
    # a polygon is needed only for the diagonal cells asked for
    only_west = halves[halves["code"] == 1]
    off = routing.travel_time_matrix(sindal, pts, origins=[1], destinations=[2], **(kw | {"areas": only_west}))
    assert_frame_equal(off, full.filter((pl.col("origin") == 1) & (pl.col("destination") == 2)), check_exact=True)


def test_unknown_and_malformed_codes_are_input_errors(sindal, points) -> None:
    with pytest.raises(InputError, match="2 of the requested origins are not among") as info:
        routing.travel_time_matrix(sindal, points, origins=[101, 999, 102, 999])
    assert info.value.values == ["102", "999"] and info.value.column == "code"
    with pytest.raises(InputError, match="destinations are not among") as info:
        routing.travel_time_matrix(sindal, points, destinations=["København"])
    assert info.value.values == ["København"]
    with pytest.raises(InputError, match="not a single value"):
        routing.travel_time_matrix(sindal, points, origins=101)
    with pytest.raises(InputError, match="origins is empty"):
        routing.travel_time_matrix(sindal, points, origins=[])

"""Within-municipality (diagonal) travel time measured on the road network (``internal='network'``).

Why: the area formula (:func:`pendling.routing.matrix.internal_time`) spreads people uniformly over a
disc of the municipality's area. People cluster in towns along the roads, so in large rural
municipalities the formula gives internal trips longer than the drive to the neighbouring
municipality. This module measures the internal trip on the same graph as the off-diagonal cells.

Method
------
1. *Where people are.* Each node of the kept road graph gets a weight: half the length (metres) of
   every incident road of a local-street class (``WEIGHT_CLASSES``: OpenMapTiles ``minor`` =
   OSM residential + unclassified + living_street, and those OSM classes themselves), each
   two-way road counted once. This is a stated proxy: homes and workplaces sit along local
   streets, so street length approximates settlement density. Motorways, main roads and
   ``service`` roads (parking aisles, farm tracks) carry no weight.
2. *Which municipality.* A node belongs to the municipality whose polygon contains it (EPSG:25832;
   nodes outside every polygon, e.g. on bridges or where the 1:500 000 coastline is generalised,
   are counted in ``outside_road_km`` and not sampled).
3. *Sampling.* The municipality's weighted nodes are put in Z-order (Morton key of their
   EPSG:25832 coordinates over the municipality's bounding box, ties by node id), so that the
   cumulative weight runs through space. K sources are drawn by stratified inverse-CDF sampling:
   draw i takes the node where the cumulative weight share reaches (i + U_i)/K, U_i uniform from
   ``numpy.random.default_rng(code)``; then M destinations the same way from the same generator.
   Each draw has probability ∝ weight, so the mean below is unbiased; the strata spread the draws
   over the municipality, which cuts the sampling noise from rare far-off places (an island, the
   far end of a long municipality) several-fold compared with independent draws.
4. *Routing.* ``scipy.sparse.csgraph.dijkstra`` from each source on the minutes graph (parallel
   edges: fastest) with a ``limit`` of 1.3 min per straight-line km to its farthest destination
   + 5 min. Pairs missed by the cutoff are finished exactly (see :func:`_routes`): a source that
   missed many destinations is searched again with a growing cutoff, the other missed
   destinations are searched backwards on the transposed graph. The result equals unlimited
   Dijkstra.
5. *Result.* minutes = mean over the K × M (source, destination) pairs (a node paired with itself
   counts 0 minutes, as two draws at the same junction would); km = mean road length of those
   fastest routes (not of the shortest ones); ferry_minutes likewise. ``se_minutes`` estimates the
   standard error from the K source means by collapsed strata (neighbouring strata paired:
   sqrt(Σ (y_2h − y_2h+1)²) / K), which is conservative for stratified draws.

Values here are node-to-node. :func:`pendling.routing.matrix.travel_time_matrix` adds the access
legs exactly as for the off-diagonal cells (the municipality point's snap distance at the access
speed, at both ends), so diagonal and off-diagonal cells carry the same fixed overhead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from scipy.sparse.csgraph import dijkstra

from pendling._extras import optional
from pendling.errors import InputError
from pendling.routing.ferries import _project
from pendling.routing.graph import Contracted, RoadGraph, min_parallel

if TYPE_CHECKING:
    import geopandas as gpd

WEIGHT_CLASSES: tuple[str, ...] = ("minor", "residential", "living_street", "unclassified")
DEFAULT_SOURCES = 32
DEFAULT_DESTINATIONS = 256
METRIC_CRS = "EPSG:25832"
# First Dijkstra cutoff per source, in minutes: 1.3 per straight-line km to its farthest destination
# (a 1.3 detour at 60 km/h) + 5. A tight cutoff keeps each search small (search cost grows with
# the square of the cutoff); the few pairs it misses are finished exactly in `_routes`.
LIMIT_MINUTES_PER_KM = 1.3
LIMIT_SLACK_MINUTES = 5.0
LIMIT_GROWTH = 1.5
LATE_SHARE = 0.125  # a source missing more than this share of destinations is searched again forwards

Progress = Callable[[int, int], None]


def settings(
    sources: int = DEFAULT_SOURCES, destinations: int = DEFAULT_DESTINATIONS, classes: tuple[str, ...] = WEIGHT_CLASSES
) -> dict:
    """The method and its parameters, as recorded in ``provenance.json`` (``internal``)."""
    return {
        "mode": "network",
        "method": "mean car time (minutes) and road km of the fastest routes over K x M (source, destination) pairs of "
        "road-graph nodes inside the municipality polygon (EPSG:25832), each node drawn with probability proportional "
        "to its weight",
        "weights": "half the length (m) of each incident road of the weight classes, two-way roads counted once "
        "(proxy: homes and workplaces lie along local streets)",
        "weight_classes": list(classes),
        "sources_k": sources,
        "destinations_m": destinations,
        "sampling": "stratified inverse CDF over the weighted nodes in Z-order (Morton key, 16 bits per axis over the "
        "municipality's EPSG:25832 bounding box, ties by node id): draw i at cumulative share (i + U_i)/n",
        "seed": "numpy.random.default_rng(code): K source uniforms, then M destination uniforms",
        "dijkstra_limit": f"per source {LIMIT_MINUTES_PER_KM:g} min x straight-line km to its farthest destination "
        f"+ {LIMIT_SLACK_MINUTES:g} min; missed pairs finished exactly (source searched again with the cutoff x{LIMIT_GROWTH:g} "
        "until reached, or destination searched backwards on the transposed graph)",
        "access_legs": "the municipality point's snap distance at the access speed, added at both ends "
        "(as for off-diagonal cells); km likewise",
    }


def check_areas(areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Validate municipality polygons: a ``code`` column (unique integers), a CRS, non-empty
    geometries. Returns them in EPSG:25832 (metres), sorted by code, codes as Int16-range ints."""
    if "code" not in areas.columns:
        raise InputError("area polygons lack a code column", column="code", values=list(areas.columns),
                         hint="give one polygon per municipality with its code")  # fmt: skip
    if areas.crs is None:
        raise InputError("area polygons have no coordinate reference system", hint="set a CRS, e.g. EPSG:4326")
    if len(areas) == 0:
        raise InputError("no area polygons given", hint="give one polygon per municipality")
    codes = areas["code"]
    dup = codes[codes.duplicated()].unique().tolist()
    if dup:
        raise InputError("duplicate codes among the area polygons", column="code", values=dup)
    bad = areas.loc[areas.geometry.isna() | areas.geometry.is_empty, "code"].tolist()
    if bad:
        raise InputError("area polygons with empty geometry", column="geometry", values=bad)
    try:
        code16 = pl.Series("code", codes.to_numpy()).cast(pl.Int16, strict=True)
    except pl.exceptions.PolarsError:
        raise InputError("area codes must be integers (3-digit municipality codes)", column="code",
                         values=codes.tolist()) from None  # fmt: skip
    out = areas.assign(code=code16.to_numpy()).to_crs(METRIC_CRS).sort_values("code", kind="stable")
    return out.reset_index(drop=True)


def node_xy(graph: RoadGraph) -> np.ndarray:
    """Node coordinates in EPSG:25832 metres (n × 2)."""
    return _project(graph.nodes["lon"].to_numpy(), graph.nodes["lat"].to_numpy())


def node_areas(graph: RoadGraph, areas: gpd.GeoDataFrame, xy: np.ndarray | None = None) -> np.ndarray:
    """Code of the polygon containing each graph node (int64, -1 outside every polygon)."""
    shapely = optional("shapely", "routing")

    a = check_areas(areas)
    pts = shapely.points(node_xy(graph) if xy is None else xy)
    node_i, area_i = shapely.STRtree(a.geometry.values).query(pts, predicate="within")
    code = np.full(graph.n_nodes, -1, dtype=np.int64)
    # Overlapping polygons would make membership ambiguous; the lowest code wins, deterministically.
    order = np.lexsort((a["code"].to_numpy()[area_i], node_i))[::-1]
    code[node_i[order]] = a["code"].to_numpy()[area_i[order]]
    return code


def node_weights(graph: RoadGraph, classes: tuple[str, ...] = WEIGHT_CLASSES) -> np.ndarray:
    """Weight per node in metres: half the length of each incident road of ``classes``, each
    undirected road once (a two-way road is two directed edges but one street)."""
    e = graph.edges.filter(pl.col("highway").is_in(list(classes)) & (pl.col("u") != pl.col("v")))
    und = e.with_columns(pl.min_horizontal("u", "v").alias("a"), pl.max_horizontal("u", "v").alias("b")).unique(
        ["a", "b"], keep="first", maintain_order=True
    )
    half = und["length_m"].to_numpy() / 2.0
    w = np.bincount(und["a"].to_numpy(), weights=half, minlength=graph.n_nodes)
    w += np.bincount(und["b"].to_numpy(), weights=half, minlength=graph.n_nodes)
    return w


def z_order(xy: np.ndarray, bits: int = 16) -> np.ndarray:
    """Morton (Z-order) key of points (n × 2, metres), ``bits`` per axis over their bounding box:
    points close in space mostly get close keys, so strata of the key order are compact areas."""
    q = xy - xy.min(axis=0)
    scale = (2**bits - 1) / max(float(q.max()), 1.0)
    q = np.floor(q * scale).astype(np.uint64)
    key = np.zeros(len(xy), dtype=np.uint64)
    for bit in range(bits):  # interleave x and y bits: 16 vectorised passes
        key |= ((q[:, 0] >> np.uint64(bit)) & np.uint64(1)) << np.uint64(2 * bit)
        key |= ((q[:, 1] >> np.uint64(bit)) & np.uint64(1)) << np.uint64(2 * bit + 1)
    return key


def sample_nodes(
    graph: RoadGraph,
    areas: gpd.GeoDataFrame,
    *,
    sources: int = DEFAULT_SOURCES,
    destinations: int = DEFAULT_DESTINATIONS,
    classes: tuple[str, ...] = WEIGHT_CLASSES,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Draw the sampled nodes per municipality (method steps 1–3 in the module docstring).

    Returns ``(samples, areas_summary)``: samples has ``code`` Int16, ``role`` ('source' |
    'destination'), ``draw`` Int32 (0..K-1 or 0..M-1), ``node`` Int32, ``weight_m`` Float64;
    the summary has per code ``nodes`` (weighted nodes inside), ``road_km`` (km of weight-class
    road at those nodes) and, as a constant column, ``outside_road_km`` (weight-class km at nodes
    outside every polygon). InputError if a polygon holds no weighted node.
    """
    if sources < 1 or destinations < 1:
        raise InputError("need at least one source and one destination per municipality",
                         values=[sources, destinations])  # fmt: skip
    a = check_areas(areas)
    xy = node_xy(graph)
    code = node_areas(graph, a, xy)
    w = node_weights(graph, classes)
    live = np.flatnonzero((code >= 0) & (w > 0))
    order = live[np.lexsort((live, code[live]))]  # by code, then node id
    codes = a["code"].to_numpy().astype(np.int64)
    lo = np.searchsorted(code[order], codes, side="left")
    hi = np.searchsorted(code[order], codes, side="right")
    empty = codes[hi == lo]
    if len(empty):
        raise InputError(
            "no road node of a local-street class lies inside these area polygons",
            column="code",
            values=empty.tolist(),
            hint=f"check that the polygons overlap the road graph (classes {', '.join(classes)}), or use --internal area",
        )
    parts = []
    for c, i, j in zip(codes, lo, hi, strict=True):  # one draw per municipality: ~100, not rows of data
        nodes = order[i:j]
        nodes = nodes[np.lexsort((nodes, z_order(xy[nodes])))]
        cdf = np.cumsum(w[nodes])
        rng = np.random.default_rng(int(c))
        for role, k in (("source", sources), ("destination", destinations)):
            share = (np.arange(k) + rng.random(k)) / k
            pick = np.minimum(np.searchsorted(cdf, share * cdf[-1], side="right"), len(nodes) - 1)
            parts.append(pl.DataFrame({"code": np.full(k, c, dtype=np.int16), "role": [role] * k,
                                       "draw": np.arange(k, dtype=np.int32), "node": nodes[pick].astype(np.int32),
                                       "weight_m": w[nodes[pick]]}))  # fmt: skip
    samples = pl.concat(parts)
    summary = pl.DataFrame(
        {
            "code": codes.astype(np.int16),
            "nodes": (hi - lo).astype(np.int64),
            "road_km": np.bincount(np.searchsorted(codes, code[live]), weights=w[live], minlength=len(codes)) / 1000.0,
        }
    ).with_columns(pl.lit(float(w[code < 0].sum()) / 1000.0).alias("outside_road_km"))
    return samples, summary


def routing_graph(graph: RoadGraph) -> Contracted:
    """The graph as edge arrays for Dijkstra (fastest of parallel edges; no contraction, so node ids
    stay those of ``graph``)."""
    e = min_parallel(graph.edges)
    u, v = e["u"].to_numpy().astype(np.int64), e["v"].to_numpy().astype(np.int64)
    return Contracted(
        u=u,
        v=v,
        minutes=e["minutes"].to_numpy(),
        metres=e["length_m"].to_numpy(),
        ferry_minutes=np.where(e["ferry"].is_not_null().to_numpy(), e["minutes"].to_numpy(), 0.0),
        original=np.arange(graph.n_nodes),
        _keys=u * graph.n_nodes + v,  # built here, not lazily inside the worker threads
    )


def _search(csr, node: int, targets: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Dijkstra from ``node`` with a cutoff grown ×1.5 until every target is reached (then exact)."""
    while True:
        d, p = dijkstra(csr, directed=True, indices=node, return_predecessors=True, limit=limit)
        if np.isfinite(d[targets]).all() or not np.isfinite(limit):
            return d, p
        limit = limit * LIMIT_GROWTH if limit < 24 * 60 else np.inf


def _walk(c: Contracted, pred: np.ndarray, rows: np.ndarray, start: np.ndarray, stop: np.ndarray,
          forward: bool) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Metres and ferry minutes along predecessor paths, all at once, one hop per round.

    Forward trees are walked from the destination back to the source (edges pred→node); reverse
    trees (Dijkstra on the transposed graph) from the source on to the destination (node→pred).
    """
    metres = np.zeros(len(rows))
    ferry = np.zeros(len(rows))
    cur = start.copy()
    idx = np.flatnonzero(cur != stop)
    while len(idx):
        p = pred[rows[idx], cur[idx]].astype(np.int64)
        e = c.edge_index(p, cur[idx]) if forward else c.edge_index(cur[idx], p)
        metres[idx] += c.metres[e]
        ferry[idx] += c.ferry_minutes[e]
        cur[idx] = p
        idx = idx[p != stop[idx]]
    return metres, ferry


def _routes(c: Contracted, csr, csr_t, xy: np.ndarray, src: np.ndarray, dst: np.ndarray) -> dict[str, np.ndarray]:
    """Fastest routes src × dst: minutes, metres and ferry minutes (arrays K × M).

    Forward searches stop at a cutoff near the source's farthest destination. Pairs they miss are
    typically on a ferry-served island (far in time, not in space): a source on the island misses
    most destinations and is searched again with a growing cutoff; destinations on the island are
    missed by most sources and are searched backwards, which is cheap because that search crosses
    the slow ferry edge before it fans out over the mainland. Both end exact.
    """
    src_u, src_inv = np.unique(src, return_inverse=True)
    straight_km = np.sqrt(((xy[src_u][:, None, :] - xy[dst][None, :, :]) ** 2).sum(-1)).max(axis=1) / 1000.0
    first_limit = straight_km * LIMIT_MINUTES_PER_KM + LIMIT_SLACK_MINUTES
    dist = np.empty((len(src_u), len(dst)))
    pred = np.empty((len(src_u), csr.shape[0]), dtype=np.int32)
    for i, s in enumerate(src_u):  # ≤ K searches per municipality
        d, pred[i] = dijkstra(csr, directed=True, indices=s, return_predecessors=True, limit=first_limit[i])
        dist[i] = d[dst]
    # A source that missed many destinations (it sits on the island itself) is cheaper to search
    # again, further; the few destinations the others missed are cheaper to search backwards.
    dst_u = np.unique(dst)
    n_missed = np.array([len(np.unique(dst[~np.isfinite(row)])) for row in dist])
    for i in np.flatnonzero(n_missed > LATE_SHARE * len(dst_u)):
        d, pred[i] = _search(csr, src_u[i], dst, first_limit[i] * LIMIT_GROWTH)
        dist[i] = d[dst]
    missed = ~np.isfinite(dist)
    miss_i, miss_j = np.nonzero(missed)
    late = np.unique(dst[miss_j])
    rpred = np.empty((len(late), csr.shape[0]), dtype=np.int32)
    for r, node in enumerate(late):  # the destinations some source did not reach within its cutoff
        need = np.unique(src_u[miss_i[dst[miss_j] == node]])
        limit = float(first_limit[np.searchsorted(src_u, need)].max()) * LIMIT_GROWTH
        d, rpred[r] = _search(csr_t, node, need, limit)
        cols = np.flatnonzero(dst == node)
        dist[:, cols] = np.where(np.isfinite(dist[:, cols]), dist[:, cols], d[src_u][:, None])
    rows, cols = (a.ravel() for a in np.indices(dist.shape))
    via_reverse = missed.ravel()
    ok = np.isfinite(dist.ravel())
    metres = np.zeros(dist.size)
    ferry = np.zeros(dist.size)
    f = ok & ~via_reverse
    metres[f], ferry[f] = _walk(c, pred, rows[f], dst[cols[f]], src_u[rows[f]], forward=True)
    b = ok & via_reverse
    metres[b], ferry[b] = _walk(c, rpred, np.searchsorted(late, dst[cols[b]]), src_u[rows[b]], dst[cols[b]], forward=False)
    metres[~ok] = np.nan
    ferry[~ok] = np.nan
    shape = dist.shape
    return {"minutes": dist[src_inv], "metres": metres.reshape(shape)[src_inv], "ferry_minutes": ferry.reshape(shape)[src_inv]}


def collapsed_strata_se(y: np.ndarray) -> float:
    """Standard error of the mean of one-draw-per-stratum values ``y`` (in stratum order), pairing
    neighbouring strata: sqrt(Σ_h (y_2h − y_2h+1)²) / n, scaled by n/(n−1) in variance when n is
    odd (the last draw unpaired); NaN for n < 2. Same unit as ``y`` (minutes)."""
    n = len(y)
    if n < 2:
        return float("nan")
    m = n - n % 2
    d = y[0:m:2] - y[1:m:2]
    return math.sqrt(float((d**2).sum()) * (n / m)) / n


def network_internal_time(
    graph: RoadGraph,
    areas: gpd.GeoDataFrame | None = None,
    *,
    sources: int = DEFAULT_SOURCES,
    destinations: int = DEFAULT_DESTINATIONS,
    classes: tuple[str, ...] = WEIGHT_CLASSES,
    workers: int = 2,
    progress: Progress | None = None,
) -> pl.DataFrame:
    """Within-municipality car time on the road network, node to node (no access legs).

    ``areas``: polygons with a ``code`` column (default: the 98 municipalities,
    :func:`pendling.geo.boundaries`). Returns one row per code, sorted: ``code`` Int16,
    ``minutes`` (mean travel time, minutes), ``km`` (mean road km of those fastest routes),
    ``ferry_minutes`` (mean minutes on ferries), ``se_minutes`` (standard error of ``minutes``
    over the K sources), ``nodes``, ``road_km`` (weighted nodes and local-street km inside),
    ``outside_road_km``, ``sources``, ``destinations``. Method in the module docstring;
    ``workers`` threads run the per-municipality Dijkstras (results do not depend on it).
    """
    if areas is None:
        from pendling import geo

        areas = geo.boundaries()
    samples, summary = sample_nodes(graph, areas, sources=sources, destinations=destinations, classes=classes)
    c = routing_graph(graph)
    csr = c.csr()
    csr_t = csr.T.tocsr()
    xy = node_xy(graph)
    codes = summary["code"].to_list()
    by_code = {
        (k[0], k[1]): f["node"].to_numpy().astype(np.int64)
        for k, f in samples.sort("code", "role", "draw").group_by(["code", "role"], maintain_order=True)
    }
    done = 0

    def one(code: int) -> dict[str, np.ndarray]:
        nonlocal done
        res = _routes(c, csr, csr_t, xy, by_code[(code, "source")], by_code[(code, "destination")])
        done += 1
        if progress is not None:
            progress(done, len(codes))
        return res

    with ThreadPoolExecutor(max(1, workers)) as pool:  # scipy's Dijkstra releases the GIL
        results = list(pool.map(one, codes))
    bad = [code for code, r in zip(codes, results, strict=True) if not np.isfinite(r["minutes"]).all()]
    if bad:
        raise InputError("some sampled road nodes cannot reach each other inside these areas", column="code",
                         values=bad, hint="use a graph restricted to its largest strongly connected component")  # fmt: skip
    src_means = [r["minutes"].mean(axis=1) for r in results]
    return summary.select("code").with_columns(
        pl.Series("minutes", [float(r["minutes"].mean()) for r in results], dtype=pl.Float64),
        pl.Series("km", [float(r["metres"].mean()) / 1000.0 for r in results], dtype=pl.Float64),
        pl.Series("ferry_minutes", [float(r["ferry_minutes"].mean()) for r in results], dtype=pl.Float64),
        pl.Series("se_minutes", [collapsed_strata_se(m) for m in src_means], dtype=pl.Float64),
        summary["nodes"],
        summary["road_km"],
        summary["outside_road_km"],
        pl.lit(sources, dtype=pl.Int32).alias("sources"),
        pl.lit(destinations, dtype=pl.Int32).alias("destinations"),
    )

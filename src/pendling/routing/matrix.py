"""Travel-time matrices: point snapping, many-source Dijkstra, road km of the fastest route, and the
within-municipality (diagonal) time.

Method (graph backend)
----------------------
1. Each point is snapped to the nearest node of the graph (KD-tree in EPSG:25832 metres). The
   straight-line *access leg* from the point to that node is timed at the profile's
   ``[access] speed_kmh`` (20 km/h by default) at both ends of a trip and added to minutes; its
   length is added to km. Snap distances are returned per point.
2. Degree-2 chains are contracted (snapped nodes are kept), then
   ``scipy.sparse.csgraph.dijkstra`` runs from every distinct origin node on the minutes CSR.
3. km is the road length of *that fastest route*, summed along the predecessor tree (not the
   shortest-distance route); ``ferry_minutes`` is the ferry time (crossing + wait) on it.
4. Pairs that cannot be reached get null minutes and km — never zero.

Within-municipality time (``internal='area'``)
----------------------------------------------
For a municipality of area A km², take a disc of the same area, R = sqrt(A/π). The mean distance
between two independent uniform points in a disc is 128 R / (45 π) ≈ 0.9054 R. Then

    km      = 0.9054 · R · detour                       (detour 1.3)
    minutes = km / speed_kmh · 60 + terminal_minutes    (speed 40 km/h, terminal 0 min)

with the parameters from the profile's ``[internal]`` table.

``internal='network'`` instead measures the internal trip on the road graph: the mean car time
(and road km of those fastest routes) between random pairs of road nodes inside the municipality
polygon, weighted by local-street length (:mod:`pendling.routing.internal`), plus the access legs
of the municipality's point at both ends, as for every off-diagonal cell. Its mean ferry minutes
go to ``ferry_minutes`` (0 for the other modes). ``internal='zero'`` puts 0 minutes and
0 km on the diagonal (note that :func:`pendling.odmatrix.validate_matrix` rejects zero minutes,
because relative change needs positive times).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl
from scipy.sparse.csgraph import dijkstra

from pendling.errors import InputError
from pendling.routing.ferries import _project
from pendling.routing.graph import RoadGraph, contract
from pendling.routing.internal import DEFAULT_SOURCES, network_internal_time
from pendling.routing.profile import CarProfile, load_profile

if TYPE_CHECKING:
    import geopandas as gpd

MEAN_DISC_DISTANCE = 128.0 / (45.0 * math.pi)  # × R: mean distance between two random points in a disc
Internal = Literal["area", "network", "zero"]
INTERNAL_MODES = ("area", "network", "zero")


def internal_time(area_km2: pl.Series | np.ndarray, profile: CarProfile) -> tuple[np.ndarray, np.ndarray]:
    """Within-municipality (minutes, km) from area in km² (formula in the module docstring)."""
    a = np.asarray(area_km2, dtype=np.float64)
    if np.any(~np.isfinite(a)) or np.any(a <= 0):
        raise InputError("area_km2 must be positive and finite for --internal area", column="area_km2")
    r = np.sqrt(a / math.pi)
    km = MEAN_DISC_DISTANCE * r * profile.internal_detour
    minutes = km / profile.internal_speed_kmh * 60.0 + profile.internal_terminal_minutes
    return minutes, km


def check_points(points: pl.DataFrame) -> pl.DataFrame:
    """Validate a point set: ``code`` (unique integers), ``lon``, ``lat`` (WGS84 degrees)."""
    missing = [c for c in ("code", "lon", "lat") if c not in points.columns]
    if missing:
        raise InputError("point set lacks columns", column=", ".join(missing), values=points.columns, hint="points need code, lon, lat (WGS84 degrees)")
    if points.height == 0:
        raise InputError("point set is empty", hint="give at least one point")
    dup = points.filter(pl.col("code").is_duplicated())["code"].unique().to_list()
    if dup:
        raise InputError("duplicate codes in the point set", column="code", values=dup)
    bad = points.filter(
        pl.col("lon").is_null() | pl.col("lat").is_null() | ~pl.col("lon").is_between(-180, 180) | ~pl.col("lat").is_between(-90, 90)
    )
    if bad.height:
        raise InputError("points with missing or impossible coordinates", column="lon, lat", values=bad["code"].to_list(), hint="use WGS84 longitude/latitude in degrees")
    return points


def snap_points(graph: RoadGraph, points: pl.DataFrame) -> pl.DataFrame:
    """Nearest graph node per point: adds ``node`` (Int32), ``node_lon``, ``node_lat``, ``snap_m`` (metres)."""
    from scipy.spatial import cKDTree

    check_points(points)
    xy = _project(graph.nodes["lon"].to_numpy(), graph.nodes["lat"].to_numpy())
    tree = cKDTree(xy)
    d, i = tree.query(_project(points["lon"].to_numpy(), points["lat"].to_numpy()))
    return points.with_columns(
        pl.Series("node", i.astype(np.int32)),
        pl.Series("node_lon", graph.nodes["lon"].to_numpy()[i]),
        pl.Series("node_lat", graph.nodes["lat"].to_numpy()[i]),
        pl.Series("snap_m", d),
    )


def route_nodes(
    graph: RoadGraph, origins: np.ndarray, destinations: np.ndarray, *, keep: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Fastest routes between graph nodes: arrays (len(origins) × len(destinations)) of
    ``minutes``, ``km`` (road km of the fastest route) and ``ferry_minutes``; unreachable → NaN.

    Dijkstra runs once per distinct origin node. ``keep``: further nodes that degree-2 contraction
    must not remove; a sub-block routed with the full point set's nodes kept gives bit for bit the
    values of the full matrix (contraction changes the order in which edge minutes are summed).
    """
    origins = np.asarray(origins, dtype=np.int64)
    destinations = np.asarray(destinations, dtype=np.int64)
    extra = [np.asarray(keep, dtype=np.int64)] if keep is not None else []
    protected = np.unique(np.concatenate([origins, destinations, *extra]))
    c = contract(graph, protected=protected)
    cid = np.full(graph.n_nodes, -1, dtype=np.int64)
    cid[c.original] = np.arange(c.n_nodes)
    src_u, src_inv = np.unique(cid[origins], return_inverse=True)
    dst = cid[destinations]
    dist, pred = dijkstra(c.csr(), directed=True, indices=src_u, return_predecessors=True)
    minutes = dist[:, dst]
    km = np.zeros(minutes.shape)
    ferry = np.zeros(minutes.shape)
    rows = np.broadcast_to(np.arange(len(src_u))[:, None], minutes.shape)
    cur = np.broadcast_to(dst[None, :], minutes.shape).copy()
    active = np.isfinite(minutes) & (cur != src_u[:, None])
    while active.any():  # walk all fastest paths back to their sources at once, one hop per round
        r, k = rows[active], cur[active]
        p = pred[r, k]
        e = c.edge_index(p, k)
        km[active] += c.metres[e]
        ferry[active] += c.ferry_minutes[e]
        cur[active] = p
        active[active] = p != src_u[r]
    unreachable = ~np.isfinite(minutes)
    km[unreachable] = np.nan
    ferry[unreachable] = np.nan
    minutes = np.where(unreachable, np.nan, minutes)
    return {"minutes": minutes[src_inv], "km": km[src_inv] / 1000.0, "ferry_minutes": ferry[src_inv]}


def travel_time_matrix(
    graph: RoadGraph | None,
    points: pl.DataFrame,
    *,
    origins: Iterable[int] | None = None,
    destinations: Iterable[int] | None = None,
    internal: Internal = "area",
    profile: CarProfile | None = None,
    backend: Literal["graph", "osrm"] = "graph",
    osrm_url: str | None = None,
    areas: gpd.GeoDataFrame | None = None,
    internal_sources: int = DEFAULT_SOURCES,
) -> pl.DataFrame:
    """Car travel times between all points: long frame ``origin``, ``destination`` (the points'
    ``code``), ``minutes``, ``km``, ``ferry_minutes``, ``snap_m_origin``, ``snap_m_destination``.

    ``points`` needs ``code``, ``lon``, ``lat`` and, for ``internal='area'``, ``area_km2`` (km²).
    Minutes include the access legs at both ends; unreachable pairs hold null minutes/km.
    ``backend='osrm'`` queries an OSRM server's table service at ``osrm_url`` (graph unused).
    ``internal='network'`` needs the graph and polygons whose ``code`` matches the points'
    (``areas``; default: the 98 municipalities), with ``internal_sources`` sources (K) each.

    ``origins`` / ``destinations``: route only these point codes (municipality codes for
    :func:`municipality_points`); None = every point. Order and repeats do not matter. The result is
    the full matrix's rows for those pairs, same columns and values, sorted by (origin,
    destination); Dijkstra runs only from the origins (OSRM: only they are sources), and the
    within-municipality time is computed only for codes that are both. A code not among the
    points is an InputError listing it.
    """
    profile = profile or load_profile()
    check_points(points)
    if internal not in INTERNAL_MODES:
        raise InputError(f"internal must be one of {', '.join(INTERNAL_MODES)}", values=[internal])
    if internal == "network" and (graph is None or backend != "graph"):
        raise InputError("--internal network routes on the road graph", hint="use --backend graph with a graph, or --internal area")
    if internal == "area" and "area_km2" not in points.columns:
        raise InputError(
            "the point set has no area_km2 column, needed for the within-municipality time",
            column="area_km2",
            hint="add area_km2 (km²) to the points, or use --internal zero",
        )
    pts = points.sort("code")
    oi = _positions(pts["code"], origins, "origins")
    di = _positions(pts["code"], destinations, "destinations")
    if backend == "graph":
        if graph is None:
            raise InputError("the graph backend needs a road graph", hint="build one with `pendling roads build`")
        snapped = snap_points(graph, pts)
        nodes = snapped["node"].to_numpy()
        res = route_nodes(graph, nodes[oi], nodes[di], keep=nodes)
        snap = snapped["snap_m"].to_numpy()
    elif backend == "osrm":
        from pendling.routing.osrm import osrm_table

        if not osrm_url:
            raise InputError("the OSRM backend needs --osrm-url", hint="e.g. --osrm-url http://127.0.0.1:5000")
        used = np.union1d(oi, di)  # OSRM snaps each coordinate on its own: asking for fewer changes nothing
        res, snap_used = osrm_table(
            osrm_url, pts["lon"].to_numpy()[used], pts["lat"].to_numpy()[used], sources=np.searchsorted(used, oi)
        )
        res = {k: v[:, np.searchsorted(used, di)] for k, v in res.items()}
        snap = np.full(pts.height, np.nan)
        snap[used] = snap_used
    else:
        raise InputError("unknown backend", values=[backend], hint="use 'graph' or 'osrm'")
    access_m = snap[oi][:, None] + snap[di][None, :]
    minutes = res["minutes"] + access_m / 1000.0 / profile.access_speed_kmh * 60.0
    km = res["km"] + access_m / 1000.0
    ferry = res["ferry_minutes"]
    # within-municipality cells: the points that are both an origin and a destination
    both = np.intersect1d(oi, di)
    rows, cols = np.searchsorted(oi, both), np.searchsorted(di, both)
    ferry[rows, cols] = 0.0
    if internal == "area":
        im, ik = internal_time(pts["area_km2"].gather(both), profile)
    elif internal == "network" and len(both):  # no diagonal cell asked for: nothing to sample
        net = _network_diagonal(graph, pts[both], areas, internal_sources)
        # Same access legs as an off-diagonal cell from/to this municipality's point, both ends.
        im = net["minutes"].to_numpy() + 2.0 * snap[both] / 1000.0 / profile.access_speed_kmh * 60.0
        ik = net["km"].to_numpy() + 2.0 * snap[both] / 1000.0
        ferry[rows, cols] = net["ferry_minutes"].to_numpy()
    else:
        im, ik = np.zeros(len(both)), np.zeros(len(both))
    minutes[rows, cols] = im
    km[rows, cols] = ik
    codes = pts["code"]
    no, nd = len(oi), len(di)
    return pl.DataFrame(
        {
            "origin": codes.gather(np.repeat(oi, nd)),
            "destination": codes.gather(np.tile(di, no)),
            "minutes": minutes.ravel(),
            "km": km.ravel(),
            "ferry_minutes": ferry.ravel(),
            "snap_m_origin": np.repeat(snap[oi], nd),
            "snap_m_destination": np.tile(snap[di], no),
        }
    ).with_columns(pl.col("minutes", "km", "ferry_minutes").fill_nan(None))


def _positions(codes: pl.Series, wanted: Iterable[int] | None, what: str) -> np.ndarray:
    """Row positions (ascending, no repeats) of the requested codes in the code-sorted points; None → all."""
    if wanted is None:
        return np.arange(codes.len())
    if isinstance(wanted, (str, bytes, int, np.integer)):
        raise InputError(
            f"{what} must be a sequence of codes, not a single value",
            column="code",
            values=[wanted],
            hint=f"e.g. {what}=[101, 751] (København, Aarhus); None routes every point",
        )
    # as text first, so 101, numpy.int16(101) and '0101' (DAGI style) all name municipality 101
    text = pl.Series(what, [str(v).strip() for v in wanted], dtype=pl.String)
    if text.len() == 0:
        raise InputError(f"{what} is empty", column="code", hint=f"give at least one code, or {what}=None for every point")
    if codes.dtype.is_integer():
        key, ref = text.cast(pl.Int64, strict=False), codes.cast(pl.Int64)
    else:
        key, ref = text, codes.cast(pl.String)
    found = pl.DataFrame({"key": key}).join(
        pl.DataFrame({"key": ref, "pos": np.arange(ref.len())}), on="key", how="left", maintain_order="left"
    )
    unknown = text.filter(found["pos"].is_null()).unique().sort()
    if unknown.len():
        raise InputError(
            f"{unknown.len()} of the requested {what} are not among the points' codes",
            column="code",
            values=unknown.to_list(),
            hint="use codes from the points' code column (the 98 municipality codes, e.g. 101 København, 751 Aarhus)",
        )
    return np.unique(found["pos"].to_numpy())


def _network_diagonal(graph: RoadGraph, pts: pl.DataFrame, areas, sources: int) -> pl.DataFrame:
    """Node-to-node network internal time for the point codes, in the points' (sorted) order."""
    if areas is None:
        from pendling import geo

        areas = geo.boundaries()
    if "code" not in areas.columns:
        raise InputError("area polygons lack a code column", column="code", values=list(areas.columns))
    missing = sorted(set(pts["code"].to_list()) - set(areas["code"].tolist()))
    if missing:
        raise InputError(
            "points without an area polygon for --internal network",
            column="code",
            values=missing,
            hint="give polygons with the same codes (--areas FILE), or use --internal area",
        )
    wanted = areas[areas["code"].isin(pts["code"].to_list())]
    net = network_internal_time(graph, wanted, sources=sources)
    return pts.select(pl.col("code").cast(pl.Int16)).join(net, on="code", how="left", maintain_order="left")


def municipality_points(kind: Literal["centroid", "inside"] = "inside") -> pl.DataFrame:
    """The 98 municipalities as a point set: ``code`` Int16, ``name``, ``lon``, ``lat``, ``area_km2``.

    ``centroid`` is the area centroid (may fall outside the municipality, e.g. København's lies in
    Frederiksberg); ``inside`` is a point guaranteed inside it.
    """
    from pendling import geo

    if kind not in ("centroid", "inside"):
        raise InputError("point kind must be 'centroid' or 'inside'", values=[kind], hint="or pass --points FILE")
    m = geo.municipalities()
    return m.select(
        pl.col("code").cast(pl.Int16), "name", pl.col(f"{kind}_lon").alias("lon"), pl.col(f"{kind}_lat").alias("lat"), "area_km2"
    ).sort("code")


def read_points(path) -> pl.DataFrame:
    """Read a point file (CSV or Parquet) with ``code``, ``lon``, ``lat`` [, ``area_km2``]."""
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise InputError("point file not found", file=p, hint="give a CSV/Parquet with code, lon, lat")
    df = pl.read_parquet(p) if p.suffix.lower() == ".parquet" else pl.read_csv(p)
    try:
        return check_points(df.with_columns(pl.col("lon", "lat").cast(pl.Float64)))
    except InputError as exc:
        exc.file = str(p)
        raise InputError(str(exc).split("\n")[0], file=p, column=exc.column, values=exc.values, hint=exc.hint) from None
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"point file has unusable columns: {exc}", file=p, hint="code, lon, lat as numbers") from None

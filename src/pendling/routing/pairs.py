"""Travel times for any set of (origin zone, destination zone) pairs, at national scale.

``pair_times(pairs, zones=...)`` routes each distinct pair of snapped zone nodes once and returns
one row per input pair. Engines (chosen by measurement, ``benchmarks/pair_engines.py``):

- ``'ch'``: contraction hierarchies (pandana) on edge minutes. The CH finds the fastest path; the
  path is unpacked and its edges' minutes, metres and ferry minutes are summed in float64, so
  ``km`` is the road length *of the fastest route* and ``ferry_minutes`` its ferry time — exactly
  what the Dijkstra engine reports, up to ties between equally fast routes. pandana stores edge
  weights as integers of 1/1000 of the weight unit (32 bits), so weights are given as minutes ×
  1000 (resolution 1e-6 min per edge, longest route ≤ 4,294 min).
- ``'dijkstra'``: ``scipy.sparse.csgraph.dijkstra`` from each distinct origin node
  (:func:`pendling.routing.matrix.route_nodes`), the code path of the shipped 98×98 matrix.
- ``'auto'`` (default): ``'dijkstra'`` when there are at most ``DIJKSTRA_MAX_ORIGINS`` distinct
  origin nodes (then one Dijkstra per origin is cheaper than preparing a CH, and the municipality
  matrix is reproduced bit for bit), else ``'ch'``.

Times are minutes, distances km. A pair's minutes = road minutes between the snapped nodes + the
access legs at both ends (straight line at the profile's access speed), km likewise. The pair
(z, z) gets the within-zone time of :func:`pendling.routing.matrix.internal_time` from the zone's
area (municipality: its area, as the shipped diagonal; grid cell: the cell, e.g. 1 km² → 0.66 km,
0.99 min with the shipped profile; points: ``area_km2``, default 0.01 km²) and 0 ferry minutes.

Road results are cached per graph (sha256 of its edge and node arrays) and engine in
``paths.cache_dir()/pairs/``: a rerun over the same or fewer node pairs reads them back instead of
routing (pandana cannot save a prepared CH; preparing it takes ≈15 s, routing millions of pairs
minutes, so the results are what is worth keeping).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from pendling._extras import optional
from pendling import io, paths
from pendling.errors import InputError
from pendling.routing.graph import RoadGraph, min_parallel
from pendling.routing.matrix import internal_time, route_nodes
from pendling.routing.profile import CarProfile, load_profile

Engine = Literal["auto", "ch", "dijkstra"]
ENGINES = ("auto", "ch", "dijkstra")
DIJKSTRA_MAX_ORIGINS = 256
CH_CHUNK = 20_000  # pairs unpacked per call: bounds memory (≈ 260 nodes per path, ≈ 8 arrays of them)
PAIR_COLUMNS = ("origin", "destination", "minutes", "km", "ferry_minutes", "status")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class PairSummary:
    """Counts of a :func:`pair_times` run (pairs are input rows)."""

    pairs: int
    routed: int
    same_zone: int
    not_routable: int
    node_pairs_routed: int
    node_pairs_cached: int
    engine: str


def graph_hash(graph: RoadGraph) -> str:
    """sha256 (hex) of the graph's node coordinates and edge arrays: the cache key of routed pairs."""
    h = hashlib.sha256()
    for s in (graph.nodes["lon"], graph.nodes["lat"]):
        h.update(s.cast(pl.Float64).to_numpy().tobytes())
    e = graph.edges
    for c in ("u", "v"):
        h.update(e[c].cast(pl.Int64).to_numpy().tobytes())
    for c in ("minutes", "length_m"):
        h.update(e[c].cast(pl.Float64).to_numpy().tobytes())
    h.update(e["ferry"].fill_null("").str.join("\x1f").item().encode() if e.height else b"")
    return h.hexdigest()


class CHEngine:
    """pandana contraction hierarchies on a road graph, with path unpacking for km and ferry minutes."""

    def __init__(self, graph: RoadGraph):
        pandana = optional("pandana", "routing", "zone-pair routing (contraction hierarchies)")
        import pandas as pd  # a dependency of pandana

        e = min_parallel(graph.edges).with_columns(
            pl.when(pl.col("ferry").is_not_null()).then(pl.col("minutes")).otherwise(0.0).alias("ferry_minutes")
        )
        self.n = graph.n_nodes
        self.u = e["u"].to_numpy().astype(np.int64)
        self.v = e["v"].to_numpy().astype(np.int64)
        self.minutes = e["minutes"].to_numpy().astype(np.float64)
        self.metres = e["length_m"].to_numpy().astype(np.float64)
        self.ferry = e["ferry_minutes"].to_numpy().astype(np.float64)
        self.start = np.searchsorted(self.u, np.arange(self.n + 1))  # edges are sorted by u
        self.max_out = int(np.max(np.diff(self.start))) if self.n else 0
        nodes = pd.DataFrame({"x": graph.nodes["lon"].to_numpy(), "y": graph.nodes["lat"].to_numpy()})
        w = pd.DataFrame({"w": self.minutes * 1000.0})
        with _quiet_fd(1):  # pandana prints CH progress from C++ on stdout
            self.net = pandana.Network(nodes["x"], nodes["y"], pd.Series(self.u), pd.Series(self.v), w, twoway=False)

    def edge_index(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Row of edge a→b (edges unique per pair, sorted by u; out-degree is small)."""
        idx = np.full(len(a), -1, dtype=np.int64)
        s = self.start[a]
        deg = self.start[a + 1] - s
        todo = np.arange(len(a))
        for k in range(self.max_out):
            live = todo[deg[todo] > k]
            hit = self.v[s[live] + k] == b[live]
            idx[live[hit]] = s[live[hit]] + k
            todo = live[~hit]
            if not len(todo):
                break
        if (idx < 0).any():  # pragma: no cover - a CH path always follows graph edges
            raise RuntimeError("CH path uses an edge missing from the graph")
        return idx

    def route(self, o: np.ndarray, d: np.ndarray, progress: Progress | None = None) -> dict[str, np.ndarray]:
        """minutes, km, ferry_minutes of the fastest path o[i] → d[i] (node ids); NaN if none."""
        n = len(o)
        out = {k: np.full(n, np.nan) for k in ("minutes", "km", "ferry_minutes")}
        for lo in range(0, n, CH_CHUNK):
            hi = min(n, lo + CH_CHUNK)
            with _quiet_fd(1):
                p = self.net.shortest_paths(o[lo:hi], d[lo:hi], imp_name="w")
            lens = np.fromiter((len(x) for x in p), dtype=np.int64, count=hi - lo)
            flat = np.concatenate(p).astype(np.int64) if len(p) else np.zeros(0, dtype=np.int64)
            ends = np.cumsum(lens)
            # consecutive nodes inside one path are its edges
            a, b = flat[:-1], flat[1:]
            inner = np.ones(len(a), dtype=bool)
            inner[ends[:-1] - 1] = False
            pair = np.repeat(np.arange(hi - lo), lens)[:-1][inner]
            e = self.edge_index(a[inner], b[inner])
            ok = (lens > 0) & (flat[np.maximum(ends - lens, 0)] == o[lo:hi]) & (flat[np.maximum(ends - 1, 0)] == d[lo:hi])
            for k, arr, scale in (("minutes", self.minutes, 1.0), ("km", self.metres, 1000.0), ("ferry_minutes", self.ferry, 1.0)):
                s = np.bincount(pair, weights=arr[e], minlength=hi - lo)
                out[k][lo:hi] = np.where(ok, s / scale if scale != 1.0 else s, np.nan)
            if progress is not None:
                progress(hi, n)
        return out


class _quiet_fd:
    """Redirect an OS file descriptor to /dev/null (C++ progress output that Python cannot catch)."""

    def __init__(self, fd: int):
        self.fd = fd

    def __enter__(self):
        import os
        import sys

        sys.stdout.flush()
        self.saved = os.dup(self.fd)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, self.fd)
        os.close(null)

    def __exit__(self, *exc):
        import os

        os.dup2(self.saved, self.fd)
        os.close(self.saved)
        return False


_ENGINES: dict[str, CHEngine] = {}


def ch_engine(graph: RoadGraph, key: str | None = None) -> CHEngine:
    """The CH engine of a graph, prepared once per process (≈15 s for the national graph)."""
    key = key or graph_hash(graph)
    if key not in _ENGINES:
        _ENGINES.clear()  # one national CH is ≈1 GiB: keep only the latest
        _ENGINES[key] = CHEngine(graph)
    return _ENGINES[key]


def route_node_pairs(
    graph: RoadGraph,
    o: np.ndarray,
    d: np.ndarray,
    *,
    engine: Engine = "auto",
    keep: np.ndarray | None = None,
    cache: bool = True,
    progress: Progress | None = None,
) -> tuple[pl.DataFrame, str, int]:
    """Road minutes, km and ferry minutes for distinct node pairs (``o``, ``d`` Int arrays).

    Returns (frame ``o``, ``d`` Int32, ``minutes``, ``km``, ``ferry_minutes`` Float64 in the
    order given; engine used; pairs read from the cache). ``keep``: nodes the Dijkstra engine's
    degree-2 contraction keeps (all zone nodes, so a subset routes as the full set).
    """
    if engine not in ENGINES:
        raise InputError("unknown routing engine", values=[engine], hint=f"use one of {', '.join(ENGINES)}")
    want = pl.DataFrame({"o": np.asarray(o, dtype=np.int32), "d": np.asarray(d, dtype=np.int32)})
    if engine == "auto":
        engine = "dijkstra" if want["o"].n_unique() <= DIJKSTRA_MAX_ORIGINS else "ch"
    key = graph_hash(graph)
    cache_file = paths.cache_dir() / "pairs" / key[:24] / f"{engine}.parquet"
    have = pl.read_parquet(cache_file) if cache and cache_file.is_file() else None
    todo = want if have is None else want.join(have.select("o", "d"), on=["o", "d"], how="anti")
    cached = want.height - todo.height
    if todo.height:
        to, td = todo["o"].to_numpy().astype(np.int64), todo["d"].to_numpy().astype(np.int64)
        if engine == "ch":
            r = ch_engine(graph, key).route(to, td, progress)
            new = todo.with_columns(pl.Series("minutes", r["minutes"]), pl.Series("km", r["km"]), pl.Series("ferry_minutes", r["ferry_minutes"]))
        else:
            new = _dijkstra_pairs(graph, todo, keep, progress)
        have = new if have is None else pl.concat([have, new])
        if cache:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            io.write_parquet(have.sort("o", "d"), cache_file)
    if have is None:  # nothing to route and nothing cached
        have = want.clear().with_columns(pl.lit(None, pl.Float64).alias(c) for c in ("minutes", "km", "ferry_minutes"))
    res = want.join(have, on=["o", "d"], how="left", maintain_order="left")
    return res, engine, cached


def _dijkstra_pairs(graph: RoadGraph, todo: pl.DataFrame, keep: np.ndarray | None, progress: Progress | None) -> pl.DataFrame:
    """One scipy Dijkstra per distinct origin node, in blocks of ``DIJKSTRA_MAX_ORIGINS`` origins."""
    origins = todo["o"].unique().sort().to_numpy().astype(np.int64)
    parts = []
    for lo in range(0, len(origins), DIJKSTRA_MAX_ORIGINS):
        block = origins[lo : lo + DIJKSTRA_MAX_ORIGINS]
        sub = todo.filter(pl.col("o").is_in(block))
        dst = sub["d"].unique().sort().to_numpy().astype(np.int64)
        r = route_nodes(graph, block, dst, keep=keep)
        oi = np.searchsorted(block, sub["o"].to_numpy())
        di = np.searchsorted(dst, sub["d"].to_numpy())
        parts.append(
            sub.with_columns(
                pl.Series("minutes", r["minutes"][oi, di]),
                pl.Series("km", r["km"][oi, di]),
                pl.Series("ferry_minutes", r["ferry_minutes"][oi, di]),
            )
        )
        if progress is not None:
            progress(min(len(origins), lo + DIJKSTRA_MAX_ORIGINS), len(origins))
    return pl.concat(parts)


def pair_times(
    pairs: pl.DataFrame,
    zones: str = "municipality",
    *,
    graph: RoadGraph | None = None,
    points: pl.DataFrame | str | None = None,
    engine: Engine = "auto",
    profile: CarProfile | None = None,
    max_snap_m: float | None = None,
    cache: bool = True,
    on_invalid: Literal["error", "null"] = "error",
    progress: Progress | None = None,
) -> pl.DataFrame:
    """Car travel time for every row of ``pairs`` (columns ``origin``, ``destination``: zone ids of
    the zone system ``zones``, see :mod:`pendling.zones`).

    Returns one row per input row, in input order, ids as given: ``origin``, ``destination``,
    ``minutes`` (Float64, access legs included), ``km`` (road km of the fastest route + access
    legs), ``ferry_minutes`` (Float64), ``status`` (Utf8: 'ok', 'same_zone' for (z, z) with the
    within-zone time, or the first non-routable zone status, e.g. 'origin:not_on_land'; then minutes,
    km and ferry_minutes are null). Ids that are not ids of the zone system raise InputError
    (``on_invalid='error'``) or get status 'origin:invalid_id' / 'destination:invalid_id' (``'null'``).

    ``graph``: the road graph (None → the stored graph in ``paths.roads_dir()``); ``engine``: 'auto',
    'ch' or 'dijkstra' (module docstring); ``max_snap_m``: see :func:`pendling.zones.snap_zones`.
    Counts of the run (pairs routed, same zone, not routable, node pairs routed or read from the
    cache, engine used): :func:`last_summary`.
    """
    from pendling import zones as zmod
    from pendling.routing.graph import load_graph

    missing = [c for c in ("origin", "destination") if c not in pairs.columns]
    if missing:
        raise InputError("pair table lacks columns", column=", ".join(missing), values=pairs.columns, hint="give origin and destination zone ids")
    zmod.check_system(zones)
    if on_invalid not in ("error", "null"):
        raise InputError("on_invalid must be 'error' or 'null'", values=[on_invalid])
    nulls = pairs.select(pl.col("origin").is_null() | pl.col("destination").is_null()).to_series()
    if nulls.any():
        raise InputError(
            "pairs with a missing origin or destination", column="origin, destination",
            values=(np.flatnonzero(nulls.to_numpy())[:10] + 1).tolist(), hint="row numbers (1-based) listed; drop or fill them",
        )  # fmt: skip
    profile = profile or load_profile()
    graph = graph if graph is not None else load_graph(paths.roads_dir())
    key = (lambda c: pl.col(c).cast(pl.Utf8).str.strip_chars().cast(pl.Int16, strict=False)) if zones == "municipality" else (lambda c: pl.col(c).cast(pl.Utf8))
    keyed = pairs.select(pl.col("origin"), pl.col("destination"), key("origin").alias("_o"), key("destination").alias("_d"))
    ids = pl.concat([keyed["_o"], keyed["_d"]]).drop_nulls().unique()
    if zones == "municipality":
        # snap all 98 so their nodes survive contraction: any subset routes bit for bit like the full matrix
        from pendling import geo

        ids = pl.concat([ids, geo.municipalities()["code"].cast(pl.Int16)]).unique()
    table = zmod.zone_table(ids, zones, points=points)
    snapped = zmod.snap_zones(table, graph, max_snap_m=max_snap_m if max_snap_m is not None else zmod.MAX_SNAP_M, profile=profile)
    snapped = snapped.filter(pl.col("zone").is_not_null())
    invalid_ids = snapped.filter(pl.col("status") == "invalid_id")["zone"].cast(pl.Utf8).to_list()
    given_bad = keyed.filter(pl.col("_o").is_null())["origin"].cast(pl.Utf8).to_list() + keyed.filter(pl.col("_d").is_null())["destination"].cast(pl.Utf8).to_list()
    if (invalid_ids or given_bad) and on_invalid == "error":
        bad = sorted(set(given_bad + invalid_ids))
        hint = (
            "municipality ids are the 98 codes (101 … 860)" if zones == "municipality"
            else "grid ids look like 1km_6170_720 (northing_easting of the lower-left corner in cell units)" if zones.startswith("grid")
            else "every id must appear in the points table"
        )  # fmt: skip
        raise InputError(f"{len(bad):,} ids are not zones of '{zones}'", column="origin, destination", values=bad[:10], hint=hint + "; or --on-invalid null (on_invalid='null') to count them")
    z = snapped.select(
        pl.col("zone").alias("_z"), "node", "snap_m", "area_km2", pl.col("status").alias("_st")
    )
    j = (
        keyed.join(z.rename({"_z": "_o", "node": "o", "snap_m": "snap_o", "area_km2": "area_o", "_st": "st_o"}), on="_o", how="left", maintain_order="left")
        .join(z.rename({"_z": "_d", "node": "d", "snap_m": "snap_d", "area_km2": "area_d", "_st": "st_d"}), on="_d", how="left", maintain_order="left")
        .with_columns(pl.col("st_o").fill_null("invalid_id"), pl.col("st_d").fill_null("invalid_id"))
    )
    routable = list(zmod.ROUTABLE)
    j = j.with_columns(
        pl.when(~pl.col("st_o").is_in(routable)).then(pl.lit("origin:") + pl.col("st_o"))
        .when(~pl.col("st_d").is_in(routable)).then(pl.lit("destination:") + pl.col("st_d"))
        .when(pl.col("_o") == pl.col("_d")).then(pl.lit("same_zone"))
        .otherwise(pl.lit("ok")).alias("status")
    )  # fmt: skip
    need = j.filter(pl.col("status") == "ok").select("o", "d").unique().sort("o", "d")
    keep = snapped["node"].drop_nulls().to_numpy()
    road, used, cached = route_node_pairs(graph, need["o"].to_numpy(), need["d"].to_numpy(), engine=engine, keep=keep, cache=cache, progress=progress)
    j = j.join(road, on=["o", "d"], how="left", maintain_order="left")
    # NumPy, in the order travel_time_matrix uses, so the municipality matrix is reproduced bit for bit
    access_m = j["snap_o"].fill_null(np.nan).to_numpy() + j["snap_d"].fill_null(np.nan).to_numpy()
    minutes = j["minutes"].fill_null(np.nan).to_numpy() + access_m / 1000.0 / profile.access_speed_kmh * 60.0
    km = j["km"].fill_null(np.nan).to_numpy() + access_m / 1000.0
    im, ik = internal_time(np.maximum(j["area_o"].fill_null(1.0).to_numpy(), 1e-12), profile)
    same = pl.col("status") == "same_zone"
    ok = pl.col("status") == "ok"
    out = j.with_columns(pl.Series("_m", minutes), pl.Series("_k", km), pl.Series("_im", im), pl.Series("_ik", ik)).select(
        "origin",
        "destination",
        pl.when(ok).then(pl.col("_m").fill_nan(None)).when(same).then(pl.col("_im")).alias("minutes"),
        pl.when(ok).then(pl.col("_k").fill_nan(None)).when(same).then(pl.col("_ik")).alias("km"),
        pl.when(ok).then(pl.col("ferry_minutes").fill_nan(None)).when(same).then(0.0).alias("ferry_minutes"),
        "status",
    )
    unreachable = out.filter(ok & pl.col("minutes").is_null()).height
    if unreachable:
        out = out.with_columns(pl.when(ok & pl.col("minutes").is_null()).then(pl.lit("unreachable")).otherwise(pl.col("status")).alias("status"))
    global _LAST
    counts = out["status"].value_counts()
    n_of = dict(zip(counts["status"].to_list(), counts["count"].to_list(), strict=True))
    _LAST = PairSummary(
        pairs=out.height,
        routed=n_of.get("ok", 0),
        same_zone=n_of.get("same_zone", 0),
        not_routable=out.height - n_of.get("ok", 0) - n_of.get("same_zone", 0),
        node_pairs_routed=need.height - cached,
        node_pairs_cached=cached,
        engine=used,
    )
    return out


_LAST: PairSummary | None = None


def last_summary() -> PairSummary | None:
    """Counts of the latest :func:`pair_times` call in this process (for the CLI and benchmarks)."""
    return _LAST

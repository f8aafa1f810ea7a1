"""The road graph: assembly from raw segments, largest strongly connected component, degree-2
contraction, compressed sparse rows, and compact Parquet storage.

A :class:`RoadGraph` holds

* ``nodes``: ``node`` Int32 (= row number), ``lon``, ``lat`` Float64 (WGS84 degrees);
* ``edges``: directed, ``u``, ``v`` Int32, ``length_m`` Float64 (metres), ``minutes`` Float64
  (travel time), ``highway`` Utf8 (road class or 'ferry'), ``ferry`` Utf8 (route name, null on roads);
* ``info``: what was read, dropped and added (counts, km, ferries), for provenance.

Segment lengths are great-circle (haversine, R = 6 371 008.8 m) between consecutive vertices.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from pendling import io
from pendling.errors import InputError
from pendling.routing.profile import JUNCTION_KINDS, CarProfile, edge_speeds, junction_kinds, junction_seconds, parse_maxspeed

EARTH_RADIUS_M = 6_371_008.8


@dataclass
class RoadGraph:
    """Directed car network; minutes in minutes, lengths in metres, coordinates in WGS84 degrees."""

    nodes: pl.DataFrame
    edges: pl.DataFrame
    info: dict = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return self.nodes.height

    @property
    def n_edges(self) -> int:
        return self.edges.height

    def _summary(self) -> tuple[str, list[tuple[str, str]], list[str]]:
        """Title, rows and detail attributes of the notebook/console summary (no ``info`` dump)."""
        e = self.edges
        ferry = e.filter(pl.col("highway") == "ferry") if "highway" in e.columns else e.clear()
        routes = ferry["ferry"].drop_nulls().n_unique() if "ferry" in ferry.columns else 0
        rows = [
            ("nodes", f"{self.n_nodes:,}"),
            ("edges", f"{self.n_edges:,} directed"),
            ("ferries", f"{routes} routes ({ferry.height} directed edges)"),
        ]
        if self.n_nodes:
            lon, lat = self.nodes["lon"], self.nodes["lat"]
            rows.append(("extent", f"lon {lon.min():.2f}–{lon.max():.2f}, lat {lat.min():.2f}–{lat.max():.2f}"))
        src = self.info.get("source")
        if isinstance(src, dict) and src:
            rows.append(("source", f"{src.get('kind', 'OSM')} {src.get('file', '')}, OSM date {src.get('osm_date', '?')}"))
        return "RoadGraph", rows, [".nodes", ".edges", ".info"]

    def __repr__(self) -> str:
        from pendling import _summary as S

        return S.text(*self._summary())

    def _repr_html_(self) -> str:
        from pendling import _summary as S

        return S.html_table(*self._summary())


def haversine_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in metres between arrays of WGS84 points (degrees)."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(a, dtype=np.float64)) for a in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def assemble(segments: pl.DataFrame, nodes: pl.DataFrame, profile: CarProfile) -> RoadGraph:
    """Raw segments (u/v node keys, highway, oneway, maxspeed, optional ``urban`` Boolean) + node
    coordinates → directed graph.

    Edge minutes = length / speed (class default, its urban value inside built-up areas, or a
    tagged maxspeed) + the junction delay at the edge's head (:func:`pendling.routing.profile.junction_kinds`).
    Node keys are relabelled to 0..n-1 in key order (deterministic). Segments whose node has no
    coordinate are dropped and counted in ``info['segments_without_coordinates']``.
    """
    keys = nodes["key"].to_numpy()
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    used = np.unique(np.concatenate([segments["u"].to_numpy(), segments["v"].to_numpy()]))
    pos = np.searchsorted(keys, used)
    pos = np.minimum(pos, len(keys) - 1)
    has_coord = keys[pos] == used
    used = used[has_coord]
    keep_keys_idx = order[np.searchsorted(keys, used)]
    u_idx = np.searchsorted(used, segments["u"].to_numpy())
    v_idx = np.searchsorted(used, segments["v"].to_numpy())
    ok = (
        (u_idx < len(used)) & (v_idx < len(used))
        & (used[np.minimum(u_idx, len(used) - 1)] == segments["u"].to_numpy())
        & (used[np.minimum(v_idx, len(used) - 1)] == segments["v"].to_numpy())
    )  # fmt: skip
    lon = nodes["lon"].to_numpy()[keep_keys_idx]
    lat = nodes["lat"].to_numpy()[keep_keys_idx]
    seg = segments.filter(pl.Series(ok)).with_columns(
        pl.Series("u", u_idx[ok].astype(np.int32)), pl.Series("v", v_idx[ok].astype(np.int32))
    )
    if "urban" not in seg.columns:
        seg = seg.with_columns(pl.lit(False).alias("urban"))
    length = haversine_m(lon[seg["u"].to_numpy()], lat[seg["u"].to_numpy()], lon[seg["v"].to_numpy()], lat[seg["v"].to_numpy()])
    maxspeed = parse_maxspeed(seg["maxspeed"], profile) if "maxspeed" in seg.columns else None
    speed = edge_speeds(seg["highway"], maxspeed, profile, urban=seg["urban"]).to_numpy()
    seg = seg.select("u", "v", "highway", "oneway", "urban").with_columns(
        pl.Series("length_m", length), pl.Series("minutes", length / 1000.0 / speed * 60.0)
    )
    fwd = seg.filter(pl.col("oneway") >= 0)
    bwd = seg.filter(pl.col("oneway") <= 0).rename({"u": "v", "v": "u"})
    cols = ["u", "v", "length_m", "minutes", "highway", "urban"]
    edges = pl.concat([fwd.select(cols), bwd.select(cols)])
    kind = junction_kinds(edges["u"].to_numpy(), edges["v"].to_numpy(), edges["highway"], len(used))
    delay = junction_seconds(kind, edges["urban"].to_numpy(), profile) / 60.0
    edges = (
        edges.with_columns(pl.col("minutes") + pl.Series(delay), pl.lit(None, dtype=pl.String).alias("ferry"))
        .drop("urban")
        .unique(["u", "v", "highway"], keep="first", maintain_order=True)
        .sort("u", "v", "minutes", "highway")
    )
    node_df = pl.DataFrame({"node": np.arange(len(used), dtype=np.int32), "lon": lon, "lat": lat})
    urban_km = float(seg.filter(pl.col("urban"))["length_m"].sum()) / 1000.0
    info = {
        "segments_without_coordinates": int((~ok).sum()),
        "nodes_read": len(used),
        "directed_edges_read": edges.height,
        "road_km_read": round(float(seg["length_m"].sum()) / 1000.0, 1),
        "road_km_builtup": round(urban_km, 1),
        "junction_entries": {k: int((kind == i).sum()) for i, k in enumerate(JUNCTION_KINDS)},
    }
    return RoadGraph(node_df, edges, info)


def adjacency(edges: pl.DataFrame, n: int, weight: str = "minutes") -> sp.csr_matrix:
    """CSR adjacency with the minimum ``weight`` per (u, v) (scipy would *sum* duplicates)."""
    e = min_parallel(edges)
    return sp.csr_matrix((e[weight].to_numpy().astype(np.float64), (e["u"].to_numpy(), e["v"].to_numpy())), shape=(n, n))


def min_parallel(edges: pl.DataFrame) -> pl.DataFrame:
    """One edge per (u, v): the fastest (ties: shortest); self-loops removed."""
    return (
        edges.filter(pl.col("u") != pl.col("v"))
        .sort("u", "v", "minutes", "length_m")
        .unique(["u", "v"], keep="first", maintain_order=True)
    )


def component_labels(edges: pl.DataFrame, n: int) -> np.ndarray:
    """Strongly connected component label per node (int32)."""
    a = sp.csr_matrix((np.ones(edges.height, dtype=np.int8), (edges["u"].to_numpy(), edges["v"].to_numpy())), shape=(n, n))
    _, labels = connected_components(a, directed=True, connection="strong")
    return labels.astype(np.int32)


def keep_largest_component(graph: RoadGraph) -> tuple[RoadGraph, pl.DataFrame]:
    """Restrict to the largest strongly connected component; return it and a report of what was dropped.

    The report has one row per dropped component: ``component``, ``nodes``, ``edges``, ``road_km``,
    ``lon``, ``lat`` (mean position), sorted by size. Node ids are renumbered 0..n-1 in old order.
    """
    n = graph.n_nodes
    labels = component_labels(graph.edges, n)
    sizes = np.bincount(labels)
    big = int(np.argmax(sizes))
    keep = labels == big
    new_id = np.full(n, -1, dtype=np.int64)
    new_id[keep] = np.arange(int(keep.sum()))
    e = graph.edges
    lab_u = labels[e["u"].to_numpy()]
    lab_v = labels[e["v"].to_numpy()]
    inside = (lab_u == big) & (lab_v == big)
    dropped_e = e.filter(pl.Series(~inside)).with_columns(pl.Series("component", lab_u[~inside]))
    dropped_nodes = graph.nodes.with_columns(pl.Series("component", labels)).filter(pl.col("component") != big)
    report = (
        dropped_nodes.group_by("component")
        .agg(pl.len().alias("nodes"), pl.col("lon").mean(), pl.col("lat").mean())
        .join(
            dropped_e.group_by("component").agg(pl.len().alias("edges"), (pl.col("length_m").sum() / 1000).alias("road_km")),
            on="component",
            how="left",
        )
        .with_columns(pl.col("edges").fill_null(0).cast(pl.Int64), pl.col("road_km").fill_null(0.0), pl.col("nodes").cast(pl.Int64))
        .select("component", "nodes", "edges", "road_km", "lon", "lat")
        .sort(["nodes", "road_km", "component"], descending=[True, True, False])
    )
    edges = e.filter(pl.Series(inside)).with_columns(
        pl.Series("u", new_id[e["u"].to_numpy()[inside]].astype(np.int32)),
        pl.Series("v", new_id[e["v"].to_numpy()[inside]].astype(np.int32)),
    )
    nodes = graph.nodes.filter(pl.Series(keep)).with_columns(pl.Series("node", np.arange(int(keep.sum()), dtype=np.int32)))
    # Each two-way road counts twice among directed edges; km of the dropped network counts it once.
    one_way_km = dropped_e.unique(["u", "v"])
    info = dict(graph.info)
    info["largest_component"] = {"nodes": nodes.height, "directed_edges": edges.height}
    info["dropped_components"] = {
        "components": int(report.height),
        "nodes": int(report["nodes"].sum()),
        "directed_edges": int(dropped_e.height),
        "road_km_approx": round(float(_undirected_km(one_way_km)), 1),
        "largest_dropped": report.head(10).with_columns(pl.col("road_km", "lon", "lat").round(4)).to_dicts(),
    }
    return RoadGraph(nodes, edges, info), report


def _undirected_km(edges: pl.DataFrame) -> float:
    lo = pl.min_horizontal("u", "v")
    hi = pl.max_horizontal("u", "v")
    return float(edges.with_columns(lo.alias("a"), hi.alias("b")).unique(["a", "b"])["length_m"].sum()) / 1000.0


@dataclass
class Contracted:
    """A contracted graph as edge arrays sorted by (u, v), plus the original id of each kept node.

    ``minutes`` (travel time), ``metres`` (road length) and ``ferry_minutes`` (time on ferries) per
    edge; ``original[i]`` is the RoadGraph node id of contracted node ``i``.
    """

    u: np.ndarray
    v: np.ndarray
    minutes: np.ndarray
    metres: np.ndarray
    ferry_minutes: np.ndarray
    original: np.ndarray
    highway: pl.Series | None = None
    ferry: pl.Series | None = None
    _keys: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_nodes(self) -> int:
        return len(self.original)

    @property
    def n_edges(self) -> int:
        return len(self.u)

    def csr(self) -> sp.csr_matrix:
        """Minutes as CSR for scipy's Dijkstra; zero-length edges get 1e-9 min (zeros mean 'no edge')."""
        n = self.n_nodes
        return sp.csr_matrix((np.maximum(self.minutes, 1e-9), (self.u, self.v)), shape=(n, n))

    def edge_index(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Row of edge a→b in the arrays (edges are unique per pair)."""
        if self._keys is None:
            self._keys = self.u.astype(np.int64) * self.n_nodes + self.v
        return np.searchsorted(self._keys, np.asarray(a, dtype=np.int64) * self.n_nodes + np.asarray(b, dtype=np.int64))


def contract(graph: RoadGraph, protected: np.ndarray | None = None, *, keep_class_changes: bool = False) -> Contracted:
    """Contract degree-2 chains (nodes that only pass traffic through) into single edges.

    A node is contracted when it is not ``protected`` and either has exactly one way in and one way
    out to two different neighbours (one-way chain), or exactly two neighbours reached both ways
    (two-way chain). Chain minutes, metres and ferry minutes are summed, so every shortest path
    between kept nodes is preserved exactly. Parallel edges keep the fastest. With
    ``keep_class_changes`` nodes where the road class changes are kept too, so every contracted
    edge has a single class (used for storage); otherwise the class of a chain's first edge is kept.
    """
    n = graph.n_nodes
    e = min_parallel(graph.edges).with_columns(
        pl.when(pl.col("ferry").is_not_null()).then(pl.col("minutes")).otherwise(0.0).alias("ferry_minutes")
    )
    u = e["u"].to_numpy().astype(np.int64)
    v = e["v"].to_numpy().astype(np.int64)
    w = e["minutes"].to_numpy().astype(np.float64)
    ln = e["length_m"].to_numpy().astype(np.float64)
    fm = e["ferry_minutes"].to_numpy().astype(np.float64)
    indeg = np.bincount(v, minlength=n)
    outdeg = np.bincount(u, minlength=n)
    in_min = np.full(n, np.iinfo(np.int64).max)
    in_max = np.full(n, -1)
    np.minimum.at(in_min, v, u)
    np.maximum.at(in_max, v, u)
    out_min = np.full(n, np.iinfo(np.int64).max)
    out_max = np.full(n, -1)
    np.minimum.at(out_min, u, v)
    np.maximum.at(out_max, u, v)
    one_way_chain = (indeg == 1) & (outdeg == 1) & (in_min != out_min)
    two_way_chain = (indeg == 2) & (outdeg == 2) & (in_min == out_min) & (in_max == out_max)
    through = one_way_chain | two_way_chain
    if protected is not None and len(protected):
        through[np.asarray(protected, dtype=np.int64)] = False
    if keep_class_changes:
        cls = pl.concat([e.select(pl.col("u").alias("n"), "highway"), e.select(pl.col("v").alias("n"), "highway")])
        mixed = cls.group_by("n").agg(pl.col("highway").n_unique().alias("k")).filter(pl.col("k") > 1)["n"].to_numpy()
        through[mixed] = False
    # edges are sorted by u, so the out-edges of node x are start[x] .. start[x]+outdeg[x]-1
    start = np.concatenate([[0], np.cumsum(outdeg)[:-1]])
    head_through = through[v]
    nxt = np.full(len(u), -1, dtype=np.int64)
    idx = np.flatnonzero(head_through)
    first = start[v[idx]]
    second = np.where(outdeg[v[idx]] > 1, first + 1, first)
    nxt[idx] = np.where(v[first] != u[idx], first, second)
    roots = np.flatnonzero(~through[u])
    acc_w, acc_l, acc_f, last = w.copy(), ln.copy(), fm.copy(), np.arange(len(u))
    for _ in range(64):  # pointer jumping: chain length doubles each round
        live = nxt[roots] >= 0
        if not live.any():
            break
        m = nxt >= 0
        j = nxt[m]
        acc_w_new, acc_l_new, acc_f_new, last_new = acc_w.copy(), acc_l.copy(), acc_f.copy(), last.copy()
        acc_w_new[m] += acc_w[j]
        acc_l_new[m] += acc_l[j]
        acc_f_new[m] += acc_f[j]
        last_new[m] = last[j]
        nxt_new = nxt.copy()
        nxt_new[m] = nxt[j]
        acc_w, acc_l, acc_f, last, nxt = acc_w_new, acc_l_new, acc_f_new, last_new, nxt_new
    else:  # pragma: no cover - would need a chain longer than 2**64
        raise RuntimeError("degree-2 contraction did not converge")
    kept = np.flatnonzero(~through)
    new_id = np.full(n, -1, dtype=np.int64)
    new_id[kept] = np.arange(len(kept))
    cu = new_id[u[roots]]
    cv = new_id[v[last[roots]]]
    ce = pl.DataFrame(
        {"u": cu, "v": cv, "minutes": acc_w[roots], "length_m": acc_l[roots], "ferry_minutes": acc_f[roots],
         "highway": e["highway"].gather(roots), "ferry": e["ferry"].gather(roots)}
    )  # fmt: skip
    ce = min_parallel(ce)
    return Contracted(
        u=ce["u"].to_numpy(),
        v=ce["v"].to_numpy(),
        minutes=ce["minutes"].to_numpy(),
        metres=ce["length_m"].to_numpy(),
        ferry_minutes=ce["ferry_minutes"].to_numpy(),
        original=kept,
        highway=ce["highway"],
        ferry=ce["ferry"],
    )


def simplify(graph: RoadGraph) -> RoadGraph:
    """The graph with degree-2 chains contracted (class changes kept): same fastest routes between
    the remaining nodes, far fewer rows to store. Node ids are renumbered; lengths in metres."""
    c = contract(graph, keep_class_changes=True)
    nodes = graph.nodes[c.original].with_columns(pl.Series("node", np.arange(c.n_nodes, dtype=np.int32)))
    edges = pl.DataFrame(
        {
            "u": c.u.astype(np.int32),
            "v": c.v.astype(np.int32),
            "length_m": c.metres,
            "minutes": c.minutes,
            "highway": c.highway,
            "ferry": c.ferry,
        }
    )
    info = dict(graph.info)
    info["contraction"] = {
        "nodes_before": graph.n_nodes,
        "directed_edges_before": graph.n_edges,
        "nodes_after": c.n_nodes,
        "directed_edges_after": c.n_edges,
        "rule": "degree-2 chains (one-way or two-way) merged; nodes where the class changes kept",
    }
    return RoadGraph(nodes, edges, info)


# ---------------------------------------------------------------- storage


def save_graph(graph: RoadGraph, directory: str | Path) -> Path:
    """Write ``nodes.parquet``, ``edges.parquet`` and ``graph.json`` (info) into ``directory``.

    Compact: node ids Int32, coordinates Float32 (≈ 0.1 m), lengths Float32 metres, minutes Float32,
    class as a dictionary-encoded string. Rows sorted; reruns are byte-identical.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    nodes = graph.nodes.select(pl.col("node").cast(pl.Int32), pl.col("lon").cast(pl.Float32), pl.col("lat").cast(pl.Float32))
    edges = graph.edges.select(
        pl.col("u").cast(pl.Int32),
        pl.col("v").cast(pl.Int32),
        pl.col("length_m").cast(pl.Float32),
        pl.col("minutes").cast(pl.Float32),
        pl.col("highway").cast(pl.Categorical),
        pl.col("ferry"),
    ).sort("u", "v", "minutes", "highway")
    io.write_parquet(nodes, d / "nodes.parquet")
    io.write_parquet(edges, d / "edges.parquet")
    io.write_json(graph.info, d / "graph.json")
    return d


def load_graph(directory: str | Path) -> RoadGraph:
    """Read a graph written by :func:`save_graph` (columns back to Float64/Utf8)."""
    d = Path(directory)
    for name in ("nodes.parquet", "edges.parquet"):
        if not (d / name).is_file():
            raise InputError(
                f"road graph file missing: {name}",
                file=d / name,
                hint="build the graph with `pendling roads build --osm FILE` or `--tiles DIR`",
            )
    nodes = pl.read_parquet(d / "nodes.parquet").with_columns(pl.col("lon").cast(pl.Float64), pl.col("lat").cast(pl.Float64))
    edges = pl.read_parquet(d / "edges.parquet").with_columns(
        pl.col("length_m").cast(pl.Float64), pl.col("minutes").cast(pl.Float64), pl.col("highway").cast(pl.String)
    )
    info = json.loads((d / "graph.json").read_text(encoding="utf-8")) if (d / "graph.json").is_file() else {}
    return RoadGraph(nodes, edges, info)

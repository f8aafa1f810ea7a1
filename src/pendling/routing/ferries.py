"""Domestic car ferries as explicit graph edges from a documented table (``data/reference/ferries.csv``).

Why a table and not the ferry lines in the map: OSM ferry lines carry no crossing time, are cut at
the sea border and at tile buffers, and say nothing about boarding. Each table row gives the two
terminals (WGS84; the end points of the named OSM ferry line in the z13 tiles), the crossing time,
a boarding/waiting penalty (check-in or about half the headway) and any extra time outside the
graph (Bornholm's usual car route Rønne–Ystad + Ystad–Øresund Bridge–Kastrup through Sweden, which
the Danish map lacks). Edge minutes = crossing + wait + extra, both directions; edge km = the ``km``
column, or 1.1 × the straight line between the terminals when blank.

A terminal is snapped to the nearest road node that belongs to a road-only strongly connected
component of at least ``min_component`` nodes (so a ferry never lands on a dead-end stub), for
terminal b of class ``snap_class_b`` when given (e.g. the motorway at Kastrup), within ``max_snap_m`` metres; otherwise the ferry is skipped and reported.

Seasonal routes: the optional ``months`` column lists the months a route sails (``1-12`` all year,
``4-10`` April to October, ``11-3`` wrapping over New Year, or ``5,6,7``; blank = all year). The
graph is built for one month — by default November, the reference month of the registers'
employment and commuting statistics — and routes not sailing then are left out and reported.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from pendling._extras import optional
from pendling import paths
from pendling.errors import InputError
from pendling.io import sha256_file
from pendling.routing.graph import RoadGraph, component_labels, haversine_m

COLUMNS = {
    "route": pl.String,
    "terminal_a": pl.String,
    "lon_a": pl.Float64,
    "lat_a": pl.Float64,
    "terminal_b": pl.String,
    "lon_b": pl.Float64,
    "lat_b": pl.Float64,
    "crossing_minutes": pl.Float64,
    "wait_minutes": pl.Float64,
    "extra_minutes": pl.Float64,
    "km": pl.Float64,
    "snap_class_b": pl.String,
    "source": pl.String,
}
OPTIONAL = {"months": pl.String}
SEA_DETOUR = 1.1
DEFAULT_MONTH = 11  # end of November: the reference time of DST's employment/commuting registers


def months_set(spec: str | None) -> set[int] | None:
    """Months (1–12) of a ``months`` cell: '1-12', '4-10', '11-3' (wraps), '5,6,7'; None/blank = all
    year; returns None when the text is not a month list."""
    if spec is None or not str(spec).strip():
        return set(range(1, 13))
    out: set[int] = set()
    for part in str(spec).replace(" ", "").split(","):
        a, dash, b = part.partition("-")
        if not a.isdigit() or (dash and not b.isdigit()):
            return None
        lo, hi = int(a), int(b) if b else int(a)
        if not (1 <= lo <= 12 and 1 <= hi <= 12):
            return None
        out |= set(range(lo, hi + 1)) if lo <= hi else set(range(lo, 13)) | set(range(1, hi + 1))
    return out


def default_ferries_path() -> Path:
    return paths.reference_dir() / "ferries.csv"


def load_ferries(path: str | Path | None = None) -> pl.DataFrame:
    """Read and check the ferry table (minutes in minutes, km in km); InputError on bad rows."""
    p = Path(path) if path is not None else default_ferries_path()
    if not p.is_file():
        raise InputError("ferry table not found", file=p, hint="pass --ferries FILE or restore data/reference/ferries.csv")
    df = pl.read_csv(p, schema_overrides=COLUMNS | OPTIONAL)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError("ferry table lacks columns", file=p, column=", ".join(missing), hint=f"columns: {', '.join(COLUMNS)}")
    if "months" not in df.columns:
        df = df.with_columns(pl.lit(None, dtype=pl.String).alias("months"))
    bad_months = [f"{r}: {m!r}" for r, m in df.select("route", "months").iter_rows() if months_set(m) is None]
    if bad_months:
        raise InputError("ferry rows with an unreadable months value", file=p, column="months", values=bad_months,
                         hint="write e.g. 1-12 (all year), 4-10, 11-3 or 5,6,7")  # fmt: skip
    df = df.select([*COLUMNS, "months"]).with_columns(
        pl.col("wait_minutes").fill_null(0.0), pl.col("extra_minutes").fill_null(0.0)
    )
    bad = df.filter(
        pl.col("crossing_minutes").is_null() | (pl.col("crossing_minutes") <= 0) | (pl.col("wait_minutes") < 0)
        | (pl.col("extra_minutes") < 0) | ~pl.col("lon_a").is_between(-180, 180) | ~pl.col("lat_a").is_between(-90, 90)
        | ~pl.col("lon_b").is_between(-180, 180) | ~pl.col("lat_b").is_between(-90, 90)
        | pl.col("lon_a").is_null() | pl.col("lat_a").is_null() | pl.col("lon_b").is_null() | pl.col("lat_b").is_null()
    )  # fmt: skip
    if bad.height:
        raise InputError(
            "ferry rows with missing/invalid terminals or minutes",
            file=p,
            column="crossing_minutes, wait_minutes, lon_a, lat_a, lon_b, lat_b",
            values=bad["route"].to_list(),
            hint="crossing_minutes > 0, wait/extra ≥ 0, coordinates in WGS84 degrees",
        )
    dup = df.filter(pl.col("route").is_duplicated())["route"].unique().to_list()
    if dup:
        raise InputError("duplicate ferry route names", file=p, column="route", values=dup)
    straight = haversine_m(df["lon_a"], df["lat_a"], df["lon_b"], df["lat_b"]) / 1000.0
    return df.with_columns(
        pl.col("km").fill_null(pl.Series(straight * SEA_DETOUR)),
        (pl.col("crossing_minutes") + pl.col("wait_minutes") + pl.col("extra_minutes")).alias("minutes"),
    ).sort("route")


def _project(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """WGS84 → ETRS89 / UTM 32N (EPSG:25832) metres, for nearest-node searches."""
    Transformer = optional("pyproj", "routing").Transformer

    tr = Transformer.from_crs("EPSG:4326", "EPSG:25832", always_xy=True)
    x, y = tr.transform(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    return np.column_stack([x, y])


def add_ferries(
    graph: RoadGraph,
    table: pl.DataFrame,
    *,
    min_component: int = 50,
    max_snap_m: float = 3000.0,
    month: int | None = DEFAULT_MONTH,
) -> tuple[RoadGraph, pl.DataFrame]:
    """Add ferry edges to a road graph; return the graph and a per-terminal snapping report.

    Only routes sailing in ``month`` (1–12; None = every route in the table) are added; the others
    are listed in ``info['ferries']['routes_out_of_season']``.

    The report has ``route``, ``end`` ('a'/'b'), ``terminal``, ``node`` (null if not snapped),
    ``snap_m`` (metres) and ``status`` ('ok' | 'no road within max_snap_m').
    """
    from scipy.spatial import cKDTree

    if month is not None and not 1 <= int(month) <= 12:
        raise InputError("the ferry month must be 1–12", values=[month], hint="e.g. --month 11 (November)")
    all_routes = table
    if month is not None and "months" in table.columns:
        # a few dozen rows: a comprehension over the month lists is clearest
        sails = pl.Series([int(month) in (months_set(m) or set()) for m in table["months"]], dtype=pl.Boolean)
        table = table.filter(sails)
    out_of_season = sorted(set(all_routes["route"]) - set(table["route"]))
    labels = component_labels(graph.edges, graph.n_nodes)
    sizes = np.bincount(labels)
    eligible_node = sizes[labels] >= min_component
    nodes_xy = _project(graph.nodes["lon"].to_numpy(), graph.nodes["lat"].to_numpy())
    trees: dict[str | None, tuple[np.ndarray, cKDTree | None]] = {}
    rows = []
    for end in ("a", "b"):
        for r in table.iter_rows(named=True):  # a few dozen ferries: a plain loop is clearest
            cls = r["snap_class_b"] if end == "b" else None
            if cls not in trees:
                mask = eligible_node.copy()
                if cls:
                    touching = np.zeros(graph.n_nodes, dtype=bool)
                    sel = graph.edges.filter(pl.col("highway") == cls)
                    touching[sel["u"].to_numpy()] = True
                    touching[sel["v"].to_numpy()] = True
                    mask &= touching
                idx = np.flatnonzero(mask)
                trees[cls] = (idx, cKDTree(nodes_xy[idx]) if len(idx) else None)
            idx, tree = trees[cls]
            xy = _project(np.array([r[f"lon_{end}"]]), np.array([r[f"lat_{end}"]]))
            if tree is None:
                dist, node = np.inf, -1
            else:
                d, i = tree.query(xy[0])
                dist, node = float(d), int(idx[i])
            ok = dist <= max_snap_m
            rows.append(
                {
                    "route": r["route"],
                    "end": end,
                    "terminal": r[f"terminal_{end}"],
                    "node": node if ok else None,
                    "snap_m": round(dist, 1) if np.isfinite(dist) else None,
                    "status": "ok" if ok else f"no road within {max_snap_m:.0f} m",
                }
            )
    report = pl.DataFrame(rows, schema={"route": pl.String, "end": pl.String, "terminal": pl.String, "node": pl.Int64, "snap_m": pl.Float64, "status": pl.String}).sort("route", "end")
    ends = report.pivot(on="end", index="route", values="node")
    # with no route left (all out of season) the pivot has no end columns
    ends = ends.with_columns(pl.lit(None, dtype=pl.Int64).alias(c) for c in ("a", "b") if c not in ends.columns)
    t = table.join(ends, on="route", how="left").filter(pl.col("a").is_not_null() & pl.col("b").is_not_null())
    fwd = t.select(pl.col("a").alias("u"), pl.col("b").alias("v"), "km", "minutes", "route")
    bwd = t.select(pl.col("b").alias("u"), pl.col("a").alias("v"), "km", "minutes", "route")
    fe = pl.concat([fwd, bwd]).select(
        pl.col("u").cast(pl.Int32),
        pl.col("v").cast(pl.Int32),
        (pl.col("km") * 1000.0).alias("length_m"),
        pl.col("minutes").cast(pl.Float64),
        pl.lit("ferry").alias("highway"),
        pl.col("route").alias("ferry"),
    )
    edges = pl.concat([graph.edges, fe]).sort("u", "v", "minutes", "highway")
    info = dict(graph.info)
    info["ferries"] = {
        "routes_in_table": all_routes.height,
        "month": month,
        "routes_out_of_season": out_of_season,
        "routes_added": t.height,
        "routes_skipped": sorted(set(table["route"]) - set(t["route"])),
        "max_snap_m": round(float(report["snap_m"].max() or 0.0), 1),
        "snapping": report.to_dicts(),
    }
    return RoadGraph(graph.nodes, edges, info), report


def ferry_table_hash(path: str | Path | None = None) -> str:
    return sha256_file(Path(path) if path is not None else default_ferries_path())

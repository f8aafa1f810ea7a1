"""End-to-end builders: OSM file or vector tiles → road graph; graph + points → the shipped matrix
files (long Parquet, wide CSV, provenance.json), and the matrix sanity report.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import polars as pl

from pendling import io, paths
from pendling.errors import InputError
from pendling.routing import internal as internal_mod
from pendling.routing.ferries import DEFAULT_MONTH, add_ferries, default_ferries_path, load_ferries
from pendling.routing.graph import RoadGraph, assemble, keep_largest_component
from pendling.routing.graph import simplify as simplify_graph
from pendling.routing.matrix import Internal, municipality_points, travel_time_matrix
from pendling.routing.profile import CarProfile, load_profile

if TYPE_CHECKING:
    import geopandas as gpd

Progress = Callable[[int, int], None]


def display_path(p: str | Path | None) -> str | None:
    """A path as recorded in provenance: relative to the repository root when possible, so that
    builds in different checkouts write the same bytes."""
    if p is None:
        return None
    root = paths.repo_root()
    q = Path(p)
    if root is None or not q.exists():
        return str(p)
    rel = os.path.relpath(q.resolve(), root.resolve())
    return Path(rel).as_posix() if not rel.startswith("../..") else str(q.resolve())


def tiles_manifest_sha256(files: list[Path], root: Path) -> str:
    """sha256 over 'relative/path<TAB>sha256' lines of every tile used (a stable id of the tile set)."""
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.relative_to(root).as_posix()}\t{io.sha256_file(f)}\n".encode())
    return h.hexdigest()


def build_graph(
    osm: str | Path | None = None,
    tiles: str | Path | None = None,
    *,
    profile: CarProfile | str | Path | None = None,
    ferries: pl.DataFrame | str | Path | Literal[False] | None = None,
    keep_largest: bool = True,
    simplify: bool = True,
    osm_date: str | None = None,
    ferry_month: int | None = DEFAULT_MONTH,
    workers: int = 2,
    progress: Progress | None = None,
) -> RoadGraph:
    """Build the car road graph from an OSM file (``.osm``/``.osm.pbf``) or a vector-tile directory.

    ``ferries``: None → the shipped ferry table, a path or frame → that table, False → no ferries;
    ``ferry_month`` (1–12, default November; None = all routes) leaves out seasonal routes that do
    not sail in that month. Tile input also reads the tiles' landuse to mark built-up areas, where
    the profile's urban speeds and junction factor apply.
    With ``keep_largest`` only the largest strongly connected component is kept and everything
    dropped is reported in ``graph.info['dropped_components']``. With ``simplify`` degree-2 chains
    are contracted (class changes kept; see :func:`pendling.routing.graph.simplify`), so points
    snap to junctions, dead ends and class changes. Lengths in metres, minutes in
    minutes; values are rounded to the Float32 storage precision so a saved and reloaded graph
    routes exactly like the in-memory one.
    """
    if (osm is None) == (tiles is None):
        raise InputError("give exactly one of --osm FILE or --tiles DIR", hint="e.g. pendling roads build --osm roads.osm.pbf")
    prof = profile if isinstance(profile, CarProfile) else load_profile(profile)
    if osm is not None:
        from pendling.routing.osm import read_osm

        seg, nodes, info = read_osm(osm)
        source = {"kind": "osm", "file": display_path(osm), "sha256": io.sha256_file(osm), "osm_date": osm_date or info.get("osm_timestamp")}
    else:
        from pendling.routing.tiles import read_tiles, tile_files

        root = Path(tiles)
        files = tile_files(root)
        seg, nodes, info = read_tiles(root, workers=workers, progress=progress)
        if prof.urban_speeds_kmh or prof.urban_junction_factor != 1.0:
            from pendling.routing.landcover import read_landcover

            cells, _ = read_landcover(root, workers=workers)
            seg, info["builtup"] = classify_builtup(seg, cells, prof)
        source = {
            "kind": "vector_tiles",
            "file": display_path(root),
            "sha256": tiles_manifest_sha256(files, root),
            "sha256_of": "manifest of 'relative path<TAB>sha256' lines of the z13 tiles",
            "osm_date": osm_date,
        }
    graph = assemble(seg, nodes, prof)
    graph.info = {"source": source, "reader": info, **graph.info, "profile": prof.as_dict() | {"file": display_path(prof.path)}}
    if ferries is not False:
        table = ferries if isinstance(ferries, pl.DataFrame) else load_ferries(ferries)
        graph, _ = add_ferries(graph, table, month=ferry_month)
        fpath = default_ferries_path() if ferries is None else (ferries if not isinstance(ferries, pl.DataFrame) else None)
        graph.info["ferries"]["table"] = display_path(fpath) if fpath is not None else "<DataFrame>"
        graph.info["ferries"]["sha256"] = io.sha256_file(fpath) if fpath is not None else None
    if keep_largest:
        graph, _ = keep_largest_component(graph)
    if simplify:
        graph = simplify_graph(graph)
    graph.nodes = graph.nodes.with_columns(pl.col("lon", "lat").cast(pl.Float32).cast(pl.Float64))
    graph.edges = graph.edges.with_columns(pl.col("length_m", "minutes").cast(pl.Float32).cast(pl.Float64))
    graph.info["graph"] = {"nodes": graph.n_nodes, "directed_edges": graph.n_edges}
    return graph


def classify_builtup(seg: pl.DataFrame, cells: pl.DataFrame, profile: CarProfile) -> tuple[pl.DataFrame, dict]:
    """Mark tile segments inside built-up areas (``urban`` column) with the profile's ``[builtup]``
    rule; return them and a summary for provenance (cells read, rule, share of segments)."""
    from pendling.routing.landcover import classify_segments

    window = int(profile.builtup.get("window_cells", 3))
    share = float(profile.builtup.get("min_share", 0.5))
    urban = classify_segments(seg, cells, window_cells=window, min_share=share)
    summary = {
        "landcover_cells": cells.height,
        "rule": f"segment midpoint's share of residential/commercial/retail/industrial landuse over a {window}x{window} window of 128-px (82–89 m) cells ≥ {share}",
        "segments_builtup": int(urban.sum()),
        "segments": seg.height,
    }
    return seg.with_columns(urban), summary


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("pendling", "polars", "numpy", "scipy", "pyproj", "osmium", "mapbox-vector-tile"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _build_date() -> str:
    """UTC date of the build, or SOURCE_DATE_EPOCH's date (for fully reproducible provenance)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else dt.datetime.now(dt.UTC)
    return when.date().isoformat()


def build_matrix(
    graph: RoadGraph | None,
    *,
    points: pl.DataFrame | Literal["centroid", "inside"] = "inside",
    points_label: str | None = None,
    internal: Internal = "area",
    profile: CarProfile | str | Path | None = None,
    backend: Literal["graph", "osrm"] = "graph",
    osrm_url: str | None = None,
    out_dir: str | Path | None = None,
    graph_dir: str | Path | None = None,
    areas: gpd.GeoDataFrame | None = None,
    areas_label: str | None = None,
    internal_sources: int = internal_mod.DEFAULT_SOURCES,
) -> tuple[pl.DataFrame, dict]:
    """Compute the matrix and write ``od_matrix.parquet``, ``od_matrix_wide.csv`` and
    ``provenance.json`` into ``out_dir`` (default: the shipped ``data/od_matrix``).

    Municipality point sets give Int16 codes and must cover the 98 municipalities; the output is
    validated with :func:`pendling.odmatrix.validate_matrix` unless ``internal='zero'``. Any
    unreachable pair raises InputError naming the pairs. ``internal='network'`` uses ``areas``
    (default: the 98 municipality polygons) and ``internal_sources`` (K); its method, K, M, weights
    and seed go into provenance ``internal``.
    """
    from pendling import odmatrix

    prof = profile if isinstance(profile, CarProfile) else load_profile(profile)
    if isinstance(points, str):
        label = points_label or f"municipalities:{points}"
        pts = municipality_points(points)
    else:
        label = points_label or "custom points"
        pts = points
    df = travel_time_matrix(graph, pts, internal=internal, profile=prof, backend=backend, osrm_url=osrm_url,
                            areas=areas, internal_sources=internal_sources)  # fmt: skip
    unreachable = df.filter(pl.col("minutes").is_null())
    if unreachable.height:
        raise InputError(
            f"{unreachable.height} origin–destination pairs are unreachable on this graph",
            column="origin, destination",
            values=unreachable.select(pl.format("{}→{}", "origin", "destination")).to_series().to_list(),
            hint="build the graph with the largest strongly connected component kept and the ferry table, "
            "or check the point coordinates",
        )
    matrix = df.select(
        pl.col("origin").cast(pl.Int16) if isinstance(points, str) else pl.col("origin"),
        pl.col("destination").cast(pl.Int16) if isinstance(points, str) else pl.col("destination"),
        "minutes",
        "km",
        "ferry_minutes",
    ).sort("origin", "destination")
    if isinstance(points, str) and internal in ("area", "network"):
        matrix = odmatrix.validate_matrix(matrix)
    out = Path(out_dir) if out_dir is not None else paths.od_matrix_dir()
    snaps = df.filter(pl.col("origin") == pl.col("destination")).select(pl.col("origin").alias("code"), pl.col("snap_m_origin").alias("snap_m"))
    prov = {
        "description": "Car travel-time matrix between municipality points (pendling routing)",
        "licence": "ODbL 1.0 — © OpenStreetMap contributors",
        "backend": backend,
        "osrm_url": osrm_url if backend == "osrm" else None,
        "input": (graph.info.get("source") if graph is not None else None),
        "graph": (
            {k: graph.info.get(k) for k in ("graph", "largest_component", "dropped_components", "reader")}
            | {"saved_in": display_path(graph_dir) if graph_dir else None}
            if graph is not None
            else None
        ),
        "ferries": (
            {k: v for k, v in graph.info.get("ferries", {}).items() if k != "snapping"} if graph is not None else None
        ),
        "profile": prof.as_dict() | {"file": display_path(prof.path)},
        "points": {"set": label, "n": pts.height},
        "snapping": {
            "access_speed_kmh": prof.access_speed_kmh,
            "snap_m_median": round(float(snaps["snap_m"].median()), 1),
            "snap_m_max": round(float(snaps["snap_m"].max()), 1),
            "snap_m_by_code": {str(c): round(float(m), 1) for c, m in snaps.iter_rows()},
        },
        "internal": (
            _network_provenance(df, internal_sources, areas_label or ("municipalities" if areas is None else "custom areas"))
            if internal == "network"
            else {
                "mode": internal,
                "formula": "km = 128/(45*pi) * sqrt(area_km2/pi) * detour; minutes = km / speed_kmh * 60 + terminal_minutes",
                "detour": prof.internal_detour,
                "speed_kmh": prof.internal_speed_kmh,
                "terminal_minutes": prof.internal_terminal_minutes,
            }
        ),
        "units": {"minutes": "minutes", "km": "road km of the fastest route", "ferry_minutes": "minutes on ferries (crossing + wait + extra)"},
        "software": _versions(),
        "build_date": _build_date(),
        "command": " ".join(Path(a).name if i == 0 else (display_path(a) if os.path.exists(a) else a) for i, a in enumerate(sys.argv)),
    }
    io.write_parquet(matrix, out / "od_matrix.parquet")
    if isinstance(points, str):
        wide = odmatrix.to_wide(matrix, "minutes").with_columns(pl.exclude("origin").round(2))
    else:
        wide = matrix.sort("origin", "destination").pivot(on="destination", index="origin", values="minutes", sort_columns=True)
    io.write_csv(wide, out / "od_matrix_wide.csv")
    io.write_json(prov, out / "provenance.json")
    return matrix, prov


def _network_provenance(df: pl.DataFrame, sources: int, areas_label: str) -> dict:
    """Provenance of ``internal='network'``: the method and parameters, and the diagonal per code."""
    diag = df.filter(pl.col("origin") == pl.col("destination")).sort("origin")
    return internal_mod.settings(sources=sources) | {
        "areas": areas_label,
        "minutes_by_code": {str(c): round(float(m), 3) for c, m in diag.select("origin", "minutes").iter_rows()},
        "km_by_code": {str(c): round(float(k), 3) for c, k in diag.select("origin", "km").iter_rows()},
    }


class MatrixCheck(dict):
    """What :func:`check_matrix` found: a plain dict (keys as documented there) that prints as a
    short summary; ``dict(check)`` or ``check['slowest']`` for the details."""

    def _summary(self) -> tuple[str, list[tuple[str, str]], list[str]]:
        worst = self.get("slowest") or [{}]
        med, mx = self.get("symmetry_ratio_median"), self.get("symmetry_ratio_max")
        rows = [
            ("pairs", f"{self.get('pairs', 0):,} over {self.get('municipalities', 0)} municipalities, "
                      f"{self.get('unreachable_pairs', 0)} unreachable"),
            ("symmetry", "–" if med is None else f"t(o,d)/t(d,o) median {med:.3f}, max {mx:.3f}"),
            ("triangle", f"{self.get('triangle_violations', 0):,} violations beyond "
                         f"{self.get('triangle_tolerance_minutes', 0)} min "
                         f"(worst +{self.get('triangle_worst_excess_minutes', 0)} min)"),
        ]
        if worst[0]:
            w = worst[0]
            rows.append(("slowest", f"{w['origin']} → {w['destination']}: {w['minutes']:.1f} min, {w['km']:.1f} km"))
        return "Matrix check", rows, ["check['slowest']", "dict(check)"]

    def __repr__(self) -> str:
        from pendling import _summary as S

        return S.text(*self._summary())

    def _repr_html_(self) -> str:
        from pendling import _summary as S

        return S.html_table(*self._summary())


def check_matrix(df: pl.DataFrame, *, tolerance_min: float = 0.5, top: int = 10) -> MatrixCheck:
    """Sanity report on a long matrix (minutes): symmetry, triangle inequality, unreachable, slowest.

    * symmetry: ratio t(o,d)/t(d,o) over off-diagonal pairs (median, max);
    * triangle: triples (a, b, c) with t(a,c) > t(a,b) + t(b,c) + ``tolerance_min`` (minutes;
      a, b, c distinct; the access legs make tiny violations possible, hence the tolerance). An
      unreachable (a, c) that is reachable via some b counts as a violation; the worst excess is over
      the finite ones (0 if none);
    * unreachable: off-diagonal pairs with null, NaN or infinite minutes, or absent from ``df``;
    * slowest: the ``top`` slowest off-diagonal pairs.
    """
    cells = _square_minutes(df)
    n = cells["origin"].n_unique()
    off = pl.col("origin") != pl.col("destination")
    finite = pl.col("t").is_finite()
    unreachable = cells.filter(off & ~finite).height
    back = cells.select(pl.col("destination").alias("origin"), pl.col("origin").alias("destination"), pl.col("t").alias("back"))
    ratio = (
        cells.filter(off)
        .join(back, on=["origin", "destination"])
        .select((pl.col("t") / pl.col("back")).alias("ratio"))
        .filter(pl.col("ratio").is_finite())["ratio"]
    )
    # every a → b → c with both legs finite (a ≠ b ≠ c ≠ a) against the direct a → c: n³ rows at most,
    # under a million for the 98 municipalities
    legs = cells.lazy().filter(off & finite)
    via = (
        legs.select(pl.col("origin").alias("a"), pl.col("destination").alias("b"), pl.col("t").alias("ab"))
        .join(legs.select(pl.col("origin").alias("b"), pl.col("destination").alias("c"), pl.col("t").alias("bc")), on="b")
        .filter(pl.col("a") != pl.col("c"))
        .join(
            cells.lazy().select(
                pl.col("origin").alias("a"),
                pl.col("destination").alias("c"),
                pl.when(finite).then(pl.col("t")).otherwise(float("inf")).alias("ac"),
            ),
            on=["a", "c"],
        )
        .select((pl.col("ac") - (pl.col("ab") + pl.col("bc"))).alias("excess"))
    )
    tri = via.select(
        (pl.col("excess") > tolerance_min).sum().alias("violations"),
        pl.col("excess").filter(pl.col("excess").is_finite()).max().alias("worst"),
    ).collect()
    worst = tri["worst"].item()
    slow = df.filter(pl.col("origin") != pl.col("destination")).sort("minutes", descending=True, nulls_last=True).head(top)
    return MatrixCheck({
        "municipalities": n,
        "pairs": int(df.height),
        "unreachable_pairs": unreachable,
        "symmetry_ratio_median": float(ratio.median()) if ratio.len() else None,
        "symmetry_ratio_max": float(ratio.max()) if ratio.len() else None,
        "triangle_violations": int(tri["violations"].item()),
        "triangle_worst_excess_minutes": round(max(worst, 0.0) if worst is not None else 0.0, 3),
        "triangle_tolerance_minutes": tolerance_min,
        "slowest": slow.select("origin", "destination", "minutes", "km").to_dicts(),
    })


def _square_minutes(df: pl.DataFrame) -> pl.DataFrame:
    """Every (origin, destination) over the codes present, ``t`` = minutes (Float64; NaN where null or
    absent). A pair listed twice keeps its last row."""
    pairs = df.select("origin", "destination", pl.col("minutes").cast(pl.Float64).alias("t"))
    codes = (
        pl.concat([pairs.select(code="origin"), pairs.select(code="destination")], how="vertical_relaxed")
        .to_series()
        .unique()
        .sort()
    )
    pairs = pairs.with_columns(pl.col("origin", "destination").cast(codes.dtype)).unique(
        ["origin", "destination"], keep="last", maintain_order=True
    )
    return (
        codes.to_frame("origin")
        .join(codes.to_frame("destination"), how="cross")
        .join(pairs, on=["origin", "destination"], how="left", maintain_order="left")
        .with_columns(pl.col("t").fill_null(float("nan")))
    )

"""`pendling matrix …`: build, look up and sanity-check the 98×98 travel-time matrix; route any zone pairs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pendling import paths
from pendling._extras import optional
from pendling.cli._common import console, friendly_errors, print_frame, progress
from pendling.cli.roads import default_graph_dir
from pendling.errors import InputError

if TYPE_CHECKING:  # polars, pendling.routing (scipy) and odmatrix are imported where used: --help stays fast
    import polars as pl

app = typer.Typer(no_args_is_help=True)


@app.command("build")
@friendly_errors
def build(
    graph: Annotated[Path | None, typer.Option(help="Road graph directory from `pendling roads build` (default data/roads).")] = None,
    osm: Annotated[Path | None, typer.Option(help="Build the graph from this OSM file first (not saved).")] = None,
    tiles: Annotated[Path | None, typer.Option(help="Build the graph from this vector-tile directory first.")] = None,
    points: Annotated[str, typer.Option(help="'inside', 'centroid' or a CSV/Parquet file with code, lon, lat[, area_km2].")] = "inside",
    internal: Annotated[
        str, typer.Option(help="Diagonal: 'area' (from municipality area), 'network' (sampled trips on the road graph) or 'zero'.")
    ] = "area",
    areas: Annotated[
        Path | None,
        typer.Option(help="Polygons with a code column (GeoPackage/GeoJSON/GeoParquet) for --internal network; "
                     "default: the 98 municipalities."),  # fmt: skip
    ] = None,
    internal_sources: Annotated[int, typer.Option(help="Sampled source nodes (K) per municipality for --internal network.", min=2)] = 32,
    backend: Annotated[str, typer.Option(help="'graph' (scipy Dijkstra) or 'osrm' (an OSRM table service).")] = "graph",
    osrm_url: Annotated[str | None, typer.Option(help="OSRM server URL for --backend osrm.")] = None,
    profile: Annotated[Path | None, typer.Option(help="Car profile TOML.")] = None,
    osm_date: Annotated[str | None, typer.Option(help="Date of the OSM data (with --osm/--tiles).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output directory (default data/od_matrix).")] = None,
) -> None:
    """Compute the matrix and write od_matrix.parquet, od_matrix_wide.csv and provenance.json."""
    from pendling import routing

    if internal not in ("area", "network", "zero"):
        raise InputError("--internal must be 'area', 'network' or 'zero'", values=[internal])
    g = None
    gdir = None
    with progress(transient=True) as bar:
        task = bar.add_task("building road graph", total=None)
        if osm is not None or tiles is not None:
            g = routing.build_graph(osm=osm, tiles=tiles, profile=profile, osm_date=osm_date)
        elif backend == "graph":
            gdir = graph or default_graph_dir()
            g = routing.load_graph(gdir)
        bar.update(task, description="routing")
        pts: "pl.DataFrame | str"  # quoted: polars comes with routing, it is not imported here
        if points in ("inside", "centroid"):
            pts, label = points, f"municipalities:{points}"
        else:
            pts, label = routing.read_points(points), f"file:{points}"
        polys = _read_areas(areas) if areas is not None else None
        if internal == "network":
            bar.update(task, description="routing (network internal time: about a minute for 98 municipalities)")
        matrix, prov = routing.build_matrix(
            g, points=pts, points_label=label, internal=internal, profile=profile,  # type: ignore[arg-type]
            backend=backend, osrm_url=osrm_url, out_dir=out, graph_dir=gdir,  # type: ignore[arg-type]
            areas=polys, areas_label=f"file:{areas}" if areas is not None else None, internal_sources=internal_sources,
        )  # fmt: skip
    target = out or paths.od_matrix_dir()
    console.print(
        f"Wrote {matrix.height:,} pairs to {Path(target).resolve()} "
        f"(snap distance median {prov['snapping']['snap_m_median']} m, max {prov['snapping']['snap_m_max']} m)"
    )
    if internal == "zero":
        console.print("[yellow]note:[/] --internal zero puts 0 minutes on the diagonal; pendling compute counts "
                      "persons with an earlier time of 0 as zero_time_before (see --method report)")


def _read_areas(path: Path):
    """Polygons for --internal network from a GeoPackage/GeoJSON/Shapefile or GeoParquet file."""
    gpd = optional("geopandas", "routing", "--areas")

    if not path.is_file():
        raise InputError("area polygon file not found", file=path, hint="give a GeoPackage/GeoJSON/GeoParquet with a code column")
    try:
        return gpd.read_parquet(path) if path.suffix.lower() == ".parquet" else gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file for the user
        raise InputError(
            f"cannot read area polygons: {exc}", file=path, hint="a GeoPackage/GeoJSON/GeoParquet with a code column"
        ) from None


@app.command("show")
@friendly_errors
def show(
    from_: Annotated[int, typer.Option("--from", help="Origin municipality code, e.g. 101.")],
    to: Annotated[int, typer.Option("--to", help="Destination municipality code, e.g. 751.")],
    matrix: Annotated[Path | None, typer.Option(help="Matrix file (default: the shipped one).")] = None,
) -> None:
    """Travel time (minutes), road km and ferry minutes for one origin→destination pair, both ways."""
    import polars as pl

    from pendling import odmatrix

    df = odmatrix.load_matrix(matrix)
    rows = [odmatrix.lookup(df, from_, to), odmatrix.lookup(df, to, from_)] if from_ != to else [odmatrix.lookup(df, from_, to)]
    out = pl.DataFrame(rows)
    out = out.with_columns((pl.col("minutes") / 60).floor().cast(pl.Int64).alias("h"), (pl.col("minutes") % 60).round(0).alias("min"))
    print_frame(out, title=f"{from_} → {to}")


@app.command("check")
@friendly_errors
def check(
    matrix: Annotated[Path | None, typer.Option(help="Matrix file (default: the shipped one).")] = None,
    tolerance: Annotated[float, typer.Option(help="Triangle-inequality tolerance in minutes.")] = 0.5,
) -> None:
    """Sanity report: symmetry ratio, triangle-inequality violations, unreachable and slowest pairs."""
    import polars as pl

    from pendling import odmatrix, routing

    df = odmatrix.load_matrix(matrix)
    rep = routing.check_matrix(df, tolerance_min=tolerance)
    console.print(f"municipalities: {rep['municipalities']}, pairs: {rep['pairs']:,}")
    console.print(f"unreachable pairs: {rep['unreachable_pairs']}")
    console.print(
        f"symmetry t(o,d)/t(d,o): median {rep['symmetry_ratio_median']:.4f}, max {rep['symmetry_ratio_max']:.4f}"
    )
    console.print(
        f"triangle-inequality violations (> {rep['triangle_tolerance_minutes']} min): {rep['triangle_violations']:,} "
        f"(worst excess {rep['triangle_worst_excess_minutes']} min)"
    )
    print_frame(pl.DataFrame(rep["slowest"]), title="slowest pairs")


@app.command("pairs")
@friendly_errors
def pairs(
    pairs_file: Annotated[Path, typer.Option("--pairs", help="Parquet/CSV with origin, destination zone ids.")],
    out: Annotated[Path, typer.Option(help="Output table (.parquet or .csv): the pairs + minutes, km, ferry_minutes, status.")],
    zones: Annotated[str, typer.Option(help="Zone system: municipality, grid100m, grid1km, grid10km or points.")] = "municipality",
    points: Annotated[Path | None, typer.Option(help="For --zones points: CSV/Parquet with zone and x, y (EPSG:25832) or lon, lat.")] = None,
    graph: Annotated[Path | None, typer.Option(help="Road graph directory (default data/roads).")] = None,
    engine: Annotated[str, typer.Option(help="'auto', 'ch' (contraction hierarchies) or 'dijkstra'.")] = "auto",
    max_snap_m: Annotated[float | None, typer.Option(help="Largest snap distance to a road node in metres (default 2500).")] = None,
    on_invalid: Annotated[str, typer.Option(help="Ids that are not zones: 'error' (stop) or 'null' (count, no times).")] = "error",
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write routed pairs in the user cache.")] = False,
) -> None:
    """Car minutes, road km and ferry minutes for every origin→destination row of a pair file."""
    import polars as pl

    from pendling import io, routing
    from pendling.routing.pairs import last_summary

    if not pairs_file.is_file():
        raise InputError("pair file not found", file=pairs_file, hint="a Parquet or CSV file with origin and destination columns")
    suffix = pairs_file.suffix.lower()
    if suffix in (".parquet", ".pq"):
        df = pl.read_parquet(pairs_file)
    elif suffix == ".csv":
        df = pl.read_csv(pairs_file, infer_schema_length=0)  # ids as text, exactly as written
    else:
        raise InputError("pair file must be .parquet or .csv", file=pairs_file, values=[pairs_file.suffix])
    io.table_suffix(out)
    g = routing.load_graph(graph or default_graph_dir())
    with progress(transient=True) as bar:
        task = bar.add_task("routing pairs", total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            result = routing.pair_times(
                df, zones, graph=g, points=points, engine=engine, max_snap_m=max_snap_m,  # type: ignore[arg-type]
                cache=not no_cache, on_invalid=on_invalid, progress=tick,  # type: ignore[arg-type]
            )  # fmt: skip
        except InputError as exc:
            if exc.file is None:
                exc.file = str(pairs_file)
            raise
    io.write_table(result, out)
    s = last_summary()
    console.print(
        f"Wrote {result.height:,} pairs to {out}: {s.routed:,} routed, {s.same_zone:,} within a zone, "
        f"{s.not_routable:,} without a time (engine {s.engine}; {s.node_pairs_routed:,} node pairs routed, "
        f"{s.node_pairs_cached:,} from the cache)"
    )
    if s.not_routable:
        counts = result.filter(~pl.col("status").is_in(["ok", "same_zone"]))["status"].value_counts(sort=True)
        print_frame(counts, title="pairs without a time, by reason")

"""`pendling roads …`: build the car road graph from OpenStreetMap or OpenMapTiles vector tiles."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pendling import paths
from pendling.cli._common import console, friendly_errors, print_frame, progress

# polars and pendling.routing (scipy) are imported where used: `pendling roads --help` stays fast

app = typer.Typer(no_args_is_help=True)


def default_graph_dir() -> Path:
    return paths.roads_dir()


@app.command("build")
@friendly_errors
def build(
    osm: Annotated[Path | None, typer.Option(help="OpenStreetMap file (.osm XML or .osm.pbf).")] = None,
    tiles: Annotated[Path | None, typer.Option(help="Directory of OpenMapTiles vector tiles ({z}/{x}/{y}.pbf).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output directory for nodes/edges Parquet (default data/roads).")] = None,
    profile: Annotated[Path | None, typer.Option(help="Car profile TOML (default data/reference/car_profile.toml).")] = None,
    ferries: Annotated[Path | None, typer.Option(help="Ferry table CSV (default data/reference/ferries.csv).")] = None,
    no_ferries: Annotated[bool, typer.Option("--no-ferries", metavar="", help="Do not add ferry edges.")] = False,
    month: Annotated[int, typer.Option(help="Month the ferry network is for (1-12; 0 = every route in the table). Default November, the registers' reference month.")] = 11,
    osm_date: Annotated[str | None, typer.Option(help="Date of the OSM data, recorded in provenance.")] = None,
    no_simplify: Annotated[bool, typer.Option("--no-simplify", metavar="", help="Keep degree-2 nodes (bigger graph).")] = False,
) -> None:
    """Build the car network: drivable roads, one-ways, ferries; keep the largest strongly connected
    component (dropped parts are reported); contract degree-2 chains; write compact Parquet."""
    import polars as pl

    from pendling import routing

    with progress() as bar:
        task = bar.add_task("decoding tiles" if tiles else "reading OSM", total=None)

        def cb(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        g = routing.build_graph(
            osm=osm,
            tiles=tiles,
            profile=profile,
            ferries=False if no_ferries else ferries,
            osm_date=osm_date,
            ferry_month=month or None,
            simplify=not no_simplify,
            progress=cb,
        )
    target = out or default_graph_dir()
    routing.save_graph(g, target)
    info = g.info
    dropped = info.get("dropped_components", {})
    console.print(f"Wrote {g!r} to {Path(target).resolve()}")
    if "contraction" in info:
        c = info["contraction"]
        console.print(
            f"Contraction: {c['nodes_before']:,} → {c['nodes_after']:,} nodes, "
            f"{c['directed_edges_before']:,} → {c['directed_edges_after']:,} directed edges"
        )
    if dropped:
        console.print(
            f"Dropped outside the largest strongly connected component: {dropped['components']:,} components, "
            f"{dropped['nodes']:,} nodes, about {dropped['road_km_approx']:,} km of road"
        )
        if dropped["largest_dropped"]:
            print_frame(pl.DataFrame(dropped["largest_dropped"]), title="largest dropped components")
    fer = info.get("ferries")
    if fer:
        console.print(f"Ferries: {fer['routes_added']} of {fer['routes_in_table']} routes added")
        if fer.get("routes_out_of_season"):
            console.print(f"Ferries not sailing in month {fer['month']}: {', '.join(fer['routes_out_of_season'])}")
        if fer["routes_skipped"]:
            console.print(f"[yellow]Ferries not connected:[/] {', '.join(fer['routes_skipped'])}")

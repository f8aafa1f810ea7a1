"""`pendling geo …`: the 98 municipalities."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pendling.cli._common import console, friendly_errors, print_frame

# polars and pendling.geo are imported where used: `pendling geo --help` stays fast

app = typer.Typer(no_args_is_help=True)


@app.command("list")
@friendly_errors
def list_(
    region: Annotated[int | None, typer.Option(help="Only this region code (1081–1085).")] = None,
    kommunegruppe: Annotated[int | None, typer.Option(help="Only this DST kommunegruppe (1–5).")] = None,
) -> None:
    """List the municipalities with region, kommunegruppe, area (km²) and centroid."""
    import polars as pl

    from pendling import geo

    df = geo.municipalities()
    if region is not None:
        df = df.filter(pl.col("region_code") == region)
    if kommunegruppe is not None:
        df = df.filter(pl.col("kommunegruppe_code") == kommunegruppe)
    print_frame(
        df.select(
            "code", "name", "region_code", "region_name", "kommunegruppe_code", "area_km2",
            "centroid_lon", "centroid_lat", "centroid_inside",
        ),
        title=f"{df.height} municipalities",
    )


@app.command("build")
@friendly_errors
def build(
    raw: Annotated[Path | None, typer.Option(help="Directory with the raw inputs (default data/municipalities/raw).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output directory (default data/municipalities).")] = None,
) -> None:
    """Rebuild the municipality files from the raw DAGI/DST inputs (deterministic)."""
    from pendling import geo

    df = geo.build(raw, out)
    target = out or geo.paths.municipalities_dir()
    console.print(
        f"Wrote {df.height} municipalities ({df['area_km2'].sum():,.0f} km²) to {target}; "
        f"{(~df['centroid_inside']).sum()} centroid(s) outside their municipality."
    )

"""``pendling sensitivity``: the headline cells and contrasts under every method variant, one table + one figure."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pendling.cli._common import err_console, friendly_errors, print_frame, progress, show_path
from pendling.cli._reading import ReadOptions, print_warnings, reading_options

# polars and the engine are imported where used: `pendling sensitivity --help` stays fast


@friendly_errors
@reading_options
def sensitivity(
    reading: ReadOptions,
    panel: Annotated[Path | None, typer.Option(
        "--panel", help="Register extract (file or folder). Default: the built-in synthetic demo extract.")] = None,
    matrix: Annotated[Path | None, typer.Option(
        "--matrix", help="Travel-time matrix; its variants differ only on the diagonal. Default: the shipped one.")] = None,
    contrast: Annotated[str, typer.Option("--contrast", help="The two flow years compared.")] = "2019:2021",
    internal: Annotated[list[str] | None, typer.Option(
        "--internal", help="Within-municipality times to try (repeatable): area, network, zero. Default: all "
                           "three ('network' is routed once on the stored road graph, ~1 min, then cached; it needs the "
                           "[routing] extra and is left out, with a note, without it).")] = None,
    min_n: Annotated[int, typer.Option("--min-n", help="Minimum cell size (DST: at least 3).")] = 5,
    no_disclosure: Annotated[bool, typer.Option(
        "--no-disclosure", help="UNSUPPRESSED statistics (never export these from DST servers).")] = False,
    out: Annotated[Path, typer.Option("--out", help="Folder for sensitivity.csv and sensitivity.png.")] = Path(
        "pendling-results"),
    zones: Annotated[str | None, typer.Option(
        "--zones", help="Also run the panel at grid1km (or grid100m/grid10km) beside the municipality level: "
                        "zones_cells.csv and zones_movers.csv (needs home/workplace cells in the panel).",
        show_default=False)] = None,
    graph: Annotated[Path | None, typer.Option("--graph", metavar="DIR", help="Road graph for --zones.",
                                               show_default=False)] = None,
) -> None:
    """Run the headline cells and the 2019→2021 contrasts under every method choice.

    Variants: within-municipality time (area / network / zero), mover definition (address /
    municipality), estimator (mean of ratios / ratio of means / median / geometric mean). Writes
    sensitivity.csv (one row per variant × value) and sensitivity.png (dot plot of the contrasts).
    """
    import polars as pl

    from pendling.cli.compute import _load_panel
    from pendling.io import write_csv
    from pendling.mobility.contrast import parse_contrast
    from pendling.mobility.sensitivity import plot_sensitivity, sensitivity as run, summary
    from pendling._extras import MissingExtraError, optional
    from pendling.mobility.variants import INTERNAL_CHOICES

    years = parse_contrast(contrast)
    choices = tuple(internal or INTERNAL_CHOICES)
    no_network: MissingExtraError | None = None
    if not internal:  # the default tries 'network' too, which routes on the road graph: an extra
        try:
            for module in ("pyproj", "shapely", "geopandas"):
                optional(module, "routing", "the 'network' within-municipality time")
        except MissingExtraError as exc:
            choices, no_network = tuple(c for c in choices if c != "network"), exc
    with progress() as bar:
        task = bar.add_task("loading panel", total=3)
        loaded = _load_panel(panel, list(years), reading, lambda msg: bar.update(task, description=msg),
                             zones=zones or "municipality")
        bar.update(task, advance=1, description="running every variant")
        table = run(loaded, matrix, years, internal=choices, min_n=min_n,
                    disclosure=not no_disclosure, job_group_mapping=reading.jobgroups)
        bar.update(task, advance=1, description="writing")
        out.mkdir(parents=True, exist_ok=True)
        paths = [write_csv(table, out / "sensitivity.csv")]
        try:  # the table is the result; the figure needs the [plot] extra (not in the lean core)
            optional("matplotlib", "plot", "the figure sensitivity.png")
        except MissingExtraError as exc:
            no_figure: MissingExtraError | None = exc
        else:
            from pendling.report.style import save_figure

            no_figure = None
            paths.append(save_figure(plot_sensitivity(table).figure, out / "sensitivity.png"))
        bar.update(task, advance=1)
    pct = lambda c: pl.format("{} pp", (pl.col(c) * 100).round(1))  # noqa: E731
    s = summary(table).select(
        "flow", "region", "job_group", pct("default").alias("default"),
        pl.format("{} to {}", (pl.col("ci_low") * 100).round(1), (pl.col("ci_high") * 100).round(1)).alias("95% CI"),
        pl.format("{} to {}", (pl.col("min_over_variants") * 100).round(1),
                  (pl.col("max_over_variants") * 100).round(1)).alias("range over variants"),
        "variants", "sign_holds", "significance_holds")
    print_frame(s, title=f"Contrasts {years[0]}→{years[1]} under every method variant", max_rows=40)
    print_warnings(loaded, skip_unopened=True)
    if no_disclosure:
        err_console.print("[bold yellow]WARNING: --no-disclosure: NOT disclosure-controlled.[/]")
    if no_network is not None:
        err_console.print(f"[yellow]note:[/] without 'network': {escape(str(no_network))}", highlight=False,
                          soft_wrap=True)
    if no_figure is not None:
        err_console.print(f"[yellow]note:[/] {escape(str(no_figure))}", highlight=False, soft_wrap=True)
    if zones is not None:
        paths += _zone_section(loaded, matrix, list(years), zones, graph, min_n, no_disclosure, out)
    show_path("Wrote", paths)


def _zone_section(loaded, matrix, years, zones, graph, min_n, no_disclosure, out) -> list[Path]:
    """Municipality vs grid on the same panel (pendling.mobility.zonecompare): print and write."""
    import polars as pl

    from pendling.io import write_csv
    from pendling.mobility.zonecompare import compare_zones

    road_graph = None
    if graph is not None:
        from pendling.routing import load_graph

        road_graph = load_graph(graph)
    cmp = compare_zones(loaded, zones, matrix=matrix, years=years, graph=road_graph, min_n=min_n,
                        disclosure=not no_disclosure)
    print_frame(cmp.movers, title=f"Municipality vs {zones}: usable person-years and r = 0 at municipality level")
    head = cmp.cells.filter(pl.col("region") == "all").select(
        "year", "flow", "job_group", "n_municipality", "n_grid", "mean_rel_change_municipality",
        "mean_rel_change_grid", "ratio_of_means_municipality", "ratio_of_means_grid", "median_rel_change_grid")
    print_frame(head, title=f"Headline cells, municipality vs {zones}", max_rows=40)
    return [write_csv(cmp.cells, out / "zones_cells.csv"), write_csv(cmp.movers, out / "zones_movers.csv")]

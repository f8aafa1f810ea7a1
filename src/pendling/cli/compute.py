"""``pendling compute``: movers' and job-changers' change in commute time, with disclosure control."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from pendling.cli._common import console, err_console, friendly_errors, print_results, progress, show_path
from pendling.cli._reading import ReadOptions, print_warnings, reading_options
from pendling.errors import InputError

if TYPE_CHECKING:  # polars is imported where used: `pendling compute --help` stays fast
    import polars as pl


class By(str, Enum):
    region = "region"
    kommunegruppe = "kommunegruppe"


class MoverDefinition(str, Enum):
    address = "address"
    municipality = "municipality"


class Zones(str, Enum):  # issue 18: commute times between municipalities or grid cells
    municipality = "municipality"
    grid100m = "grid100m"
    grid1km = "grid1km"
    grid10km = "grid10km"


class Method(str, Enum):  # issue 15: named method presets (pendling.mobility.variants.METHODS)
    default = "default"
    report = "report"


def _load_panel(source: Path | None, flow_years: list[int] | None, reading: ReadOptions,
                step: Callable[[str], None] | None = None, zones: str = "municipality", by_year: bool = False):
    """The Panel for ``source`` (t-1 and t of each flow year), or the built-in synthetic demo extract."""
    if source is None:
        from pendling.synth import demo_extract

        source = demo_extract()
        console.print(f"No --panel given: using the built-in [bold]synthetic[/] demo extract in {escape(str(source))}")
    if flow_years is not None:
        _check_flow_years(source, flow_years)
    wanted = None if flow_years is None else sorted({y for t in flow_years for y in (t - 1, t)})
    # grid cells are read only for a grid run: at municipality level a grid extract costs what one
    # without cells does
    return reading.load(source, wanted, step, zones=zones, by_year=by_year)


def _check_flow_years(source: Path, flow_years: list[int]) -> None:
    """Fail early, in terms of the flags typed, when the file names show a flow year is not there."""
    from pendling.panel.columns import year_from_name
    from pendling.panel.readers import discover
    from pendling.yearspec import flow_years as possible_years
    from pendling.yearspec import span

    try:
        files, _ = discover(source)
    except InputError:
        return  # load_panel says what is wrong with the source
    named = [year_from_name(p) for p in files]
    if not named or None in named:
        return  # a stacked file: its years are known only after reading
    have = sorted(set(named))  # type: ignore[arg-type]
    bad = [t for t in flow_years if t not in have or t - 1 not in have]
    if bad:
        possible = possible_years(have)
        raise InputError(
            f"flow year t compares November t-1 with November t; the extract holds {span(have)}, so flow "
            f"years {span(possible) if possible else '(none)'} can be computed",
            file=str(source), values=bad,
            hint=(f"use --years {span(possible)} or --year {possible[-1]}" if possible
                  else "add the extract of the year before"),
        )


@friendly_errors
@reading_options
def compute(
    reading: ReadOptions,
    year: Annotated[int | None, typer.Option(
        "--year", metavar="YEAR", help="One flow year t (November t-1 → t). Without --year or --years: every year the data allow.",
        show_default=False)] = None,
    years: Annotated[str | None, typer.Option(
        "--years", metavar="YEARS", help="Flow years, e.g. 2015-2022 or 2015,2017.", show_default=False)] = None,
    panel: Annotated[Path | None, typer.Option(
        "--panel", metavar="PATH", help="Register extract (file or folder). Default: the built-in synthetic demo extract.",
        show_default=False)] = None,
    matrix: Annotated[Path | None, typer.Option(
        "--matrix", metavar="FILE", help="Travel-time matrix (long parquet). Default: the shipped matrix.", show_default=False)] = None,
    by: Annotated[list[str] | None, typer.Option(
        "--by", metavar="region|kommunegruppe", help="Add the five regions and/or the DST kommunegrupper (repeatable).", show_default=False)] = None,
    min_n: Annotated[int, typer.Option("--min-n", help="Minimum cell size (DST: at least 3).")] = 5,
    no_disclosure: Annotated[bool, typer.Option(
        "--no-disclosure", metavar="", help="Write UNSUPPRESSED statistics (never export these from DST servers).",
        show_default=False)] = False,
    mover_definition: Annotated[MoverDefinition, typer.Option(
        "--mover-definition", help="'address': any address change (moves inside a municipality have r=0); "
                                   "'municipality': only a change of home municipality.")] = MoverDefinition.address,
    out: Annotated[list[Path] | None, typer.Option(
        "--out", metavar="FILE", help="Results file: .parquet, .csv, .xlsx, .dta (Stata) or .xpt (SAS); repeat for several formats "
                      "(--out r.parquet --out r.xlsx). Default: results_<years>.parquet in the folder pendling-results/",
        show_default=False)] = None,
    max_rows: Annotated[int, typer.Option("--max-rows", help="Rows to print per table (one table per region grouping).")] = 60,
    memory_limit: Annotated[str | None, typer.Option(
        "--memory-limit", metavar="SIZE", help="DuckDB memory limit, e.g. 2GB; beyond it DuckDB spills to disk. Reading the "
                               "panel (Polars) needs ~0.2 KB per row on top. Default: DuckDB's (80% of RAM).",
        show_default=False)] = None,
    threads: Annotated[int | None, typer.Option(
        "--threads", min=1, help="Threads for DuckDB and Polars (Polars via POLARS_MAX_THREADS, set at "
                                 "start-up). Default: all cores.", show_default=False)] = None,
    spill_dir: Annotated[Path | None, typer.Option(
        "--spill-dir", metavar="DIR", help="Folder for DuckDB spill files (a private sub-folder is made and removed). "
                            "Default: the system temp folder (TMPDIR).", show_default=False)] = None,
    # --- method preset and contrasts (issue 15; kept together) ---
    method: Annotated[Method, typer.Option(
        "--method", help="'report': the closest reading of the report's Faktaboks 3.1 (zero-diagonal matrix, "
                         "built once and cached; persons with an earlier time of 0 counted as zero_time_before; "
                         "address movers; mean of ratios). See docs/method_report.md.")] = Method.default,
    contrast: Annotated[str | None, typer.Option(
        "--contrast", metavar="T0:T1", help="e.g. 2019:2021: per region, the rise of digital (and office) minus the "
                           "rise of physical & social, movers and job-changers, with person-clustered 95% CIs; "
                           "written beside each --out as <stem>.contrast<suffix>.", show_default=False)] = None,
    # --- grid zones (issue 18) ---
    zones: Annotated[Zones, typer.Option(
        "--zones", help="Commute times between home and workplace municipalities (default) or DDKN grid cells "
                        "(the panel's home_zone/work_zone; finer cells are coarsened; distinct cell pairs routed on "
                        "the road graph once and cached).")] = Zones.municipality,
    graph: Annotated[Path | None, typer.Option(
        "--graph", metavar="DIR", help="Road graph for --zones grid* (default: the stored graph).",
        show_default=False)] = None,
) -> None:
    """Mean relative change in commute time of movers and job-changers by job group × region.

    Writes the results plus the attrition (how every person-year was classified) and method notes:
    beside a .parquet/.csv as <stem>.attrition.<suffix> and <stem>.method.csv, inside an .xlsx as sheets.
    """
    import polars as pl

    from pendling.io import table_suffix
    from pendling.mobility import export, parse_years, run, years_label
    from pendling.mobility.limits import Limits

    limits = Limits.checked(memory_limit, threads, spill_dir)  # fail on a bad value before any work
    if threads is not None and pl.thread_pool_size() != threads:
        err_console.print(f"[yellow]note:[/] Polars was started with {pl.thread_pool_size()} threads (set "
                          f"POLARS_MAX_THREADS={threads} before starting Python); --threads limits DuckDB only")

    if year is not None and years is not None:
        raise InputError("give either --year or --years, not both", values=[year, years])
    wanted = parse_years(year if year is not None else years)
    bad_by = [b for b in by or [] if b not in {e.value for e in By}]
    if bad_by:  # checked here, not by typer, for an error in pendling's words
        raise InputError("--by takes region or kommunegruppe (repeat --by for both)", column="--by", values=bad_by)
    outs = list(out or [])
    for o in outs:
        table_suffix(o)  # an unsupported format fails before any work
    suffixes = [o.suffix.lower() for o in outs]
    if len(set(suffixes)) < len(suffixes):
        raise InputError("--out given twice with the same format", values=[str(o) for o in outs],
                         hint="give each format once, e.g. --out r.parquet --out r.xlsx")
    contrast_years, load_years = None, wanted
    if contrast is not None and zones is not Zones.municipality:
        raise InputError("--contrast runs at municipality level only", values=[zones.value],
                         hint="leave out --zones, or run the contrast separately")
    road_graph = None
    if graph is not None and zones is not Zones.municipality:
        from pendling.routing import load_graph

        road_graph = load_graph(graph)
    if contrast is not None:  # issue 15: the contrast's two years must be loaded too
        from pendling.mobility.contrast import parse_contrast

        contrast_years = parse_contrast(contrast)
        if wanted is not None:
            load_years = sorted(set(wanted) | set(contrast_years))
    with progress() as bar:
        task = bar.add_task("loading panel", total=3)
        # municipality zones: validated, stored and paired year by year (memory of two years, not the span)
        loaded = _load_panel(panel, load_years, reading, lambda msg: bar.update(task, description=msg),
                             zones=zones.value, by_year=zones is Zones.municipality)
        try:
            result, written, contrasts, yrs, targets = _run_and_write(
                bar, task, loaded, matrix, wanted, by, min_n, no_disclosure, mover_definition, limits, reading, method,
                zones, road_graph, outs, panel, contrast_years)
        finally:
            if hasattr(loaded, "close"):
                loaded.close()

    preset = "" if method is Method.default else f", method {method.value}"
    preset += "" if zones is Zones.municipality else f", {zones.value} cells"
    title = f"Relative change in commute time, {years_label(yrs)} ({mover_definition.value} movers{preset})"
    print_results(result.results, title=title, max_rows=max_rows)
    if contrasts is not None:
        from pendling.cli._common import print_frame

        print_frame(_display_contrasts(contrasts), title=f"Contrasts {contrast_years[0]}→{contrast_years[1]}: rise "
                    "minus the rise of physical & social (95% CI clustered by person)", max_rows=max_rows)
    print_warnings(loaded, skip_unopened=True)
    fallback = result.method.filter(pl.col("key") == "mover_definition_fallback")["value"].to_list()
    for text in fallback:
        console.print(f"[bold yellow]warning:[/] {escape(text.removeprefix('WARNING: '))} (also in the method notes)",
                      highlight=False, soft_wrap=True)
    if no_disclosure:
        err_console.print("[bold yellow]WARNING: --no-disclosure: these results are NOT disclosure-controlled "
                          "and must not leave the research server.[/]")
    else:
        rule = result.results["suppression"]
        n_primary, n_compl = int((rule == "primary").sum()), int((rule == "complementary").sum())
        console.print(f"Disclosure control: min n = {min_n}; {n_primary + n_compl} of {result.results.height} cells "
                      f"suppressed ({n_primary} primary: n < {min_n}; {n_compl} complementary: would be recoverable "
                      "from totals).")
    show_path("Wrote", written)


def _run_and_write(bar, task, loaded, matrix, wanted, by, min_n, no_disclosure, mover_definition, limits, reading,
                   method, zones, road_graph, outs, panel, contrast_years):
    """Run, write the results (and contrasts) and return what compute prints."""
    from pendling.mobility import export, run, years_label

    result = run(loaded, matrix, wanted, by=list(by or []), min_n=min_n,
                 disclosure=not no_disclosure, mover_definition=mover_definition.value,
                 memory_limit=limits.memory_limit, threads=limits.threads,
                 temp_directory=limits.temp_directory, job_group_mapping=reading.jobgroups,
                 method=method.value, zones=zones.value, graph=road_graph)
    bar.update(task, advance=1, description="writing")
    yrs = sorted(result.results["year"].unique().to_list())
    targets = outs or [Path("pendling-results") / f"results_{years_label(yrs)}.parquet"]
    source = str(panel) if panel else "built-in synthetic demo"
    written = [p for t in targets for p in export.write_results(result, t, source=source)]
    contrasts = None
    if contrast_years is not None:
        contrasts = _contrasts(loaded, matrix, contrast_years, by, min_n, no_disclosure, mover_definition, method,
                               reading.jobgroups, result.results)
        written += [_write_beside(contrasts, t, "contrast") for t in targets]
    bar.update(task, advance=1)
    return result, written, contrasts, yrs, targets


# --- issue 15: contrasts ---------------------------------------------------------------------


def _contrasts(loaded, matrix, years, by, min_n, no_disclosure, mover_definition, method, jobgroups,
               published) -> pl.DataFrame:
    """The contrasts, hidden wherever they touch a cell hidden in ``published`` (the results written beside)."""
    from pendling.mobility.contrast import contrast

    return contrast(loaded, matrix, years, by=[b for b in by or [] if b == "region"],
                    mover_definition=mover_definition.value, method=method.value, min_n=min_n,
                    disclosure=not no_disclosure, job_group_mapping=jobgroups, results=published)


def _write_beside(df: pl.DataFrame, target: Path, label: str) -> Path:
    """``<stem>.<label><suffix>`` beside the results (xlsx, parquet or csv as the results)."""
    from pendling.io import write_table

    return write_table(df, target.with_name(f"{target.stem}.{label}{target.suffix}"))


def _display_contrasts(df: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    pct = lambda c: pl.when(pl.col(c).is_null()).then(pl.lit("–")).otherwise(  # noqa: E731
        pl.format("{} pp", (pl.col(c) * 100).round(1)))
    return df.select(
        "flow", "region", "job_group", pct("rise").alias("rise"), pct("rise_reference").alias("rise phys/soc"),
        pct("contrast").alias("contrast"),
        pl.when(pl.col("ci_low").is_null()).then(pl.lit("–"))
        .otherwise(pl.format("{} to {}", (pl.col("ci_low") * 100).round(1), (pl.col("ci_high") * 100).round(1)))
        .alias("95% CI (pp)"),
        pl.when(pl.col("suppressed")).then(pl.lit("suppressed")).when(pl.col("significant")).then(pl.lit("yes"))
        .otherwise(pl.lit("no")).alias("excludes 0"),
    )

"""``pendling compute``: movers' and job-changers' change in commute time, with disclosure control."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.markup import escape

from pendling.cli._common import console, err_console, friendly_errors, print_frame, progress
from pendling.errors import InputError


class By(str, Enum):
    region = "region"
    kommunegruppe = "kommunegruppe"


class MoverDefinition(str, Enum):
    address = "address"
    municipality = "municipality"


def _load_panel(source: Path | None, years: list[int] | None):
    """The Panel for ``source``, or the built-in synthetic demo extract when it is None."""
    from pendling.panel import load_panel

    if source is None:
        from pendling.synth import demo_extract

        source = demo_extract()
        console.print(f"No --panel given: using the built-in [bold]synthetic[/] demo extract in {escape(str(source))}")
    wanted = None if years is None else sorted({y for t in years for y in (t - 1, t)})
    return load_panel(source, years=wanted)


def _display(results: pl.DataFrame) -> pl.DataFrame:
    pct = lambda c: pl.when(pl.col(c).is_null()).then(pl.lit("–")).otherwise(  # noqa: E731
        pl.format("{}%", (pl.col(c) * 100).round(1)))
    return results.select(
        "year", "flow", "job_group", "region",
        pl.col("n"),
        pct("mean_rel_change").alias("mean change"),
        pl.when(pl.col("ci_low").is_null()).then(pl.lit("–"))
        .otherwise(pl.format("{}% to {}%", (pl.col("ci_low") * 100).round(1), (pl.col("ci_high") * 100).round(1)))
        .alias("95% CI"),
        pct("ratio_of_means").alias("ratio of means"),
        pl.col("mean_minutes_before").round(1).alias("min before"),
        pl.col("mean_minutes_after").round(1).alias("min after"),
        pl.when(pl.col("suppressed")).then(pl.lit("suppressed")).otherwise(pl.lit("")).alias("note"),
    )


@friendly_errors
def compute(
    year: Annotated[int | None, typer.Option("--year", help="One flow year t (November t-1 → t).")] = None,
    years: Annotated[str | None, typer.Option("--years", help="Flow years, e.g. 2015-2022 or 2015,2017.")] = None,
    panel: Annotated[Path | None, typer.Option(
        "--panel", help="Register extract (file or folder). Default: the built-in synthetic demo extract.")] = None,
    matrix: Annotated[Path | None, typer.Option(
        "--matrix", help="Travel-time matrix (long parquet). Default: the shipped matrix.")] = None,
    by: Annotated[list[By] | None, typer.Option(
        "--by", help="Add the five regions and/or the DST kommunegrupper (repeatable).")] = None,
    min_n: Annotated[int, typer.Option("--min-n", help="Minimum cell size (DST: at least 3).")] = 5,
    no_disclosure: Annotated[bool, typer.Option(
        "--no-disclosure", help="Write UNSUPPRESSED statistics (never export these from DST servers).")] = False,
    mover_definition: Annotated[MoverDefinition, typer.Option(
        "--mover-definition", help="'address': any address change (moves inside a municipality have r=0); "
                                   "'municipality': only a change of home municipality.")] = MoverDefinition.address,
    out: Annotated[Path | None, typer.Option(
        "--out", help="results .parquet, .csv or .xlsx. Default: ./pendling-results/results_<years>.parquet")] = None,
    max_rows: Annotated[int, typer.Option("--max-rows", help="Rows to print.")] = 60,
    memory_limit: Annotated[str | None, typer.Option(
        "--memory-limit", help="DuckDB memory limit, e.g. 2GB; beyond it DuckDB spills to disk. Reading the "
                               "panel (Polars) needs ~0.2 KB per row on top. Default: DuckDB's (80% of RAM).")] = None,
    threads: Annotated[int | None, typer.Option(
        "--threads", min=1, help="Threads for DuckDB and Polars (Polars via POLARS_MAX_THREADS, set at "
                                 "start-up). Default: all cores.")] = None,
    spill_dir: Annotated[Path | None, typer.Option(
        "--spill-dir", help="Folder for DuckDB spill files (a private sub-folder is made and removed). "
                            "Default: the system temp folder (TMPDIR).")] = None,
) -> None:
    """Mean relative change in commute time of movers and job-changers by job group × region.

    Writes the results plus the attrition (how every person-year was classified) and method notes.
    """
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
    if out is not None:
        table_suffix(out)  # an unsupported format fails before any work
    with progress() as bar:
        task = bar.add_task("loading panel", total=3)
        loaded = _load_panel(panel, wanted)
        bar.update(task, advance=1, description="classifying transitions and computing statistics")
        result = run(loaded, matrix, wanted, by=[b.value for b in by or []], min_n=min_n,
                     disclosure=not no_disclosure, mover_definition=mover_definition.value,
                     memory_limit=limits.memory_limit, threads=limits.threads,
                     temp_directory=limits.temp_directory)
        bar.update(task, advance=1, description="writing")
        yrs = sorted(result.results["year"].unique().to_list())
        target = out or Path("pendling-results") / f"results_{years_label(yrs)}.parquet"
        written = export.write_results(result, target, source=str(panel) if panel else "built-in synthetic demo")
        bar.update(task, advance=1)

    title = f"Relative change in commute time, {years_label(yrs)} ({mover_definition.value} movers)"
    print_frame(_display(result.results), title=title, max_rows=max_rows)
    if no_disclosure:
        err_console.print("[bold yellow]WARNING: --no-disclosure: these results are NOT disclosure-controlled "
                          "and must not leave the research server.[/]")
    else:
        n_supp = int(result.results["suppressed"].sum())
        console.print(f"Disclosure control: min n = {min_n}; {n_supp} of {result.results.height} cells suppressed "
                      "(primary + complementary).")
    console.print("Wrote:")
    for p in written:
        console.print(f"  {escape(str(p.resolve()))}")

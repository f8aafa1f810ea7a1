"""``pendling panel check|export``: validate register extracts and write the canonical panel."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pendling.cli._common import console, friendly_errors, print_frame, show_path
from pendling.cli._reading import ReadOptions, print_warnings, reading_options
from pendling.errors import InputError
from pendling.yearspec import parse_years

if TYPE_CHECKING:  # polars and pendling.panel are imported where used: `pendling panel --help` stays fast
    from pendling.panel import Panel

app = typer.Typer(no_args_is_help=True)

PathsArg = Annotated[
    list[str],
    typer.Argument(help="Extract file(s), a directory of per-year files (ras2015.parquet ...) or a glob."),
]
YearsOpt = Annotated[str | None, typer.Option("--years", help="Years to keep, e.g. 2015-2018,2020. Default: all.")]
MinNOpt = Annotated[
    int, typer.Option("--min-n", help="Minimum count written to files; smaller counts are hidden (DST: at least 3).")
]


def _load(paths: list[str], years: str | None, reading: ReadOptions) -> Panel:
    # check and export show and write the grid cells when the extract has them
    return reading.load(paths, parse_years(years, what="--years"), zones="auto")


def _report(panel: Panel) -> None:
    import polars as pl

    from pendling.panel import attrition_wide

    console.print(f"[bold]{len(panel.sources)} source(s)[/]: " + ", ".join(Path(s).name for s in panel.sources))
    print_frame(panel.rows_per_year(), title="Rows per year")
    print_frame(attrition_wide(panel.attrition), title="Attrition (every input row in one bucket)")
    flags = panel.flags.filter(pl.col("n") > 0)
    if flags.height:
        wide = flags.pivot(on="year", index="flag", values="n").fill_null(0)
        print_frame(wide, title="Notes on kept rows (overlapping counts)")
    print_warnings(panel)


def _verdict(panel: Panel) -> None:
    """'ok' only without warnings; a lenient fallback that changes the mover definition says so."""
    kept = (f"{panel.frame.height:,} of {panel.n_input:,} rows kept "
            f"({len(panel.years)} year(s){': ' + ', '.join(map(str, panel.years)) if panel.years else ''})")
    addr = int((panel.provenance.get("unreadable_values") or {}).get("home_addr", 0))
    if addr:
        console.print(f"[bold yellow]warning:[/] {kept}; {addr:,} ADRESSE_ID values were read as missing, so "
                      "movers fall back to changes of home municipality for them (see the warnings above)",
                      highlight=False, soft_wrap=True)
    elif panel.warnings:
        console.print(f"[yellow]ok, with {len(panel.warnings)} warning(s) above:[/] {kept}", highlight=False)
    else:
        console.print(f"[green]ok:[/] {kept}", highlight=False)


@app.command("check")
@friendly_errors
@reading_options
def check(
    paths: PathsArg,
    reading: ReadOptions,
    years: YearsOpt = None,
    attrition_out: Annotated[
        Path | None, typer.Option("--attrition-out", help="Also write the attrition table (.csv, .parquet or .xlsx), "
                                  "disclosure-controlled (counts below --min-n hidden).")
    ] = None,
    min_n: MinNOpt = 5,
) -> None:
    """Validate extracts: rows per year, attrition table, notes and warnings (e.g. gaps in years)."""
    from pendling.mobility.disclosure import check_min_n

    check_min_n(min_n)
    panel = _load(paths, years, reading)
    _report(panel)
    if attrition_out is not None:
        from pendling.io import write_table
        from pendling.mobility.disclosure import disclose_table

        show_path("Wrote", [write_table(disclose_table(panel.attrition, min_n), attrition_out)])
    _verdict(panel)


@app.command("export")
@friendly_errors
@reading_options
def export(
    paths: PathsArg,
    out: Annotated[Path, typer.Option("--out", help="Output table: .parquet (recommended) or .csv.")],
    reading: ReadOptions,
    years: YearsOpt = None,
    min_n: MinNOpt = 5,
) -> None:
    """Write the canonical person-year table with job_group and region_code; attrition, flags and a
    summary beside it (<stem>.attrition.csv, <stem>.flags.csv, <stem>.panel.json), their counts
    disclosure-controlled (counts below --min-n hidden)."""
    from pendling.mobility.disclosure import check_min_n

    check_min_n(min_n)
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise InputError("--out must end in .parquet or .csv", file=out)
    panel = _load(paths, years, reading)
    _report(panel)
    from pendling.panel import export_panel

    written = export_panel(panel, out, mapping=reading.jobgroups, min_n=min_n)
    show_path("Wrote", list(written.values()))
    _verdict(panel)

"""``pendling panel check|export``: validate register extracts and write the canonical panel."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.markup import escape

from pendling.cli._common import console, friendly_errors, print_frame, progress
from pendling.errors import InputError
from pendling.panel import Panel, attrition_wide, export_panel, load_panel
from pendling.panel.load import count_steps

app = typer.Typer(no_args_is_help=True)

PathsArg = Annotated[
    list[str],
    typer.Argument(help="Extract file(s), a directory of per-year files (ras2015.parquet ...) or a glob."),
]
ColumnMapOpt = Annotated[
    Path | None,
    typer.Option("--column-map", help="TOML overriding DST column names (see data/reference/column_map_default.toml)."),
]
YearsOpt = Annotated[str | None, typer.Option("--years", help="Years to keep, e.g. 2015-2018,2020.")]
DupOpt = Annotated[
    str | None,
    typer.Option("--on-duplicate", help="Repeated (PNR, year): error (default), drop, or first."),
]
LenientOpt = Annotated[
    bool,
    typer.Option(
        "--lenient", help="Treat non-numeric values in number columns as missing (counted) instead of failing."
    ),
]
JobgroupsOpt = Annotated[
    Path | None,
    typer.Option("--jobgroups", help="DISCO → job-group mapping CSV (default data/reference/disco08_jobgroups.csv)."),
]


def parse_years(text: str | None) -> list[int] | None:
    """'2015-2018,2020' → [2015, 2016, 2017, 2018, 2020]."""
    if not text:
        return None
    years: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                years.update(range(lo, hi + 1))
            elif part:
                years.add(int(part))
        except ValueError:
            raise InputError(
                "--years takes years and ranges such as 2015-2018,2020", column="--years", values=[text]
            ) from None
    return sorted(years)


def _load(paths: list[str], column_map: Path | None, years: str | None, on_duplicate: str | None,
          lenient: bool, jobgroups: Path | None) -> Panel:
    source: str | list[str] = paths[0] if len(paths) == 1 else paths
    with progress(transient=True) as bar:
        task = bar.add_task("loading extracts", total=count_steps(source))

        def step(msg: str) -> None:
            bar.update(task, advance=1, description=msg)

        return load_panel(
            source,
            column_map=column_map,
            years=parse_years(years),
            strict=not lenient,
            on_duplicate=on_duplicate,  # type: ignore[arg-type]
            jobgroups=jobgroups,
            progress=step,
        )


def _report(panel: Panel) -> None:
    console.print(f"[bold]{len(panel.sources)} source(s)[/]: " + ", ".join(Path(s).name for s in panel.sources))
    print_frame(panel.rows_per_year(), title="Rows per year")
    print_frame(attrition_wide(panel.attrition), title="Attrition (every input row in one bucket)")
    flags = panel.flags.filter(pl.col("n") > 0)
    if flags.height:
        wide = flags.pivot(on="year", index="flag", values="n").fill_null(0)
        print_frame(wide, title="Notes on kept rows (overlapping counts)")
    for w in panel.warnings:
        console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False, soft_wrap=True)


@app.command("check")
@friendly_errors
def check(
    paths: PathsArg,
    column_map: ColumnMapOpt = None,
    years: YearsOpt = None,
    on_duplicate: DupOpt = None,
    lenient: LenientOpt = False,
    jobgroups: JobgroupsOpt = None,
    attrition_out: Annotated[
        Path | None, typer.Option("--attrition-out", help="Also write the attrition table (.csv, .parquet or .xlsx).")
    ] = None,
) -> None:
    """Validate extracts: rows per year, attrition table, notes and warnings (e.g. gaps in years)."""
    panel = _load(paths, column_map, years, on_duplicate, lenient, jobgroups)
    _report(panel)
    if attrition_out is not None:
        from pendling.io import write_table

        write_table(panel.attrition, attrition_out)
        console.print(f"attrition written to {attrition_out}")
    console.print(
        f"[green]ok:[/] {panel.frame.height:,} of {panel.n_input:,} rows kept "
        f"({len(panel.years)} year(s){': ' + ', '.join(map(str, panel.years)) if panel.years else ''})"
    )


@app.command("export")
@friendly_errors
def export(
    paths: PathsArg,
    out: Annotated[Path, typer.Option("--out", help="Output table: .parquet (recommended) or .csv.")],
    column_map: ColumnMapOpt = None,
    years: YearsOpt = None,
    on_duplicate: DupOpt = None,
    lenient: LenientOpt = False,
    jobgroups: JobgroupsOpt = None,
) -> None:
    """Write the canonical person-year table with job_group and region_code, plus attrition beside it."""
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise InputError("--out must end in .parquet or .csv", file=out)
    panel = _load(paths, column_map, years, on_duplicate, lenient, jobgroups)
    _report(panel)
    written = export_panel(panel, out, mapping=jobgroups)
    for name, path in written.items():
        console.print(f"wrote {name}: {path}")

"""``pendling plot`` (line figures of the results) and ``pendling map`` (the travel-time matrix on a map)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import matplotlib
import polars as pl
import typer

from pendling.cli._common import console, friendly_errors, print_frame, progress
from pendling.errors import InputError

# Headless research servers have no display; the library never touches pyplot, but be explicit.
matplotlib.use("Agg")


class Figure(str, Enum):
    movers = "movers"
    job_changers = "job-changers"
    distance = "distance"


class Region(str, Enum):
    all = "all"
    hovedstaden = "hovedstaden"
    rest = "rest"


class Value(str, Enum):
    minutes = "minutes"
    km = "km"


def read_table(path: Path) -> pl.DataFrame:
    """A results (or distance) table from .parquet or .csv."""
    if not path.is_file():
        raise InputError("results file not found", file=path, hint="give the file `pendling compute` wrote")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pl.read_parquet(path)
    if suffix == ".csv":
        return pl.read_csv(path, infer_schema_length=None)
    raise InputError(
        f"cannot read a results table from {suffix or '(no suffix)'!r}",
        file=path,
        hint="use the .parquet or .csv results file of `pendling compute`",
    )


DEMO_NOTE = "Synthetic demo extract (pendling synth): illustrates the method, not real register data."


def _panel(source: Path | None):
    from pendling.panel import load_panel

    if source is None:
        from pendling.synth import demo_extract

        source = demo_extract()
        console.print(f"No --results or --panel given: using the built-in [bold]synthetic[/] demo extract in {source}")
    return load_panel(source)


def _save(result, out: Path, data_out: Path | None) -> None:  # noqa: ANN001 (FigureResult)
    from pendling.io import write_table
    from pendling.report.style import save_figure

    save_figure(result.figure, out)
    console.print(f"Wrote {out.resolve()}")
    if data_out is not None:
        write_table(result.data, data_out)
        console.print(f"Wrote the plotted data to {data_out.resolve()}")


@friendly_errors
def plot(
    figure: Annotated[Figure, typer.Option("--figure", help="movers (Fig 3.7–3.9), job-changers (3.10), distance (3.6).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file, .png or .svg.")],
    region: Annotated[Region, typer.Option("--region", help="Home region: all, hovedstaden or rest.")] = Region.all,
    results: Annotated[Path | None, typer.Option(
        "--results", help="Results of `pendling compute` (.parquet/.csv); for distance, a table from --data-out.")] = None,
    panel: Annotated[Path | None, typer.Option(
        "--panel", help="Register extract: compute the results first. Default: the synthetic demo extract.")] = None,
    matrix: Annotated[Path | None, typer.Option(
        "--matrix", help="Travel-time matrix (long parquet) used with --panel. Default: the shipped matrix.")] = None,
    min_n: Annotated[int, typer.Option("--min-n", help="Minimum cell size; smaller cells are gaps (DST: ≥ 3).")] = 5,
    data_out: Annotated[Path | None, typer.Option(
        "--data-out", help="Also write the plotted table (.csv/.parquet/.xlsx): what the figure shows, nothing more.")] = None,
    note: Annotated[str | None, typer.Option(
        "--note", help="Extra caption line (data source, run). Added automatically for the demo extract.")] = None,
) -> None:
    """Line figure: mean relative change in commute time per year by job group, or commuting distance.

    Confidence bands are 95 %; suppressed cells (n < --min-n, or complementary) are gaps, never 0.
    """
    from pendling.mobility.disclosure import check_min_n
    from pendling.report import figures

    min_n = check_min_n(min_n)
    if results is not None and panel is not None:
        raise InputError("give either --results or --panel, not both", values=[results, panel])
    if results is None and panel is None:
        note = f"{note}\n{DEMO_NOTE}" if note else DEMO_NOTE
    if figure is Figure.distance:
        if results is not None:
            table = read_table(results)
        else:
            with progress(transient=True) as bar:
                bar.add_task("reading panel and averaging matrix km", total=None)
                frame = _frame(_panel(panel))
                table = figures.distance_by_year(frame, _matrix(matrix), min_n=min_n, region=region.value)
        result = figures.plot_distance(table, min_n=min_n, region=region.value, note=note)
    else:
        if results is not None:
            table = read_table(results)
        else:
            from pendling.mobility import compute

            with progress(transient=True) as bar:
                bar.add_task("reading panel and computing results", total=None)
                table = compute(_panel(panel), _matrix(matrix), min_n=min_n)
        flow = "movers" if figure is Figure.movers else "job_changers"
        result = figures.plot_change(table, flow=flow, region=region.value, min_n=min_n, note=note)
    _save(result, out, data_out)
    print_frame(result.data, title=f"plotted data ({figure.value}, {region.value})")
    console.print(result.caption, highlight=False)


@friendly_errors
def map_(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file, .png or .svg.")],
    origin: Annotated[int | None, typer.Option(
        "--from", help="Map travel time from this municipality code (e.g. 101 København).")] = None,
    heatmap: Annotated[bool, typer.Option(
        "--matrix", help="Draw the whole 98×98 matrix as a heatmap ordered by region.")] = False,
    value: Annotated[Value, typer.Option("--value", help="Colour by minutes or road km.")] = Value.minutes,
    matrix_file: Annotated[Path | None, typer.Option(
        "--matrix-file", help="Travel-time matrix (long parquet/csv). Default: the shipped matrix.")] = None,
    data_out: Annotated[Path | None, typer.Option(
        "--data-out", help="Also write the coloured values (.csv/.parquet/.xlsx).")] = None,
) -> None:
    """Map the travel-time matrix: a choropleth from one municipality (--from) or the heatmap (--matrix)."""
    from pendling.report import maps

    if (origin is None) == (not heatmap):
        raise InputError("give exactly one of --from CODE or --matrix", hint="e.g. pendling map --from 101 -o kbh.png")
    mat = _matrix(matrix_file)
    if heatmap:
        result = maps.matrix_heatmap(mat, value=value.value)
    else:
        result = maps.travel_time_map(int(origin), mat, value=value.value)  # type: ignore[arg-type]
    _save(result, out, data_out)
    console.print(result.caption, highlight=False)


def _frame(panel) -> pl.DataFrame:  # noqa: ANN001 (a pendling.panel.Panel or a canonical frame)
    return panel if isinstance(panel, pl.DataFrame) else panel.frame


def _matrix(path: Path | None) -> pl.DataFrame:
    from pendling.odmatrix import load_matrix

    return load_matrix(path)

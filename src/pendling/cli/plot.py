"""``pendling plot`` (line figures of the results) and ``pendling map`` (the travel-time matrix on a map)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pendling.cli._common import console, friendly_errors, print_frame, progress, show_path
from pendling.cli._reading import ReadOptions, print_warnings, reading_options
from pendling._extras import optional
from pendling.errors import InputError

if TYPE_CHECKING:  # polars is imported where used: `pendling plot --help` stays fast
    import polars as pl


def _headless(extra: str, command: str) -> None:
    """Check the extra's packages first (the install hint), then pick Agg: headless research servers
    have no display; the library never touches pyplot, but be explicit. Imported here, not at the
    top, so `pendling --help` and the other commands never load matplotlib."""
    if extra == "maps":
        optional("geopandas", extra, command)
    optional("matplotlib", extra, command).use("Agg")


class Figure(str, Enum):
    movers = "movers"
    job_changers = "job-changers"
    distance = "distance"


class Value(str, Enum):
    minutes = "minutes"
    km = "km"


def read_table(path: Path) -> pl.DataFrame:
    """A results (or distance) table from what `pendling compute` or `plot --data-out` wrote:
    .parquet, .csv or .xlsx (the 'results' sheet of a results workbook, else the first sheet)."""
    if not path.is_file():
        raise InputError("results file not found", file=path, hint="give the file `pendling compute` wrote")
    import polars as pl

    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pl.read_parquet(path)
    if suffix == ".csv":
        return pl.read_csv(path, infer_schema_length=None)
    if suffix == ".xlsx":
        return _read_xlsx(path)
    raise InputError(
        f"cannot read a results table from {suffix or '(no suffix)'!r}",
        file=path,
        hint="use the .parquet, .csv or .xlsx results file of `pendling compute`",
    )


def _read_xlsx(path: Path) -> pl.DataFrame:
    import openpyxl
    import polars as pl

    try:
        sheets = openpyxl.load_workbook(path, read_only=True).sheetnames
    except Exception as exc:  # noqa: BLE001 (any reader failure means: not a workbook we can read)
        raise InputError(f"cannot read this Excel file: {type(exc).__name__}", file=path,
                         hint="give the .xlsx that `pendling compute --out` wrote") from None
    sheet = "results" if "results" in sheets else sheets[0]
    # Excel keeps the numbers (fractions, formatted as percent), so the table reads back as written;
    # a blank cell (suppressed) comes back as null
    df = pl.read_excel(path, sheet_name=sheet, engine="openpyxl", infer_schema_length=None)
    casts = {c: t for c, t in (("year", pl.Int16), ("n", pl.Int64), ("suppressed", pl.Boolean)) if c in df.columns}
    return df.with_columns(pl.col(c).cast(t, strict=False) for c, t in casts.items())


def _not_a_distance_table(table: pl.DataFrame, path: Path) -> None:
    if "mean_km" not in table.columns and "mean_rel_change" in table.columns:
        raise InputError(
            "this is a results table of `pendling compute` (changes in commute time); it holds no distances, "
            "so it cannot draw the distance figure",
            file=path,
            hint="draw the distance figure from the extract: `pendling plot --figure distance --panel EXTRACT` "
                 "(the same reading options as compute), or from a table that `plot --figure distance --data-out` wrote",
        )


DEMO_NOTE = "Synthetic demo extract (pendling synth): illustrates the method, not real register data."


def _panel(source: Path | None, reading: ReadOptions):
    if source is None:
        from pendling.synth import demo_extract

        source = demo_extract()
        console.print(f"No --results or --panel given: using the built-in [bold]synthetic[/] demo extract in {source}")
    panel = reading.load(source)
    print_warnings(panel)
    return panel


def _save(result, out: Path, data_out: Path | None, min_n: int = 5) -> None:  # noqa: ANN001 (FigureResult)
    from pendling.io import write_table
    from pendling.mobility.disclosure import disclose_table
    from pendling.report.style import save_figure

    written = [save_figure(result.figure, out)]
    if data_out is not None:
        written.append(write_table(disclose_table(result.data, min_n), data_out))
    show_path("Wrote", written)


@friendly_errors
@reading_options
def plot(
    figure: Annotated[Figure, typer.Option("--figure", help="movers (Fig 3.7–3.9), job-changers (3.10), distance (3.6).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file, .png, .svg or .pdf.")],
    reading: ReadOptions,
    region: Annotated[str, typer.Option(
        "--region", help="Home region at t-1: all, hovedstaden, rest; with results computed --by region also "
                         "nordjylland, midtjylland, syddanmark, sjaelland; --by kommunegruppe: hovedstadskommuner, "
                         "storbykommuner, provinsbykommuner, oplandskommuner, landkommuner. The distance figure: "
                         "all, hovedstaden or rest.")] = "all",
    results: Annotated[Path | None, typer.Option(
        "--results", help="Results of `pendling compute` (.parquet/.csv/.xlsx); for distance, a table from "
                          "--data-out.", show_default=False)] = None,
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
    _headless("plot", "pendling plot")
    from pendling.mobility.disclosure import check_min_n
    from pendling.report import figures

    min_n = check_min_n(min_n)
    if results is not None and panel is not None:
        raise InputError("give either --results or --panel, not both", values=[results, panel])
    if results is None and panel is None:
        note = f"{note}\n{DEMO_NOTE}" if note else DEMO_NOTE
    region = region.strip().lower()
    if figure is Figure.distance:
        if results is not None:
            table = read_table(results)
            _not_a_distance_table(table, results)
        else:
            loaded = _panel(panel, reading)
            with progress(transient=True) as bar:
                bar.add_task("averaging matrix km", total=None)
                table = figures.distance_by_year(_frame(loaded), _matrix(matrix), min_n=min_n, region=region)
        result = figures.plot_distance(table, min_n=min_n, region=region, note=note)
    else:
        if results is not None:
            table = read_table(results)
        else:
            from pendling.mobility import compute

            loaded = _panel(panel, reading)
            by = _by_for(region)
            with progress(transient=True) as bar:
                bar.add_task("computing results", total=None)
                table = compute(loaded, _matrix(matrix), by=by, min_n=min_n,
                                job_group_mapping=reading.jobgroups)
        flow = "movers" if figure is Figure.movers else "job_changers"
        result = figures.plot_change(table, flow=flow, region=region, min_n=min_n, note=note)
    _save(result, out, data_out, min_n)
    print_frame(plotted_display(result.data), title=f"plotted data ({figure.value}, {region})")
    console.print(result.caption, highlight=False)


@friendly_errors
def map_(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file, .png, .svg or .pdf.")],
    origin: Annotated[int | None, typer.Option(
        "--from", help="Map travel time from this municipality code (e.g. 101 København).")] = None,
    heatmap: Annotated[bool, typer.Option(
        "--matrix", metavar="", help="Draw the whole 98×98 matrix as a heatmap ordered by region.")] = False,
    value: Annotated[Value, typer.Option("--value", help="Colour by minutes or road km.")] = Value.minutes,
    matrix_file: Annotated[Path | None, typer.Option(
        "--matrix-file", help="Travel-time matrix (long parquet/csv). Default: the shipped matrix.")] = None,
    data_out: Annotated[Path | None, typer.Option(
        "--data-out", help="Also write the coloured values (.csv/.parquet/.xlsx).")] = None,
) -> None:
    """Map the travel-time matrix: a choropleth from one municipality (--from) or the heatmap (--matrix)."""
    _headless("maps", "pendling map")
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


def _by_for(region: str) -> list[str]:
    """The ``by`` groupings compute needs so that ``region`` is among the result cells."""
    from pendling.cli._common import REGION_GROUPS

    if region in REGION_GROUPS["kommunegrupper"]:
        return ["kommunegruppe"]
    if region in REGION_GROUPS["five regions"] and region != "hovedstaden":
        return ["region"]
    return []


def plotted_display(data: pl.DataFrame) -> pl.DataFrame:
    """The plotted table as printed: relative changes in percent like `pendling compute` prints them
    (the --data-out file keeps fractions, as every pendling table does)."""
    from pendling.cli._common import _pct

    fractions = [c for c in ("mean_rel_change", "ci_low", "ci_high") if c in data.columns and "mean_km" not in data.columns]
    return data.with_columns(_pct(c).alias(c) for c in fractions)


def _frame(panel) -> pl.DataFrame:  # noqa: ANN001 (a pendling.panel.Panel or a canonical frame)
    import polars as pl

    return panel if isinstance(panel, pl.DataFrame) else panel.frame


def _matrix(path: Path | None) -> pl.DataFrame:
    from pendling.odmatrix import load_matrix

    return load_matrix(path)

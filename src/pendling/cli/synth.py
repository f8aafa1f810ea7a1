"""``pendling synth``: synthetic register extracts with planted effects, and their realism report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pendling.cli._common import console, friendly_errors, print_frame, progress
from pendling.errors import InputError

# polars and pendling.synth are imported where used: `pendling synth --help` stays fast


@friendly_errors
def synth(
    out: Annotated[Path | None, typer.Option(
        "--out", help="Output folder: ras<year>.<format>, truth.parquet, manifest.json.")] = None,
    persons: Annotated[int, typer.Option(
        "--persons", help="Employed persons per year (national scale: 3000000).")] = 200_000,
    years: Annotated[str, typer.Option("--years", help="Consecutive years, e.g. 2014-2022.")] = "2015-2022",
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives byte-identical files.")] = 1,
    fmt: Annotated[str, typer.Option("--format", help="parquet, csv, dta (Stata) or xpt (SAS transport). "
                                     "sas7bdat cannot be written (pyreadstat only reads it).")] = "parquet",
    scenario: Annotated[str, typer.Option(
        "--scenario", help="Scenario TOML file, or a shipped name: default, null, dirty.")] = "default",
    matrix: Annotated[Path | None, typer.Option(
        "--matrix", help="Travel-time matrix (long parquet). Default: the shipped one.")] = None,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Print the realism report of an existing extract folder and stop.")] = None,
    report_year: Annotated[int | None, typer.Option(
        "--report-year", help="Year for the cross-sectional figures (default: the last).")] = None,
    demo: Annotated[bool, typer.Option("--demo", metavar="", help="(Re)build the cached demo extract and print its folder.")] = False,
    zones: Annotated[str | None, typer.Option("--zones", help="municipality (default), or grid1km: also place every "
                                              "dwelling and workplace in a 1 km DDKN cell of its municipality (BOP_DDKN, "
                                              "ARB_DDKN) and choose workplaces and homes with the gravity fitted on expected cell-level "
                                              "times. With --report: grid1km (default when the extract has cells) "
                                              "adds road km between home and work cells vs AFSTB4; municipality skips it.")] = None,
    cell_truth: Annotated[str, typer.Option(
        "--cell-truth", help="With --zones grid1km: 'routed' also writes truth_grid1km.parquet, the cell-level "
        "truth under routed cell-pair times (what compute --zones grid1km uses); 'none' (default) skips it.")] = "none",
    cell_truth_min_prob: Annotated[float, typer.Option(
        "--cell-truth-min-prob", help="Support threshold of the cell-level truth: cells less likely than this in a "
        "choice row are valued at their municipality's most likely cell (reported as tail_mass). 0 = exact.")] = 1e-5,
) -> None:
    """Write synthetic DST-style register extracts (one file per year) with planted, known effects.

    Files use DST's variable names (PNR, KOM, ADRESSE_ID, LBNR, ARBKOM, DISCO08_ALLE_INDK_13) and
    are read by `pendling panel` / `pendling compute --panel DIR` unchanged. truth.parquet holds the
    expected mean relative change per cell and its tolerance. With --report DIR, compare an extract
    with DST's published figures instead; on an extract with cells it also routes every distinct home-cell/
    work-cell pair (cached) and sets the grid's road km beside the matrix km, year by year, against AFSTB4.
    """
    import polars as pl

    from pendling import synth as api
    from pendling.synth.report import resolve_year

    mat = None
    if matrix is not None:
        from pendling.odmatrix import load_matrix

        mat = load_matrix(matrix)
    if report is not None:
        from pendling.synth import report as rep

        if zones not in (None, "municipality", "grid1km"):
            raise InputError("unknown --zones for the report", values=[zones], hint="use municipality or grid1km")
        grid = None
        if zones == "grid1km" or (zones is None and rep.has_cells(report)):
            with progress() as bar:
                task = bar.add_task("routing home-cell → work-cell pairs", total=None)
                grid = rep.grid_commutes(report, matrix=mat, progress=lambda d, t: bar.update(task, completed=d, total=t))
        table = api.realism_report(report, matrix=mat, year=report_year, grid=grid)
        print_frame(table.drop("source").with_columns(pl.col("value").round(4)),
                    title=f"Realism of {report} (year {int(resolve_year(report, report_year))})")
        print_frame(api.yearly_summary(report, matrix=mat), title="By year (km = matrix km home → workplace)")
        if grid is not None:
            print_frame(rep.grid_yearly(grid).with_columns(pl.selectors.float().round(3)),
                        title="By year, matrix km and road km between 1 km cells vs the same year's AFSTB4 "
                              "(ratio = model / DST national mean; correlation over municipalities)")
        n_bad = int((~table["ok"]).sum())
        console.print(f"{table.height - n_bad} of {table.height} figures inside their target band."
                      + (" Sources: data/reference/synth/realism_targets.csv." if n_bad == 0 else
                         f" Outside: {', '.join(table.filter(~pl.col('ok'))['metric'].to_list())}."))
        return
    if demo:
        with progress() as bar:
            task = bar.add_task("demo extract", total=None)
            path = api.demo_extract(refresh=True, progress=lambda d, t, y: bar.update(task, completed=d, total=t))
        console.print(f"Demo extract: {path}")
        return
    if out is None:
        raise InputError("--out is required to write an extract", hint="e.g. pendling synth --out synthetic/")
    if cell_truth not in ("none", "routed"):
        raise InputError("--cell-truth must be 'none' or 'routed'", values=[cell_truth])
    year_list = api.parse_years(years)
    with progress() as bar:
        task = bar.add_task(f"synthesising {persons:,} persons", total=len(year_list))
        truth_task = None

        def truth_progress(done: int, total: int) -> None:
            nonlocal truth_task
            if truth_task is None:
                truth_task = bar.add_task("cell-level truth: (key, cell) rows", total=total)
            bar.update(truth_task, completed=done, total=total)

        result = api.generate(
            out, persons=persons, years=year_list, seed=seed, fmt=fmt, scenario=scenario, matrix=mat,
            zones=zones or "municipality",
            progress=lambda done, total, year: bar.update(task, completed=done, description=f"wrote {year}"),
            cell_truth=None if cell_truth == "none" else cell_truth, cell_truth_min_prob=cell_truth_min_prob,
            cell_truth_progress=truth_progress,
        )
    console.print(
        f"Wrote {len(result.files)} yearly files ({result.files[0].name} … {result.files[-1].name}), "
        f"truth.parquet ({result.truth.height} cells) and manifest.json to {Path(result.directory).resolve()} "
        f"in {result.seconds['total']:.1f} s."
    )
    if "zones" in result.manifest:
        cal = result.manifest["calibration"]
        console.print(
            f"Choices: gravity fitted on the expected cell-level times (data/od_matrix/cell_expected_1km.parquet): "
            f"r {cal['municipal_km_correlation']:.3f} with AFSTB4 2022 at the fit, national {cal['national_mean_km']:.2f} km "
            f"(AFSTB4 {cal['afstb4_national_mean_km']:.2f}), cross-border {cal['cross_border_share']:.3f}; "
            f"decay {cal['beta_bounds_per_minute'][0]:.3f}–{cal['beta_bounds_per_minute'][1]:.3f}/min "
            f"({cal['beta_at_lower_bound']:.0f} at the lower, {cal['beta_at_upper_bound']:.0f} at the upper bound "
            f"{cal['beta_lower_bound']:g}–{cal['beta_upper_bound']:g}).")
    if result.grid_truth is not None:
        info = result.manifest["zones"]["cell_truth"]
        console.print(f"Cell-level truth: {info['file']} ({result.grid_truth.height} cells; {info['pairs_timed']:,} "
                      f"cell pairs timed; largest tail_mass {info['max_tail_mass']:.4f}).")
    console.print(f"Check it: pendling synth --report {Path(result.directory).resolve()}")

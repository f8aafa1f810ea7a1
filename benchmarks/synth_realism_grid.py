"""Realism of a grid synthetic extract against AFSTB4, year by year (issue 18): road km between the home
and work 1 km cells of every employed person (distinct pairs routed once by the cached CH pair engine)
beside the municipality matrix km. Rerunnable in one command after changes to the synth placement:

    .venv/bin/python benchmarks/synth_realism_grid.py --work /work/bench-data/grid1m --synth

``--synth`` (re)writes the extract (``pendling synth --persons N --years Y --zones grid1km --seed 1``,
child process under /usr/bin/time -v); without it an existing extract in ``--work`` is reported on.
The report runs in this process (routing cold unless the pair cache of PENDLING_CACHE_DIR holds the
pairs). Writes benchmarks/synth_realism_grid.md (or ``--md``; text below its analysis marker is kept) and
``--work``/grid_municipal.parquet.
The machine is shared: CPU seconds are the figure to compare, wall time depends on the load.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- analysis: written by hand, kept when synth_realism_grid.py rewrites the tables above -->"
sys.path.insert(0, str(ROOT / "src"))

from pendling import synth as api  # noqa: E402
from pendling.synth import report as rep  # noqa: E402
from pendling.synth.cells import SURFACE_SHARE, HOME_CLASSES  # noqa: E402


def run_synth(work: Path, persons: int, years: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "pendling", "synth", "--persons", str(persons),
                        "--years", years, "--seed", "1", "--zones", "grid1km", "--out", str(work)],
                       env=env, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"synth failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")

    def grab(label: str) -> float:
        m = re.search(rf"{label}: ([\d.]+)", p.stderr)
        return float(m.group(1)) if m else float("nan")

    return {"wall_s": time.perf_counter() - t,
            "cpu_s": grab("User time \\(seconds\\)") + grab("System time \\(seconds\\)"),
            "rss_gib": grab("Maximum resident set size \\(kbytes\\)") / 2**20}


def fmt_table(df: pl.DataFrame) -> str:
    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 2 else f"{v:.2f}"
        if isinstance(v, bool):
            return "yes" if v else "no"
        return f"{v:,}" if isinstance(v, int) and v > 9999 else str(v)

    lines = ["| " + " | ".join(df.columns) + " |", "|" + " --- |" * df.width]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.iter_rows()]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, default=Path("/work/bench-data/grid1m"))
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--years", default="2014-2022")
    ap.add_argument("--synth", action="store_true", help="(re)write the extract first")
    ap.add_argument("--md", type=Path, default=ROOT / "benchmarks" / "synth_realism_grid.md")
    ap.add_argument("--title", default="", help="a line under the heading (e.g. which weights)")
    a = ap.parse_args()
    load0 = os.getloadavg()[0]
    synth = run_synth(a.work, a.persons, a.years) if a.synth else None
    if synth:
        print("synth", synth, flush=True)

    from pendling.routing.pairs import last_summary

    w0, c0 = time.perf_counter(), time.process_time()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] > 20 or done == total:
            last[0] = time.perf_counter()
            print(f"  routed {done:,} / {total:,} node pairs", flush=True)

    grid = rep.grid_commutes(a.work, progress=progress)
    route = {"wall_s": time.perf_counter() - w0, "cpu_s": time.process_time() - c0,
             "rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}
    summary = last_summary()
    print("grid_commutes", route, summary, flush=True)
    yearly = rep.grid_yearly(grid)
    muni = rep.grid_municipal(grid)
    muni.write_parquet(a.work / "grid_municipal.parquet")
    table = api.realism_report(a.work, grid=grid)
    last_year = int(yearly["year"].max())

    names = pl.read_csv(ROOT / "data" / "reference" / "synth" / "municipality_targets.csv").select(
        pl.col("code").cast(pl.Int16).alias("KOM"), "name") if "name" in pl.read_csv(
        ROOT / "data" / "reference" / "synth" / "municipality_targets.csv", n_rows=0).columns else None
    m = muni.filter(pl.col("year") == last_year).join(
        grid.filter(pl.col("year") == last_year).select(
            "KOM", (pl.col("within") / pl.col("persons")).alias("within_share"),
            (pl.col("km_matrix_within_sum") / pl.col("within")).alias("within_matrix_km"),
            (pl.col("km_grid_within_sum") / pl.col("within")).alias("within_grid_km"),
            ((pl.col("km_matrix_sum") - pl.col("km_matrix_within_sum")) / pl.col("cross_border")).alias("cross_matrix_km"),
            ((pl.col("km_grid_sum") - pl.col("km_grid_within_sum")) / pl.col("cross_border")).alias("cross_grid_km"),
        ), on="KOM")
    if names is not None:
        m = m.join(names, on="KOM", how="left")
    cols = ["KOM", *(["name"] if names is not None else []), "persons", "afstb4_km", "matrix_km", "grid_km",
            "matrix_diff", "grid_diff", "within_share", "within_matrix_km", "within_grid_km", "cross_matrix_km",
            "cross_grid_km"]
    worst_grid = m.sort(pl.col("grid_diff").abs(), descending=True).head(12).select(cols)
    worst_matrix = m.sort(pl.col("matrix_diff").abs(), descending=True).head(12).select(cols)
    rmse = m.filter(pl.col("afstb4_km").is_not_null()).select(
        ((pl.col("matrix_diff") ** 2 * pl.col("persons")).sum() / pl.col("persons").sum()).sqrt().alias("matrix"),
        ((pl.col("grid_diff") ** 2 * pl.col("persons")).sum() / pl.col("persons").sum()).sqrt().alias("grid"))
    within = grid.group_by("year").agg(pl.col("within", "persons", "km_matrix_within_sum", "km_grid_within_sum").sum()).select(
        "year", (pl.col("within") / pl.col("persons")).alias("within_share"),
        (pl.col("km_matrix_within_sum") / pl.col("within")).alias("within_matrix_km"),
        (pl.col("km_grid_within_sum") / pl.col("within")).alias("within_grid_km")).sort("year")

    y = yearly.select("year", "persons", "excluded", "cross_border_share", "dst_national_km", "matrix_national_km",
                      "grid_national_km", "matrix_ratio", "grid_ratio", "matrix_correlation", "grid_correlation",
                      "grid_ok").join(within, on="year")
    n_ok = int(yearly["grid_ok"].sum())
    md = [
        f"# Realism of a grid synthetic extract against AFSTB4 ({a.persons:,} persons, {a.years})",
        "",
        *( [a.title, ""] if a.title else []),
        f"Extract: `pendling synth --persons {a.persons} --years {a.years} --seed 1 --zones grid1km --out {a.work}`"
        + (f" ({synth['wall_s']:.1f} s wall, {synth['cpu_s']:.1f} s CPU, peak {synth['rss_gib']:.2f} GiB)." if synth else "."),
        f"Report: `pendling synth --report {a.work}` (the extract has cells, so the grid figures are added); "
        f"this file: `.venv/bin/python benchmarks/synth_realism_grid.py --work {a.work}{' --synth' if synth else ''}`.",
        f"Cell weights (`pendling.synth.cells`): SURFACE_SHARE = {SURFACE_SHARE}, home road classes {', '.join(HOME_CLASSES)}.",
        "",
        f"Routing: {summary.node_pairs_routed:,} node pairs routed, {summary.node_pairs_cached:,} from the cache "
        f"({summary.pairs:,} distinct cell pairs of all years, {summary.same_zone:,} of them inside one cell, "
        f"{summary.not_routable:,} not routable; engine {summary.engine}); grid_commutes {route['wall_s']:.0f} s wall, "
        f"{route['cpu_s']:.0f} s CPU, peak RSS {route['rss_gib']:.2f} GiB. Shared, loaded machine (2 cores, load "
        f"{load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end): compare CPU seconds."
        if summary else "Routing: no pairs.",
        "",
        "Who is counted (as AFSTB4: employed persons by residence, road km home → workplace): rows with both "
        "municipalities known (411 read as 400), one row per person, fictive workplaces (LBNR 0) included; a row "
        "without a cell or a routable cell pair is `excluded` (and left out of the grid mean only). Matrix km = the "
        "municipality-level report's km (98 × 98 matrix, diagonal = within-municipality time); grid km = road km of "
        "the fastest route between the snapped home and work cells plus the access legs (same cell: the 1 km cell's "
        "within-zone km, 0.66 km). Ratio = model national mean ÷ DST's national mean of that year; correlation = "
        "Pearson r over the 98 municipalities with the same year's AFSTB4. Bands "
        "(`data/reference/synth/realism_targets.csv`): grid ratio 0.95–1.05, grid correlation ≥ 0.96.",
        "",
        "## By year",
        "",
        fmt_table(y),
        "",
        f"Grid inside both bands in {n_ok} of {yearly.height} years. Person-weighted RMSE of the municipal means "
        f"against AFSTB4 {last_year}: matrix {rmse['matrix'][0]:.2f} km, grid {rmse['grid'][0]:.2f} km. "
        "within_share = share of employed working in their residence municipality; within_*_km = their mean km; "
        "cross_*_km = mean km of those working elsewhere.",
        "",
        f"## Worst municipalities at grid level ({last_year}, model − AFSTB4, km)",
        "",
        fmt_table(worst_grid),
        "",
        f"## Worst municipalities at municipality level ({last_year})",
        "",
        fmt_table(worst_matrix),
        "",
        f"## Realism report ({last_year})",
        "",
        fmt_table(table.select("metric", "value", "target", "low", "high", "ok")),
        "",
    ]
    # the hand-written analysis below the marker survives a rerun (its numbers say when they were taken)
    kept = a.md.read_text().split(MARKER, 1)[1] if a.md.is_file() and MARKER in a.md.read_text() else "\n"
    a.md.write_text("\n".join(md) + MARKER + kept)
    print(f"wrote {a.md}")


if __name__ == "__main__":
    main()

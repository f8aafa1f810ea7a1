"""Benchmark: does the plain default run land inside every band of report_figures.csv at national scale?

For each seed: ``pendling synth --scenario default`` (3,000,000 persons, 2014-2022, Parquet) into a
temporary folder, then the default ``pendling compute`` (shipped matrix, address movers, disclosure
control on) for flow years 2019 and 2021, and the mean home-work road km of all employed in 2014 and
2021 (:func:`pendling.report.distance_by_year`), checked against every band. Writes a Markdown
report (default ``benchmarks/results/report_bands.md``) and exits 1 if any band is missed.

    .venv/bin/python benchmarks/report_bands.py                  # seeds 1-3, ~2-4 min per seed
    .venv/bin/python benchmarks/report_bands.py --persons 300000 --seeds 1   # quick look
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import polars as pl  # noqa: E402

from pendling import compute, load_panel  # noqa: E402
from pendling.io import write_text  # noqa: E402
from pendling.mobility.report_figures import check_report_figures  # noqa: E402
from pendling.report import distance_by_year  # noqa: E402
from pendling.synth import generate  # noqa: E402


def one_seed(persons: int, seed: int, work: Path) -> tuple[pl.DataFrame, dict[str, float]]:
    out = work / f"seed{seed}"
    times = {}
    t = time.perf_counter()
    generate(out, persons=persons, years="2014-2022", seed=seed, scenario="default")
    times["synth_s"] = time.perf_counter() - t
    t = time.perf_counter()
    panel = load_panel(out, years=[2014, 2018, 2019, 2020, 2021])
    results = compute(panel, years=[2019, 2021])
    times["compute_s"] = time.perf_counter() - t
    t = time.perf_counter()
    km = distance_by_year(panel)
    times["km_s"] = time.perf_counter() - t
    shutil.rmtree(out)
    return check_report_figures(results, km), times


def markdown(checks: dict[int, pl.DataFrame], times: dict[int, dict[str, float]], persons: int) -> str:
    seeds = sorted(checks)
    base = checks[seeds[0]].select("figure", "flow", "job_group", "region", "year", "measure", "low", "high")
    lines = [
        "# The default scenario against the report's stated values (report_figures.csv)",
        "",
        f"`benchmarks/report_bands.py`: `pendling synth --scenario default` with {persons:,} persons, 2014-2022,",
        "then the default `pendling compute` (shipped matrix, address movers, disclosure control) for flow years",
        "2019 and 2021 and the mean home-work road km; every value checked against its band. Timings on a",
        "shared, loaded 2-core machine.",
        "",
        "| figure | flow | job group | region | year | measure | band | " + " | ".join(f"seed {s}" for s in seeds) + " |",
        "| --- | --- | --- | --- | --- | --- | --- | " + " | ".join("---:" for _ in seeds) + " |",
    ]

    def fmt(v: float | None, ok: bool) -> str:
        return ("–" if v is None else f"{v:.4f}") + ("" if ok else " **MISS**")

    for i, row in enumerate(base.iter_rows(named=True)):
        lo = "" if row["low"] is None else f"{row['low']:g}"
        hi = "" if row["high"] is None else f"{row['high']:g}"
        cells = [fmt(checks[s]["value"][i], checks[s]["ok"][i]) for s in seeds]
        lines.append(f"| {row['figure']} | {row['flow']} | {row['job_group']} | {row['region']} | {row['year']} | "
                     f"{row['measure']} | [{lo}, {hi}] | " + " | ".join(cells) + " |")
    lines += ["", "| seed | bands met | synth (s) | load + compute (s) | km (s) |", "| ---: | ---: | ---: | ---: | ---: |"]
    for s in seeds:
        c, t = checks[s], times[s]
        lines.append(f"| {s} | {int(c['ok'].sum())} / {c.height} | {t['synth_s']:.0f} | {t['compute_s']:.0f} | "
                     f"{t['km_s']:.0f} |")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=3_000_000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/report_bands.md")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = ap.parse_args()
    checks, times = {}, {}
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        for seed in args.seeds:
            checks[seed], times[seed] = one_seed(args.persons, seed, Path(tmp))
            c = checks[seed]
            print(f"seed {seed}: {int(c['ok'].sum())}/{c.height} bands met; {times[seed]}", flush=True)
            for row in c.filter(~pl.col("ok")).iter_rows(named=True):
                print(f"  MISS {row['figure']} {row['flow']} {row['job_group']} {row['region']} {row['year']} "
                      f"{row['measure']}: {row['value']} not in [{row['low']}, {row['high']}]")
    write_text(markdown(checks, times, args.persons), args.out)
    print(f"wrote {args.out}")
    sys.exit(0 if all(c["ok"].all() for c in checks.values()) else 1)


if __name__ == "__main__":
    main()

"""CPU time and peak memory of ``pendling synth`` at municipality and grid level, and of the cell-level truth.

    python benchmarks/grid_synth_scale.py [--persons 3000000] [--years 2014-2022]
        [--runs municipality,grid,truth] [--truth-times crow|routed] [--min-prob 1e-5]
        [--dir /tmp/pendling-grid-synth-bench] [--json out.json]

Each run is a child process (so ru_maxrss and the CPU seconds, user + system, are its own):

* ``municipality``: ``generate(zones='municipality')`` (today's synth);
* ``grid``: ``generate(zones='grid1km')`` (cells placed, municipality truth only: what
  ``pendling synth --zones grid1km`` does by default);
* ``truth``: ``generate(zones='grid1km', cell_truth=...)``, the cell-level truth under the chosen
  time source (``crow``: straight-line km at 40 km/h + 2 min, the tests' toy times, which isolates
  the truth's own cost; ``routed``: pair routing on the stored road graph) and support threshold
  ``--min-prob``. It reports the truth's wall seconds, the distinct pairs timed and the largest
  ``tail_mass``.

On a shared machine, quote CPU seconds: wall time depends on the other jobs.
Results: benchmarks/results/2026-12-05-grid-synth.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

CHILD = """
import json, resource, sys, time
import numpy as np, polars as pl
from pendling import zones as Z
from pendling.synth import generate

def crow(pairs):
    o, d = Z.parse_cells(pairs["origin"]), Z.parse_cells(pairs["destination"])
    km = np.hypot((o["east_m"] - d["east_m"]).to_numpy(), (o["north_m"] - d["north_m"]).to_numpy()) / 1000
    return pairs.with_columns(pl.Series("minutes", 2.0 + km / 40 * 60))

out, persons, years, run, source, min_prob = sys.argv[1:7]
kw = {}
if run != "municipality":
    kw["zones"] = "grid1km"
if run == "truth":
    kw.update(cell_truth=crow if source == "crow" else "routed", cell_truth_min_prob=float(min_prob))
t = time.perf_counter()
r = generate(out, persons=int(persons), years=years, seed=1, scenario="default", **kw)
wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_SELF)
res = {"run": run, "wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "maxrss_mib": ru.ru_maxrss / 1024,
       "seconds": r.seconds, "rows": sum(f["rows"] for f in r.manifest["files"])}
if run == "truth":
    res["cell_truth"] = r.manifest["zones"]["cell_truth"]
    res["truth_source"] = source
print(json.dumps(res))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=3_000_000)
    ap.add_argument("--years", default="2014-2022")
    ap.add_argument("--runs", default="municipality,grid,truth")
    ap.add_argument("--truth-times", default="crow", choices=["crow", "routed"])
    ap.add_argument("--min-prob", type=float, default=1e-5)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/pendling-grid-synth-bench"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results = []
    for run in args.runs.split(","):
        if args.dir.exists():
            shutil.rmtree(args.dir)
        out = subprocess.run([sys.executable, "-c", CHILD, str(args.dir), str(args.persons), args.years, run,
                              args.truth_times, str(args.min_prob)], check=True, capture_output=True, text=True)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(res)
        line = (f"{run:12s} {args.persons:,} x {args.years}: cpu {res['cpu']:.1f} s, wall {res['wall']:.1f} s, "
                f"peak RSS {res['maxrss_mib']:,.0f} MiB")
        if run == "truth":
            ct = res["cell_truth"]
            line += (f"; cell truth ({args.truth_times}, min_prob {ct['min_prob']:g}) {res['seconds']['cell_truth']:.1f} s "
                     f"wall, {ct['pairs_timed']:,} pairs timed, max tail_mass {ct['max_tail_mass']:.4f}")
        print(line, flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

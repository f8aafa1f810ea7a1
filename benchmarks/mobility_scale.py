"""National-scale timing of ``pendling.compute``: ~3 M persons × 9 years of random canonical rows.

    python benchmarks/mobility_scale.py [--persons 3000000] [--years 9] [--dir /tmp/pendling-bench]

Step 1 (a child process) writes a random canonical panel to ``<dir>/panel.parquet``: homes and
workplaces over the 98 municipalities of the shipped table, per year about 10 % address moves (62 %
of them inside the municipality), 12 % LBNR changes, 1 % relocated workplaces, 3 % LBNR = 0 and 4 %
person-years missing. Step 2 (another child process, so its peak RSS is compute's alone) reads it
and runs ``compute(..., by=['region', 'kommunegruppe'])`` over every year with a previous year,
printing wall time per phase and the peak resident set size (ru_maxrss).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

# The panel builder is shared with the tests (one copy): tests/hardening/national_panel.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "hardening"))


def generate(path: Path, persons: int, years: int, seed: int = 2024) -> None:
    from national_panel import national_like_panel

    frame = national_like_panel(persons, tuple(range(2015, 2015 + years)), seed)
    frame.write_parquet(path)
    print(json.dumps({"rows": frame.height, "persons": persons, "years": years}))


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def measure(path: Path) -> None:
    import polars as pl

    import pendling.mobility as mob

    t0 = time.perf_counter()
    frame = pl.read_parquet(path)
    t1 = time.perf_counter()
    cpu0 = _cpu_s()
    result = mob.run(frame, by=["region", "kommunegruppe"])
    t2 = time.perf_counter()
    cpu = _cpu_s() - cpu0
    rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # ru_maxrss is KiB on Linux
    flows = result.attrition.filter(pl.col("stage") == "flows")
    print(json.dumps({
        "rows": frame.height,
        "read_s": round(t1 - t0, 2),
        "compute_s": round(t2 - t1, 2),
        "compute_cpu_s": round(cpu, 2),  # user + system over all threads: less sensitive to a busy machine
        "peak_rss_gib": round(rss_gib, 2),
        "cells": result.results.height,
        "movers": int(flows.filter(pl.col("bucket") == "mover")["n"].sum()),
        "job_changers": int(flows.filter(pl.col("bucket") == "job_changer")["n"].sum()),
    }))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=3_000_000)
    ap.add_argument("--years", type=int, default=9)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/pendling-bench"))
    ap.add_argument("--step", choices=["all", "generate", "measure"], default="all")
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    path = args.dir / f"panel_{args.persons}x{args.years}.parquet"
    if args.step == "generate":
        return generate(path, args.persons, args.years)
    if args.step == "measure":
        return measure(path)
    me = [sys.executable, __file__, "--persons", str(args.persons), "--years", str(args.years), "--dir", str(args.dir)]
    if not path.exists():
        subprocess.run([*me, "--step", "generate"], check=True)
    subprocess.run([*me, "--step", "measure"], check=True)


if __name__ == "__main__":
    main()

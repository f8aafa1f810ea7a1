"""Time and peak memory of ``pendling.synth.generate`` at national scale (3 M persons × 9 years).

    python benchmarks/synth_scale.py [--persons 3000000] [--years 2014-2022] [--format parquet]
                                     [--dir /tmp/pendling-synth-bench] [--report]

Runs the generator in a child process (so ru_maxrss is the generator's alone) and prints the wall
time per stage (setup = calibration fit; simulate = the yearly process; write = compression and
hashing, which runs in a background thread overlapping the next year's simulation), the peak
resident set size and the size on disk. With ``--report`` it then times the realism report.
The numbers recorded in benchmarks/synth_national.md come from this script.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import json, resource, sys, time
from pendling.synth import generate
t = time.perf_counter()
r = generate(sys.argv[1], persons=int(sys.argv[2]), years=sys.argv[3], seed=1, fmt=sys.argv[4], scenario="default")
print(json.dumps({"seconds": r.seconds, "wall": time.perf_counter() - t,
                  "rows": sum(f["rows"] for f in r.manifest["files"]),
                  "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=3_000_000)
    ap.add_argument("--years", default="2014-2022")
    ap.add_argument("--format", default="parquet")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/pendling-synth-bench"))
    ap.add_argument("--report", action="store_true")
    args = ap.parse_args()
    if args.dir.exists():
        shutil.rmtree(args.dir)
    out = subprocess.run([sys.executable, "-c", CHILD, str(args.dir), str(args.persons), args.years, args.format],
                         check=True, capture_output=True, text=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    size = sum(p.stat().st_size for p in args.dir.iterdir()) / 2**20
    s = res["seconds"]
    print(f"persons {args.persons:,} x years {args.years}: {res['rows']:,} rows, format {args.format}")
    print(f"wall {res['wall']:.1f} s  (setup {s['setup']:.1f} s, simulate {s['simulate']:.1f} s, "
          f"write {s['write']:.1f} s overlapped)")
    print(f"peak RSS {res['maxrss_mib']:,.0f} MiB; on disk {size:,.0f} MiB")
    if args.report:
        from pendling.synth import realism_report

        t = time.perf_counter()
        table = realism_report(args.dir)
        print(f"realism report {time.perf_counter() - t:.1f} s; peak RSS (this process) "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")
        print(table.select("metric", "value", "low", "high", "ok"))


if __name__ == "__main__":
    main()

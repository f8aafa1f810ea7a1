"""National 1 km run end to end (issue 18): synth --zones grid1km, then compute --zones grid1km cold
(routing every distinct home-cell/work-cell pair on the stored graph, CH) and warm (pairs from the cache).

Each stage runs as a child process under /usr/bin/time -v, so wall time, CPU time and peak RSS are its
own. Writes benchmarks/results/grid_national.md (and .json). The machine is shared: say so with the load.

    .venv/bin/python benchmarks/grid_national.py --persons 3000000 --years 2014-2022 --work /tmp/gridnat
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

from zone_codes import timed  # one child-process timer (wall, CPU, peak RSS) for the grid benchmarks

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=3_000_000)
    ap.add_argument("--years", default="2014-2022")
    ap.add_argument("--work", type=Path, default=Path("/tmp/pendling-grid-national"))
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    a.work.mkdir(parents=True)
    env = {**os.environ, "PENDLING_CACHE_DIR": str(a.work / "cache"), "PYTHONPATH": str(ROOT / "src")}
    ext = a.work / "extract"
    out: dict = {"persons": a.persons, "years": a.years, "load_before": os.getloadavg()[0]}
    out["synth"] = timed(["synth", "--persons", str(a.persons), "--years", a.years, "--seed", "1", "--zones", "grid1km",
                          "--out", str(ext)], env)
    print("synth", out["synth"], flush=True)
    common = ["compute", "--panel", str(ext), "--zones", "grid1km", "--max-rows", "0"]
    out["compute_cold"] = timed([*common, "--out", str(a.work / "cold.parquet")], env)
    print("compute cold", out["compute_cold"], flush=True)
    out["compute_warm"] = timed([*common, "--out", str(a.work / "warm.parquet")], env)
    print("compute warm", out["compute_warm"], flush=True)
    out["compute_municipality"] = timed(["compute", "--panel", str(ext), "--max-rows", "0", "--out",
                                         str(a.work / "muni.parquet")], env)
    print("compute municipality", out["compute_municipality"], flush=True)
    import polars as pl

    cold, warm = pl.read_parquet(a.work / "cold.parquet"), pl.read_parquet(a.work / "warm.parquet")
    out["cold_equals_warm"] = cold.equals(warm)
    res = ROOT / "benchmarks" / "results"
    (res / "grid_national.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    rows = [f"| {k} | {v['wall_s']} | {v['cpu_s']} | {v['peak_rss_gib']} | {v['load_after']:.1f} |"
            for k, v in out.items() if isinstance(v, dict)]
    (res / "grid_national.md").write_text(
        f"# National 1 km run: {a.persons:,} persons, {a.years}\n\n"
        "`python benchmarks/grid_national.py` on the shared 2-core development box (other helpers' jobs running; "
        f"load average {out['load_before']:.1f} at the start). compute cold = routing every distinct "
        "(home cell, work cell) pair (CH) + the statistics; warm = the same with the pairs from the cache.\n\n"
        "| stage | wall s | CPU s | peak RSS GiB | load after |\n| --- | --- | --- | --- | --- |\n"
        + "\n".join(rows) + f"\n\ncold and warm results identical: {out['cold_equals_warm']}\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""Start-up time of the `pendling` command: wall and CPU time of `--help` and friends, median of N runs.

    .venv/bin/python benchmarks/startup.py               # 15 runs each, Markdown table on stdout
    .venv/bin/python benchmarks/startup.py --runs 30 --json results/startup.json
    .venv/bin/python benchmarks/startup.py --only panel,plot    # a few commands (names as in COMMANDS)

Each run is a fresh process (the console script next to this Python, else ``python -m pendling``);
the floors are a bare ``python -c pass`` and ``import typer`` (the CLI framework itself, which
pendling cannot start without). CPU time (user + sys of the child) is shown beside wall time:
on a shared, loaded machine wall time mostly measures the wait for a core, CPU time does not.
Target (issue 14): `pendling --help` and every command's `--help` ≤ 0.3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pendling() -> list[str]:
    script = Path(sys.executable).with_name("pendling")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "pendling"]


def cases() -> dict[str, list[str]]:
    """The floors, `--version`, `--help`, and `--help` of every command in ``pendling.cli.COMMANDS``."""
    sys.path.insert(0, str(ROOT / "src"))
    from pendling.cli import COMMANDS  # the registry only: its commands are not imported

    p = _pendling()
    return {
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
        "python -c 'import typer' (floor)": [sys.executable, "-c", "import typer"],
        "pendling --version": [*p, "--version"],
        "pendling --help": [*p, "--help"],
        **{f"pendling {name} --help": [*p, name, "--help"] for name in COMMANDS},
    }


def measure(cmd: list[str], runs: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    walls, cpus = [], []
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)  # warm
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr.decode(errors='replace')}")
    return {"wall_median_s": statistics.median(walls), "wall_min_s": min(walls), "wall_max_s": max(walls),
            "cpu_median_s": statistics.median(cpus), "runs": runs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15, help="runs per command (default 15)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    ap.add_argument("--only", help="comma-separated command names: only their --help (and the floors)")
    args = ap.parse_args()
    chosen = cases()
    if args.only:
        wanted = {f"pendling {n.strip()} --help" for n in args.only.split(",")}
        chosen = {k: v for k, v in chosen.items() if k in wanted or "(floor)" in k}
    load_before = os.getloadavg()
    rows = {name: measure(cmd, args.runs) for name, cmd in chosen.items()}
    load_after = os.getloadavg()
    print(f"| command | wall median (s) | wall min–max (s) | CPU median (s) |\n|---|---|---|---|")
    for name, r in rows.items():
        print(f"| `{name}` | {r['wall_median_s']:.3f} | {r['wall_min_s']:.3f}–{r['wall_max_s']:.3f} "
              f"| {r['cpu_median_s']:.3f} |")
    print(f"\n{args.runs} runs each; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after; "
          f"{os.cpu_count()} cores; Python {sys.version.split()[0]}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"runs": rows, "loadavg_before": load_before, "loadavg_after": load_after,
                                         "cpu_count": os.cpu_count(), "python": sys.version.split()[0]},
                                        indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""pendling benchmarks: every stage timed as a whole, with its peak memory, beside what a user would
otherwise write — and every baseline's numbers checked equal to pendling's before any time is shown.

    python benchmarks/run.py [--scale national|small] [--out DIR] [--cache DIR] [--stages a,b,...]

Scales:

* ``national`` — the synthetic national extract, 3,000,000 persons × 2014–2022 (27 M person-years),
  the stored national road graph (``data/roads``) and the national tiles
  (``../shared/data/roads/tiles``; the graph-build stage is skipped, and says so, when absent).
* ``small`` — 20,000 persons × 2014–2022, the repo's 3×3 test tiles and the stored graph cropped to
  the København area (17 municipalities); runs in well under a minute, so CI exercises the harness.

Stages (each in its own child process; peak RSS via ``getrusage`` in the child after resetting the
high-water mark, and ``os.wait4``'s ``ru_maxrss`` for the whole child as a cross-check):
synth, panel_load, mobility, duckdb_bare, pandas_idiomatic, pandas_groupby_shift, pandas_per_person,
mobility_breakdowns, routing_graph_build, routing_matrix, routing_networkx, routing_osrm.

The three pandas baselines are (b1) ``pandas_idiomatic``, vectorised (self-merge + masks + group-by);
(b2) ``pandas_groupby_shift``, the panel idiom (``groupby('pnr').shift(1)``); (b3) ``pandas_per_person``,
a Python function per person. (b3) runs on every k-th PNR (k chosen so that about
``--per-person-persons`` persons are in it: 30,000 national, 2,000 small); its time is extrapolated
linearly in persons and labelled "extrapolated", and it is checked against pendling on the same persons.

The synthetic extract is cached under ``--cache`` (default ``benchmarks/cache/``, gitignored), keyed
by generator version + seed + matrix hash + size; a cached extract reports the timing recorded when
it was generated (``--regenerate`` measures afresh). Results go to ``<out>/<date>.json`` and
``<out>/<date>.md`` and ``<out>/latest.md`` (small scale: ``<date>-small.*``, ``latest-small.md``);
``<out>`` defaults to ``benchmarks/results``. Exit code 1 if any equality check fails or a stage crashes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

ORDER = [
    "synth",
    "panel_load",
    "mobility",
    "duckdb_bare",
    "pandas_idiomatic",
    "pandas_groupby_shift",
    "pandas_per_person",
    "mobility_breakdowns",
    "routing_graph_build",
    "routing_matrix",
    "routing_networkx",
    "routing_osrm",
]
NEEDS = {
    "panel_load": "synth",
    "mobility": "panel_load",
    "duckdb_bare": "panel_load",
    "pandas_idiomatic": "panel_load",
    "pandas_groupby_shift": "panel_load",
    "pandas_per_person": "panel_load",
    "mobility_breakdowns": "panel_load",
    "routing_networkx": "routing_matrix",
    "routing_osrm": "routing_matrix",
}

SCALES: dict[str, dict[str, Any]] = {
    "national": {
        "persons": 3_000_000,
        "years": "2014-2022",
        "seed": 1,
        "scenario": "default",
        "tiles_dir": str((REPO / ".." / "shared" / "data" / "roads" / "tiles").resolve()),
        "graph_dir": str(REPO / "data" / "roads"),
        "nx_sources": 4,
        "pandas_fraction": 1.0,
        "per_person_persons": 30_000,
        "repeat": 3,
    },
    "small": {
        "persons": 20_000,
        "years": "2014-2022",
        "seed": 1,
        "scenario": "default",
        "tiles_dir": str(REPO / "tests" / "data" / "osm" / "tiles"),
        "graph_dir": str(REPO / "data" / "roads"),
        # København and its neighbours: 17 municipality inside points, ~55,000 graph nodes
        "bbox": [12.30, 55.55, 12.70, 55.82],
        "nx_sources": 17,
        "pandas_fraction": 1.0,
        "per_person_persons": 2_000,
        "repeat": 1,
    },
}


# ----------------------------------------------------------------------------- child side


def child(stage: str, ctx_path: Path, result_path: Path) -> int:
    import stages

    ctx = json.loads(ctx_path.read_text())
    meter = stages.Meter()
    result = stages.STAGES[stage](ctx, meter)
    tmp = result_path.with_name(f".{result_path.name}.tmp")
    tmp.write_text(json.dumps(result, indent=1, default=str))
    os.replace(tmp, result_path)
    return 0


# ----------------------------------------------------------------------------- parent side


def run_stage(stage: str, ctx: dict[str, Any], run_dir: Path, timeout: float) -> dict[str, Any]:
    """Run one stage in a fresh Python process; add the child's rusage from ``os.wait4``."""
    ctx_path = run_dir / f"ctx-{stage}.json"
    result_path = run_dir / f"result-{stage}.json"
    log_path = run_dir / f"log-{stage}.txt"
    ctx_path.write_text(json.dumps(ctx, indent=1))
    result_path.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--stage", stage, "--ctx", str(ctx_path),
           "--result", str(result_path)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        deadline = time.monotonic() + timeout
        while True:  # os.wait4 blocks; poll it so a runaway stage can be stopped
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, ru = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    process = {"process_seconds": wall, "process_maxrss_mib": ru.ru_maxrss / 1024,
               "process_cpu_seconds": ru.ru_utime + ru.ru_stime, "exit_code": proc.returncode}
    if proc.returncode != 0 or not result_path.is_file():
        tail = log_path.read_text(errors="replace")[-3000:]
        return {"status": "failed", "reason": f"exit code {proc.returncode}", "log_tail": tail, **process}
    result = json.loads(result_path.read_text())
    result.update(process)
    return result


def machine_info() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=20)
            return out.stdout.strip() if out.returncode == 0 else None
        except OSError:
            return None

    mem = None
    try:
        with open("/proc/meminfo") as fh:
            mem = round(int(fh.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    cpu = None
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), None)
    except OSError:
        pass
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": mem,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
    }


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for pkg in ("pendling", "polars", "duckdb", "pandas", "pyarrow", "numpy", "scipy", "networkx", "osrm-bindings"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    osrm_version = REPO / ".cache" / "osrm" / "VERSION"
    if out["osrm-bindings"] == "not installed" and osrm_version.is_file():
        out["osrm-bindings"] = osrm_version.read_text().strip() + " (binaries in .cache/osrm)"
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=sorted(SCALES), default="national")
    ap.add_argument("--out", type=Path, default=HERE / "results", help="results directory (JSON + Markdown)")
    ap.add_argument("--cache", type=Path, default=HERE / "cache", help="cache of extracts, cropped graphs, OSRM files")
    ap.add_argument("--stages", default=None, help="comma-separated subset of stages (their inputs must be cached)")
    ap.add_argument("--regenerate", action="store_true", help="generate the synthetic extract even if cached")
    ap.add_argument("--pandas-fraction", type=float, default=None,
                    help="run the vectorised pandas baselines (b1, b2) on every (1/f)-th person and "
                         "extrapolate (default: all persons)")
    ap.add_argument("--per-person-persons", type=int, default=None,
                    help="about how many persons the per-person pandas baseline (b3) runs on before its time "
                         "is extrapolated (default 30,000 national, 2,000 small)")
    ap.add_argument("--nx-sources", type=int, default=None, help="networkx sources to measure")
    ap.add_argument("--repeat", type=int, default=None,
                    help="timed runs of the compute/baseline/matrix stages; the median is reported "
                         "(default 3 national, 1 small)")
    ap.add_argument("--keep-run-dir", action="store_true", help="keep the scratch tables between stages")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per stage")
    ap.add_argument("--stage", help=argparse.SUPPRESS)
    ap.add_argument("--ctx", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.stage:
        return child(args.stage, args.ctx, args.result)

    scale = SCALES[args.scale]
    cache = args.cache.resolve()
    run_dir = cache / f"run-{args.scale}"
    run_dir.mkdir(parents=True, exist_ok=True)
    ctx: dict[str, Any] = {
        **scale,
        "scale": args.scale,
        "cache_dir": str(cache),
        "run_dir": str(run_dir),
        "repo": str(REPO),
        "regenerate": args.regenerate,
    }
    if args.pandas_fraction is not None:
        ctx["pandas_fraction"] = args.pandas_fraction
    if args.per_person_persons is not None:
        ctx["per_person_persons"] = args.per_person_persons
    if args.nx_sources is not None:
        ctx["nx_sources"] = args.nx_sources
    if args.repeat is not None:
        ctx["repeat"] = args.repeat
    wanted = ORDER if not args.stages else [s for s in ORDER if s in args.stages.split(",")]
    started = dt.datetime.now(dt.UTC)
    doc: dict[str, Any] = {
        "scale": args.scale,
        "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "parameters": {k: ctx[k] for k in ("persons", "years", "seed", "scenario", "nx_sources", "pandas_fraction",
                                           "per_person_persons", "repeat", "tiles_dir", "graph_dir") if k in ctx},
        "machine": machine_info(),
        "versions": versions(),
        "loadavg_start": list(os.getloadavg()),
        "stages": {},
    }
    print(f"pendling benchmarks, scale {args.scale}; load average {os.getloadavg()[0]:.2f}", flush=True)
    results: dict[str, dict[str, Any]] = {}
    for stage in wanted:
        need = NEEDS.get(stage)
        if need in results and results[need]["status"] in ("failed", "skipped"):
            results[stage] = {"status": "skipped", "reason": f"needs {need}, which {results[need]['status']}"}
        else:
            if stage == "panel_load" and "extract" not in ctx:
                prior = results.get("synth") or run_stage("synth", ctx, run_dir, args.timeout)
                ctx["extract"] = prior.get("details", {}).get("extract")
            results[stage] = run_stage(stage, ctx, run_dir, args.timeout)
            if stage == "synth" and results[stage]["status"] in ("ok", "cached"):
                ctx["extract"] = results[stage]["details"]["extract"]
        r = results[stage]  # no times on screen yet: they are shown only once the checks have passed
        print(f"  {stage:<22} {r['status']:<12} {r.get('reason', '')}", flush=True)
    doc["stages"] = results
    doc["loadavg_end"] = list(os.getloadavg())
    doc["finished_utc"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    import bench_report as report  # polars and pendling are imported only now, after every child has run

    doc["checks"] = report.checks(results, run_dir)
    doc["checks_passed"] = all(c["passed"] for c in doc["checks"].values() if c.get("passed") is not None)
    doc["targets"] = report.targets(results, applies=args.scale == "national")
    if not doc["checks_passed"]:
        report.withhold_timings(doc)
    path_json, path_md = report.write(doc, args.out, started.date().isoformat(), args.scale)
    print(path_md.read_text(encoding="utf-8") if doc["checks_passed"] else "", flush=True)
    print(f"checks {'passed' if doc['checks_passed'] else 'FAILED'}; wrote {path_json} and {path_md}", flush=True)
    if not args.keep_run_dir:
        for p in run_dir.glob("*.parquet"):
            p.unlink()
    failed = [s for s, r in results.items() if r["status"] == "failed"]
    if failed:
        print(f"failed stages: {', '.join(failed)} (logs in {run_dir})", file=sys.stderr)
    return 0 if doc["checks_passed"] and not failed else 1


if __name__ == "__main__":
    sys.exit(main())

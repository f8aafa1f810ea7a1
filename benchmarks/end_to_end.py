"""End to end on a synthetic national extract: pendling vs the DuckDB a researcher writes over the raw files.

    .venv/bin/python benchmarks/end_to_end.py --extract benchmarks/cache/e2e-3m-2017-2022 --years 2018-2022

Each contender runs in a fresh process, one after the other in the same run; for each the wall time
and the child's peak resident memory (``os.wait4`` → ``ru_maxrss``, imports included) are recorded:

* ``raw_duckdb`` — one DuckDB SQL over the raw yearly Parquet files in DST names (``ras<year>.parquet``:
  PNR, KOM, ADRESSE_ID, LBNR, ARBKOM, DISCO08_ALLE_INDK_13; the year from the file name), with the
  validation a careful researcher would write: code 411 → 400, rows outside the 98 municipalities
  dropped, LBNR missing → 0, DISCO-08 → job group by longest prefix (in SQL, on the distinct codes),
  region from the municipality table, the same flow rules as pendling, the 98 × 98 matrix read from
  Parquet. No attrition table, no disclosure control.
* ``bare_duckdb`` — ``baselines.duckdb_bare``: the self-join + matrix lookup + group-by on the
  already-clean canonical table (``pendling panel export`` of the same extract, read from Parquet;
  ``query_s`` is the query alone, the lower bound).
* ``pendling_cold`` — ``pendling compute --panel DIR --years Y --out F --no-cache``: reading,
  validation, attrition, both flows, all cells with margins, disclosure control, writing.
* ``pendling_first`` / ``pendling_hit`` — the same without ``--no-cache`` on an empty cache (a miss that
  stores the validated panel) and again (a hit).

Equality first: the raw-file result must equal the bare query's (n exactly, means to 1e-9) on every
cell, else no time is written and the exit code is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
PENDLING = str(Path(sys.executable).with_name("pendling"))

RAW_SQL = r"""
WITH raw AS (
    SELECT CAST(regexp_extract(filename, 'ras(\d{4})', 1) AS SMALLINT) AS year,
           PNR AS pnr, CAST(KOM AS INTEGER) AS kom, ADRESSE_ID AS addr, coalesce(LBNR, 0) AS lbnr,
           CAST(ARBKOM AS INTEGER) AS arbkom, trim(DISCO08_ALLE_INDK_13) AS disco
    FROM read_parquet($files, filename = true)
    WHERE PNR IS NOT NULL
),
recoded AS (  -- DST's 411 (Christiansø) is counted under 400 (Bornholm)
    SELECT year, pnr, addr, lbnr, disco,
           CASE WHEN kom = 411 THEN 400 ELSE kom END AS home,
           CASE WHEN arbkom = 411 THEN 400 ELSE arbkom END AS work
    FROM raw
),
codes AS (  -- DISCO-08 → job group by the longest prefix in the mapping, once per distinct code
    SELECT d.disco, arg_max(j.job_group, length(j.prefix)) AS job_group
    FROM (SELECT DISTINCT disco FROM recoded WHERE regexp_matches(disco, '^\d+$')) d
    JOIN jobgroups j ON starts_with(d.disco, j.prefix)
    GROUP BY d.disco
),
panel AS (
    SELECT r.year, r.pnr, r.home AS home_muni, r.addr AS home_addr, r.lbnr AS work_id, r.work AS work_muni,
           coalesce(c.job_group, 'unclassified') AS job_group, m.region_code
    FROM recoded r
    JOIN muni m ON m.code = r.home
    SEMI JOIN muni w ON w.code = r.work
    LEFT JOIN codes c ON c.disco = r.disco
),
pairs AS (
    SELECT c.year, p.job_group,
           CASE WHEN p.region_code = 1084 THEN 'hovedstaden' ELSE 'rest' END AS region,
           (CASE WHEN p.home_addr IS NOT NULL AND c.home_addr IS NOT NULL
                 THEN p.home_addr <> c.home_addr ELSE p.home_muni <> c.home_muni END) AS moved,
           coalesce(p.home_addr = c.home_addr AND p.home_muni <> c.home_muni, false) AS contradictory,
           p.work_id AS w0, c.work_id AS w1, p.work_muni AS wm0, c.work_muni AS wm1,
           m0.minutes AS t0, m1.minutes AS t1
    FROM panel p
    JOIN panel c ON c.pnr = p.pnr AND c.year = p.year + 1
    JOIN od m0 ON m0.origin = p.home_muni AND m0.destination = p.work_muni
    JOIN od m1 ON m1.origin = c.home_muni AND m1.destination = c.work_muni
    WHERE c.year BETWEEN $y0 AND $y1
),
flows AS (
    SELECT year, job_group, region, t0, t1,
           CASE WHEN contradictory THEN NULL
                WHEN moved AND w0 = w1 AND w0 <> 0 AND wm0 = wm1 THEN 'movers'
                WHEN NOT moved AND w0 <> w1 AND w0 <> 0 AND w1 <> 0 THEN 'job_changers' END AS flow
    FROM pairs
)
SELECT year, flow, job_group,
       CASE WHEN GROUPING(region) = 1 THEN 'all' ELSE region END AS region,
       COUNT(*) AS n, AVG(t1 / t0 - 1) AS mean_rel_change, SUM(t1) / SUM(t0) - 1 AS ratio_of_means
FROM flows
WHERE flow IS NOT NULL
GROUP BY GROUPING SETS ((year, flow, job_group, region), (year, flow, job_group))
"""


def child_raw(extract: Path, years: tuple[int, int], out: Path) -> dict:
    import duckdb

    t = time.perf_counter()
    con = duckdb.connect()
    data = ROOT / "data"
    con.execute(f"CREATE VIEW jobgroups AS SELECT prefix, job_group FROM read_csv('{data}/reference/disco08_jobgroups.csv', "
                "all_varchar = true)")
    con.execute(f"CREATE VIEW muni AS SELECT CAST(code AS INTEGER) AS code, region_code FROM "
                f"read_parquet('{data}/municipalities/municipalities.parquet')")
    con.execute(f"CREATE VIEW od AS SELECT origin, destination, minutes FROM read_parquet('{data}/od_matrix/od_matrix.parquet')")
    files = sorted(str(p) for p in extract.glob("ras*.parquet"))
    import polars as pl

    res = pl.from_arrow(con.execute(RAW_SQL, {"files": files, "y0": years[0], "y1": years[1]}).to_arrow_table())
    elapsed = time.perf_counter() - t
    sys.path.insert(0, str(HERE))
    import baselines

    baselines._canonical(res).write_parquet(out)
    return {"query_s": elapsed}


def child_bare(clean: Path, years: tuple[int, int], out: Path) -> dict:
    import polars as pl

    sys.path.insert(0, str(HERE))
    import baselines

    from pendling.odmatrix import load_matrix

    t = time.perf_counter()
    frame = pl.read_parquet(clean, columns=["pnr", "year", "home_muni", "home_addr", "work_id", "work_muni",
                                            "job_group", "region_code"])
    t_read = time.perf_counter() - t
    od = load_matrix()
    t = time.perf_counter()
    res = baselines.duckdb_bare(frame, od, years)
    query = time.perf_counter() - t
    res.write_parquet(out)
    return {"read_s": t_read, "query_s": query}


def run(cmd: list[str], env: dict[str, str] | None = None) -> dict:
    """Wall time and peak RSS (MiB) of one child process."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({code}):\n{output[-3000:]}")
    extra = {}
    for line in output.splitlines():
        if line.startswith("E2E "):
            extra = json.loads(line[4:])
    return {"wall_s": wall, "peak_mib": usage.ru_maxrss / 1024, "cpu_s": usage.ru_utime + usage.ru_stime, **extra}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--extract", type=Path, required=True)
    ap.add_argument("--years", required=True, help="flow years, e.g. 2018-2022")
    ap.add_argument("--work", type=Path, default=HERE / "cache" / "e2e-run")
    ap.add_argument("--out", type=Path, default=None, help="results Markdown (default: print only)")
    ap.add_argument("--child", choices=["raw", "bare"])
    args = ap.parse_args()
    y0, y1 = (int(x) for x in args.years.split("-"))
    work: Path = args.work
    if args.child:
        fn = child_raw if args.child == "raw" else child_bare
        src = args.extract if args.child == "raw" else work / "clean.parquet"
        print("E2E " + json.dumps(fn(src, (y0, y1), work / f"{args.child}.parquet")))
        return 0

    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PENDLING_CACHE_DIR": str(work / "pcache")}
    shutil.rmtree(work / "pcache", ignore_errors=True)
    load = [os.getloadavg()[0]]
    if not (work / "clean.parquet").is_file():  # untimed setup: the clean canonical table for the bare query
        run([PENDLING, "panel", "export", str(args.extract), "--out", str(work / "clean.parquet"), "--no-cache",
             "--years", f"{y0 - 1}-{y1}"], env)
    results = {}
    me = [PY, str(Path(__file__).resolve()), "--extract", str(args.extract), "--years", args.years, "--work", str(work)]
    results["raw_duckdb"] = run(me + ["--child", "raw"], env)
    load.append(os.getloadavg()[0])
    results["bare_duckdb"] = run(me + ["--child", "bare"], env)
    compute = [PENDLING, "compute", "--panel", str(args.extract), "--years", args.years, "--out",
               str(work / "pendling.parquet")]
    results["pendling_cold"] = run(compute + ["--no-cache"], env)
    load.append(os.getloadavg()[0])
    results["pendling_first"] = run(compute, env)
    results["pendling_hit"] = run(compute, env)
    load.append(os.getloadavg()[0])
    cache_bytes = sum(p.stat().st_size for p in (work / "pcache").rglob("*") if p.is_file())

    import polars as pl

    sys.path.insert(0, str(HERE))
    import baselines

    raw = pl.read_parquet(work / "raw.parquet")
    bare = pl.read_parquet(work / "bare.parquet")
    joined = raw.join(bare, on=baselines.KEYS, how="full", suffix="_b", coalesce=True)
    diff = {
        "cells": joined.height,
        "only_in_one": joined.filter(pl.col("n").is_null() | pl.col("n_b").is_null()).height,
        "n": int((joined["n"] - joined["n_b"]).abs().max() or 0),
        "mean": float((joined["mean_rel_change"] - joined["mean_rel_change_b"]).abs().max() or 0),
        "ratio": float((joined["ratio_of_means"] - joined["ratio_of_means_b"]).abs().max() or 0),
    }
    equal = diff["only_in_one"] == 0 and diff["n"] == 0 and diff["mean"] <= 1e-9 and diff["ratio"] <= 1e-9
    n_files = len(list(args.extract.glob("ras*.parquet")))
    in_bytes = sum(p.stat().st_size for p in args.extract.glob("ras*.parquet"))
    bare_q = results["bare_duckdb"]["query_s"]
    lines = [
        f"# End to end: {args.extract.name}, flow years {args.years} ({n_files} yearly files, "
        f"{in_bytes / 2**20:,.0f} MiB Parquet)",
        "",
        f"Raw-file SQL vs bare query on the clean table: {diff['cells']} cells, {diff['only_in_one']} in one only, "
        f"max |Δn| {diff['n']}, max |Δmean| {diff['mean']:.1e}, max |Δratio| {diff['ratio']:.1e} → "
        + ("**equal**" if equal else "**NOT EQUAL: times withheld**"),
        "",
    ]
    if equal:
        lines += ["| contender | wall s | × bare query | peak RSS GiB | CPU s | note |", "|---|---|---|---|---|---|"]
        notes = {
            "raw_duckdb": f"query {results['raw_duckdb']['query_s']:.1f} s; no attrition, no disclosure",
            "bare_duckdb": f"read clean table {results['bare_duckdb']['read_s']:.1f} s + query {bare_q:.2f} s "
                           "(× column uses the query alone)",
            "pendling_cold": "--no-cache: read, validate, compute, disclose, write",
            "pendling_first": f"cache miss: as cold + storing the validated panel ({cache_bytes / 2**20:,.0f} MiB)",
            "pendling_hit": "cache hit: content hash of the inputs + read the stored panel",
        }
        for name, r in results.items():
            lines.append(f"| {name} | {r['wall_s']:.1f} | {r['wall_s'] / bare_q:.1f} | {r['peak_mib'] / 1024:.2f} | "
                         f"{r['cpu_s']:.1f} | {notes[name]} |")
        lines += ["", f"Load average (1 min) before/after the stages: {', '.join(f'{x:.1f}' for x in load)} "
                  f"on {os.cpu_count()} cores. Peak RSS is the whole child process (imports included)."]
    text = "\n".join(lines) + "\n"
    print(text)
    (work / "results.json").write_text(json.dumps({"results": results, "diff": diff, "load": load}, indent=1))
    if args.out:
        args.out.write_text(text)
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())

"""Where ``pendling.mobility.compute`` spends its time, without touching the engine.

    python benchmarks/profile_mobility.py [--panel benchmarks/cache/run-national/panel.parquet]
                                          [--by region,kommunegruppe] [--operators] [--variants]

* Every DuckDB statement the engine runs is timed: ``duckdb.connect`` is wrapped for the duration
  of one ``compute`` call, so the statements are whatever the engine's current SQL is. The rest of
  the wall time (Polars and Python: validation, filtering, registering frames, estimators) is
  reported as "outside DuckDB", with cProfile's top functions by cumulative time.
* ``--operators``: DuckDB's own per-operator profile of the slow statements (JSON profiling).
* ``--variants``: after the engine's cell-sum query, the same query without the median, and with
  DOUBLE instead of HUGEINT sums, to price those two choices (the variants' numbers are discarded).

Run ``benchmarks/run.py --keep-run-dir`` first to leave the canonical panel in the cache.
Units: seconds (wall clock).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

import pendling.mobility as mob

STATEMENTS: list[tuple[str, float, list[tuple[str, float, int]]]] = []
OPTIONS = {"operators": False, "variants": False}


def _label(sql: str) -> str:
    s = " ".join(sql.split())
    if "CREATE TEMP TABLE transitions" in s:
        return "materialise transitions (self-join, classify, matrix lookups)"
    if "GROUPING SETS" in s:
        return "cell sums (GROUPING SETS)"
    if "count(*)" in s and "FROM transitions GROUP BY" in s:
        return "bucket counts (attrition)"
    if "DISTINCT disco_before" in s:
        return "distinct t-1 DISCO codes"
    return s[:70]


def _profiled(con: Any, run: Any, top: int = 8) -> tuple[Any, list[tuple[str, float, int]]]:
    """Run ``run()`` with DuckDB's JSON profiling on; return its result and the slowest operators."""
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    con.execute("PRAGMA enable_profiling = 'json'")
    con.execute(f"PRAGMA profiling_output = '{out}'")
    try:
        res = run()
    finally:
        con.execute("PRAGMA disable_profiling")
    prof = json.loads(out.read_text() or "{}")
    out.unlink()
    ops: list[tuple[str, float, int]] = []

    def walk(node: dict) -> None:
        # DuckDB 1.x: operator_name/operator_timing/operator_cardinality; 2.x: type/timing/intermediate_rows
        name = str(node.get("operator_name") or node.get("type") or "").strip()
        extra = node.get("extra_info") or {}
        if isinstance(extra, dict) and extra.get("Join Type"):
            name += f" ({extra['Join Type']})"
        if isinstance(extra, dict) and extra.get("Conditions"):
            name += f" on {' '.join(str(extra['Conditions']).split())[:60]}"
        if name:
            ops.append((name, float(node.get("operator_timing", node.get("timing")) or 0.0),
                        int(node.get("operator_cardinality", node.get("intermediate_rows")) or 0)))
        for c in node.get("children", []):
            walk(c)

    for root in prof.get("operator", [prof]) if isinstance(prof.get("operator"), list) else [prof]:
        walk(root)
    return res, sorted(ops, key=lambda r: -r[1])[:top]


def _variants(con: Any, sql: str) -> list[tuple[str, float, list[tuple[str, float, int]]]]:
    no_median = sql.replace("median(r) AS median_rel_change", "NULL::DOUBLE AS median_rel_change")
    out = []
    for label, q in (("  variant: HUGEINT sums, no median", no_median),
                     ("  variant: DOUBLE sums + median (not exact; cost only)", sql.replace("AS HUGEINT", "AS DOUBLE")),
                     ("  variant: DOUBLE sums, no median (not exact; cost only)",
                      no_median.replace("AS HUGEINT", "AS DOUBLE"))):
        t = time.perf_counter()
        con.execute(q).fetchall()
        out.append((label, time.perf_counter() - t, []))
    return out


class _Relation:
    """A DuckDB relation whose materialisation is timed."""

    def __init__(self, rel: Any, sql: str) -> None:
        self._rel, self._sql = rel, sql

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._rel, name)
        if name not in ("pl", "arrow", "fetchall", "df", "fetchone", "fetchnumpy"):
            return attr

        def timed(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            out = attr(*a, **k)
            STATEMENTS.append((_label(self._sql), time.perf_counter() - t, []))
            return out

        return timed


class _Connection:
    """Wraps a DuckDB connection: times ``execute`` (incl. fetch) and ``sql`` relations."""

    def __init__(self, con: Any) -> None:
        self._con = con

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def sql(self, query: str, *a: Any, **k: Any) -> Any:
        return _Relation(self._con.sql(query, *a, **k), query)

    def execute(self, query: str, *a: Any, **k: Any) -> Any:
        slow = "CREATE TEMP TABLE transitions AS" in query or "GROUPING SETS" in query

        def run() -> Any:
            res = self._con.execute(query, *a, **k)
            return _Rows(res.fetchall()) if "GROUPING SETS" in query else res

        t = time.perf_counter()
        if OPTIONS["operators"] and slow:
            res, ops = _profiled(self._con, run)
        else:
            res, ops = run(), []
        STATEMENTS.append((_label(query), time.perf_counter() - t, ops))
        if OPTIONS["variants"] and "GROUPING SETS" in query:
            STATEMENTS.extend(_variants(self._con, query))
        return res

    def close(self) -> None:
        self._con.close()


class _Rows:
    def __init__(self, rows: list[tuple]) -> None:
        self._rows = rows

    def fetchall(self) -> list[tuple]:
        return self._rows


def profile(frame: pl.DataFrame, by: list[str] | None) -> None:
    real = duckdb.connect
    duckdb.connect = lambda *a, **k: _Connection(real(*a, **k))  # type: ignore[assignment]
    prof = cProfile.Profile()
    try:
        t = time.perf_counter()
        prof.enable()
        mob.compute(frame, by=by)
        prof.disable()
        total = time.perf_counter() - t
    finally:
        duckdb.connect = real  # type: ignore[assignment]
    in_sql = sum(s for label, s, _ in STATEMENTS if not label.startswith("  variant"))
    print(f"\ncompute(by={by}) on {frame.height:,} rows: {total:.1f} s wall"
          + (" (includes the variants/operator profiles below)" if OPTIONS["operators"] or OPTIONS["variants"] else ""))
    for label, s, ops in STATEMENTS:
        print(f"  {s:7.2f} s  {label}")
        for name, os_, n in ops:
            print(f"             {os_:7.2f} s  {n:>12,} rows  {name}")
    if not (OPTIONS["operators"] or OPTIONS["variants"]):
        print(f"  {total - in_sql:7.2f} s  outside DuckDB (Polars/Python)")
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(r"pendling|polars/dataframe|duckdb", 25)
    print("\ncProfile, cumulative, pendling / polars / duckdb frames:")
    print("\n".join(ln for ln in buf.getvalue().splitlines() if ln.strip())[:6000])


def sorted_pairs(frame: pl.DataFrame, od: pl.DataFrame, years: tuple[int, int]) -> pl.DataFrame:
    """Prototype of a fix (not the engine): the same cells as ``baselines.duckdb_bare`` without any
    hash join. The canonical frame is sorted by (pnr, year), so each person-year's previous year is
    the row above it: pair with ``shift(1)``, classify, then look T up in a dense 98×98 array."""
    import numpy as np

    codes = np.sort(od["origin"].unique().to_numpy())
    pos = np.full(int(codes.max()) + 1, -1, dtype=np.int64)
    pos[codes] = np.arange(len(codes))
    dense = np.full((len(codes), len(codes)), np.nan)
    dense[pos[od["origin"].to_numpy()], pos[od["destination"].to_numpy()]] = od["minutes"].to_numpy()
    cols = ["pnr", "year", "home_muni", "home_addr", "work_id", "work_muni", "job_group", "region_code"]
    prev = [pl.col(c).shift(1).alias(f"{c}_0") for c in cols]
    c = pl.col
    moved = (pl.when(c("home_addr").is_not_null() & c("home_addr_0").is_not_null())
             .then(c("home_addr") != c("home_addr_0")).otherwise(c("home_muni") != c("home_muni_0")))
    same_job = (c("work_id") == c("work_id_0")) & (c("work_id_0") != 0) & (c("work_muni") == c("work_muni_0"))
    flow = (pl.when(moved & same_job)
            .then(pl.lit("movers"))
            .when(~moved & (c("work_id") != c("work_id_0")) & (c("work_id_0") != 0) & (c("work_id") != 0))
            .then(pl.lit("job_changers")))
    pairs = (
        frame.lazy().select(*cols, *prev)
        .filter(c("pnr") == c("pnr_0"), c("year") == c("year_0") + 1, c("year").is_between(*years))
        .with_columns(flow.alias("flow"))
        .filter(c("flow").is_not_null())
        .select("year", "flow", c("job_group_0").alias("job_group"),
                pl.when(c("region_code_0") == 1084).then(pl.lit("hovedstaden"))
                .otherwise(pl.lit("rest")).alias("region"),
                "home_muni_0", "work_muni_0", "home_muni", "work_muni")
        .collect()
    )
    t0 = dense[pos[pairs["home_muni_0"].to_numpy()], pos[pairs["work_muni_0"].to_numpy()]]
    t1 = dense[pos[pairs["home_muni"].to_numpy()], pos[pairs["work_muni"].to_numpy()]]
    pairs = pairs.select("year", "flow", "job_group", "region").with_columns(
        pl.Series("t0", t0), pl.Series("t1", t1), pl.Series("r", t1 / t0 - 1))
    agg = [pl.len().alias("n"), c("r").mean().alias("mean_rel_change"),
           (c("t1").sum() / c("t0").sum() - 1).alias("ratio_of_means")]
    by_region = pairs.group_by("year", "flow", "job_group", "region").agg(agg)
    overall = pairs.group_by("year", "flow", "job_group").agg(agg).with_columns(pl.lit("all").alias("region"))
    return pl.concat([by_region, overall.select(by_region.columns)])


def prototype(derived: Path, repeat: int) -> None:
    import statistics

    import baselines
    from pendling.odmatrix import load_matrix

    cols = ["pnr", "year", "home_muni", "home_addr", "work_id", "work_muni", "job_group", "region_code"]
    frame = pl.read_parquet(derived, columns=cols)
    od = load_matrix()
    years = (int(frame["year"].min()) + 1, int(frame["year"].max()))
    times: dict[str, list[float]] = {"bare DuckDB (hash self-join)": [], "sorted pairs (shift, dense lookup)": []}
    for _ in range(repeat):
        t = time.perf_counter()
        base = baselines.duckdb_bare(frame, od, years)
        times["bare DuckDB (hash self-join)"].append(time.perf_counter() - t)
        t = time.perf_counter()
        proto = sorted_pairs(frame, od, years)
        times["sorted pairs (shift, dense lookup)"].append(time.perf_counter() - t)
    d = baselines.max_abs_difference(proto.with_columns(pl.col("year").cast(pl.Int16)), base)
    print(f"\nprototype on {frame.height:,} rows (median of {repeat}); equal to the baseline: {d}")
    for k, v in times.items():
        print(f"  {statistics.median(v):7.2f} s  {k}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--panel", type=Path, default=Path(__file__).parent / "cache" / "run-national" / "panel.parquet")
    ap.add_argument("--by", default="", help="comma-separated: region, kommunegruppe")
    ap.add_argument("--operators", action="store_true", help="DuckDB's slowest operators per slow statement")
    ap.add_argument("--variants", action="store_true", help="price the median and the HUGEINT sums")
    ap.add_argument("--prototype", action="store_true",
                    help="time the sorted-pairs prototype against the bare DuckDB baseline instead")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if args.prototype:
        import sys

        sys.path.insert(0, str(Path(__file__).parent))
        prototype(args.panel.with_name("panel_derived.parquet"), args.repeat)
        return
    OPTIONS["operators"], OPTIONS["variants"] = args.operators, args.variants
    frame = pl.read_parquet(args.panel)
    profile(frame, [b for b in args.by.split(",") if b] or None)


if __name__ == "__main__":
    main()

"""Where ``pendling.mobility.compute`` spends its time, without touching the engine.

    python benchmarks/profile_mobility.py [--panel benchmarks/cache/run-national/panel.parquet]
                                          [--by region,kommunegruppe] [--operators]

* Every DuckDB statement the engine runs is timed: ``duckdb.connect`` is wrapped for the duration
  of one ``compute`` call, so the statements are whatever the engine's current SQL is. The rest of
  the wall time (Polars: validation, pairing and classification, matrix lookup; Python: estimators,
  disclosure) is reported as "outside DuckDB", with cProfile's top functions by cumulative time.
* ``--operators``: DuckDB's own per-operator profile of the cell statements (JSON profiling).

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
OPTIONS = {"operators": False}


def _label(sql: str) -> str:
    s = " ".join(sql.split())
    if "GROUPING SETS" in s and "median(r)" in s:
        return "cell medians (GROUPING SETS over the flow rows)"
    if "GROUPING SETS" in s:
        return "cell sums (fine cells, then GROUPING SETS)"
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


class _Relation:
    """A DuckDB relation whose materialisation is timed."""

    def __init__(self, rel: Any, sql: str, con: Any) -> None:
        self._rel, self._sql, self._con = rel, sql, con

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._rel, name)
        if name not in ("pl", "arrow", "fetchall", "df", "fetchone", "fetchnumpy"):
            return attr

        def timed(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            if OPTIONS["operators"] and "GROUPING SETS" in self._sql:
                out, ops = _profiled(self._con, lambda: attr(*a, **k))
            else:
                out, ops = attr(*a, **k), []
            STATEMENTS.append((_label(self._sql), time.perf_counter() - t, ops))
            return out

        return timed


class _Connection:
    """Wraps a DuckDB connection: times ``execute`` (incl. fetch) and ``sql`` relations."""

    def __init__(self, con: Any) -> None:
        self._con = con

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def sql(self, query: str, *a: Any, **k: Any) -> Any:
        return _Relation(self._con.sql(query, *a, **k), query, self._con)

    def execute(self, query: str, *a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        res = self._con.execute(query, *a, **k)
        STATEMENTS.append((_label(query), time.perf_counter() - t, []))
        return res

    def close(self) -> None:
        self._con.close()


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
    in_sql = sum(s for _, s, _ in STATEMENTS)
    print(f"\ncompute(by={by}) on {frame.height:,} rows: {total:.2f} s wall"
          + (" (includes the operator profiles below)" if OPTIONS["operators"] else ""))
    for label, s, ops in STATEMENTS:
        print(f"  {s:7.2f} s  {label}")
        for name, os_, n in ops:
            print(f"             {os_:7.2f} s  {n:>12,} rows  {name}")
    if not OPTIONS["operators"]:
        print(f"  {total - in_sql:7.2f} s  outside DuckDB (Polars/Python)")
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(r"pendling|polars/dataframe|duckdb", 25)
    print("\ncProfile, cumulative, pendling / polars / duckdb frames:")
    print("\n".join(ln for ln in buf.getvalue().splitlines() if ln.strip())[:6000])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--panel", type=Path, default=Path(__file__).parent / "cache" / "run-national" / "panel.parquet")
    ap.add_argument("--by", default="", help="comma-separated: region, kommunegruppe")
    ap.add_argument("--operators", action="store_true", help="DuckDB's slowest operators per cell statement")
    args = ap.parse_args()
    OPTIONS["operators"] = args.operators
    frame = pl.read_parquet(args.panel)
    mob.compute(frame, by=[b for b in args.by.split(",") if b] or None)  # warm-up: imports, caches
    STATEMENTS.clear()
    profile(frame, [b for b in args.by.split(",") if b] or None)


if __name__ == "__main__":
    main()

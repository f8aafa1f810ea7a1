"""Independent re-implementations of the mobility statistic, used as benchmark baselines and cross-checks.

Both take the canonical person-year table with a ``job_group`` column (DISCO at that year, already mapped)
and a ``region_code`` column (region of ``home_muni``), plus the long OD matrix, and return one row per
(year, flow, job_group, region) with ``n``, ``mean_rel_change`` and ``ratio_of_means`` — the cells pendling
reports before disclosure control, restricted to job groups other than 'all' and regions
hovedstaden / rest / all.

* :func:`duckdb_bare` — a hand-written DuckDB query doing only the self-join, matrix lookup and group-by:
  the lower bound for any DuckDB-based engine.
* :func:`pandas_idiomatic` — what a researcher would write in pandas today (merge, boolean masks, groupby).

Definitions (issue 4): a transition t-1 → t of a person present in both years;
residence changed = home_addr differs when known in both years, else home_muni differs;
movers = residence changed, same work_id (≠ 0) and same work_muni;
job_changers = work_id changed (neither 0), residence unchanged;
T = minutes[home_muni, work_muni]; r = T_t / T_{t-1} − 1; job group and region from t-1.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import polars as pl

KEYS = ["year", "flow", "job_group", "region"]

_DUCKDB_SQL = """
WITH pairs AS (
    SELECT c.year, p.job_group,
           CASE WHEN p.region_code = 1084 THEN 'hovedstaden' ELSE 'rest' END AS region,
           (CASE WHEN p.home_addr IS NOT NULL AND c.home_addr IS NOT NULL
                 THEN p.home_addr <> c.home_addr
                 ELSE p.home_muni <> c.home_muni END) AS moved,
           p.work_id AS w0, c.work_id AS w1, p.work_muni AS wm0, c.work_muni AS wm1,
           m0.minutes AS t0, m1.minutes AS t1
    FROM panel p
    JOIN panel c ON c.pnr = p.pnr AND c.year = p.year + 1
    JOIN od m0 ON m0.origin = p.home_muni AND m0.destination = p.work_muni
    JOIN od m1 ON m1.origin = c.home_muni AND m1.destination = c.work_muni
    WHERE c.year BETWEEN ? AND ?
),
flows AS (
    SELECT year, job_group, region, t0, t1,
           CASE WHEN moved AND w0 = w1 AND w0 <> 0 AND wm0 = wm1 THEN 'movers'
                WHEN NOT moved AND w0 <> w1 AND w0 <> 0 AND w1 <> 0 THEN 'job_changers' END AS flow
    FROM pairs
)
SELECT year, flow, job_group,
       CASE WHEN GROUPING(region) = 1 THEN 'all' ELSE region END AS region,
       COUNT(*) AS n,
       AVG(t1 / t0 - 1) AS mean_rel_change,
       SUM(t1) / SUM(t0) - 1 AS ratio_of_means
FROM flows
WHERE flow IS NOT NULL
GROUP BY GROUPING SETS ((year, flow, job_group, region), (year, flow, job_group))
"""


def duckdb_bare(panel: pl.DataFrame, od: pl.DataFrame, years: tuple[int, int], threads: int | None = None) -> pl.DataFrame:
    """The lower bound: one DuckDB query over the in-memory canonical table (Arrow, zero copy)."""
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.register("panel", panel.to_arrow())
    con.register("od", od.select("origin", "destination", "minutes").to_arrow())
    out = con.sql(_DUCKDB_SQL, params=[int(years[0]), int(years[1])]).pl()
    con.close()
    return _canonical(out)


def pandas_idiomatic(panel: pd.DataFrame, od: pd.DataFrame, years: tuple[int, int]) -> pl.DataFrame:
    """The same statistic the way it is commonly written in pandas (merge + masks + groupby)."""
    cols = ["pnr", "year", "home_muni", "home_addr", "work_id", "work_muni", "job_group", "region_code"]
    prev = panel[cols].copy()
    prev["year"] = prev["year"] + 1
    cur = panel[["pnr", "year", "home_muni", "home_addr", "work_id", "work_muni"]]
    df = cur.merge(prev, on=["pnr", "year"], suffixes=("_1", "_0"))
    df = df[(df["year"] >= years[0]) & (df["year"] <= years[1])]
    lut = od.set_index(["origin", "destination"])["minutes"]
    df["t0"] = lut.reindex(pd.MultiIndex.from_arrays([df["home_muni_0"], df["work_muni_0"]])).to_numpy()
    df["t1"] = lut.reindex(pd.MultiIndex.from_arrays([df["home_muni_1"], df["work_muni_1"]])).to_numpy()
    addr_known = df["home_addr_0"].notna() & df["home_addr_1"].notna()
    moved = np.where(addr_known, df["home_addr_0"] != df["home_addr_1"], df["home_muni_0"] != df["home_muni_1"])
    same_job = (df["work_id_0"] == df["work_id_1"]) & (df["work_id_0"] != 0) & (df["work_muni_0"] == df["work_muni_1"])
    changed_job = (df["work_id_0"] != df["work_id_1"]) & (df["work_id_0"] != 0) & (df["work_id_1"] != 0)
    df["flow"] = np.select([moved & same_job, ~moved & changed_job], ["movers", "job_changers"], default="")
    df = df[df["flow"] != ""]
    df["r"] = df["t1"] / df["t0"] - 1
    df["region"] = np.where(df["region_code"] == 1084, "hovedstaden", "rest")
    parts = []
    for keys, region in ((["year", "flow", "job_group", "region"], None), (["year", "flow", "job_group"], "all")):
        g = df.groupby(keys, observed=True).agg(n=("r", "size"), mean_rel_change=("r", "mean"), s0=("t0", "sum"), s1=("t1", "sum"))
        g = g.reset_index()
        if region:
            g["region"] = region
        g["ratio_of_means"] = g["s1"] / g["s0"] - 1
        parts.append(g[KEYS + ["n", "mean_rel_change", "ratio_of_means"]])
    return _canonical(pl.from_pandas(pd.concat(parts, ignore_index=True)))


def _canonical(df: pl.DataFrame) -> pl.DataFrame:
    return df.select(
        pl.col("year").cast(pl.Int16),
        pl.col("flow").cast(pl.String),
        pl.col("job_group").cast(pl.String),
        pl.col("region").cast(pl.String),
        pl.col("n").cast(pl.Int64),
        pl.col("mean_rel_change").cast(pl.Float64),
        pl.col("ratio_of_means").cast(pl.Float64),
    ).sort(KEYS)


def max_abs_difference(engine: pl.DataFrame, baseline: pl.DataFrame) -> dict[str, float]:
    """Largest absolute difference per statistic over the cells both frames hold (engine rows with
    job_group 'all' or other regions are ignored); also checks the two cover the same cells."""
    # n > 0: the engine lists every cell of its grid, empty ones with n = 0; a group-by has no empty groups
    eng = engine.filter(
        pl.col("job_group") != "all", pl.col("region").is_in(["hovedstaden", "rest", "all"]), pl.col("n") > 0
    )
    eng = _canonical(eng.with_columns(pl.col("year").cast(pl.Int16)))
    joined = eng.join(baseline, on=KEYS, how="full", suffix="_b", coalesce=True)
    missing = joined.filter(pl.col("n").is_null() | pl.col("n_b").is_null())
    diffs = {
        "cells": float(joined.height),
        "cells_only_in_one": float(missing.height),
        "n": float((joined["n"] - joined["n_b"]).abs().max() or 0),
    }
    for col in ("mean_rel_change", "ratio_of_means"):
        both = joined.filter(pl.col(col).is_not_null() & pl.col(f"{col}_b").is_not_null())
        diffs[col] = float((both[col] - both[f"{col}_b"]).abs().max() or 0.0)
    return diffs

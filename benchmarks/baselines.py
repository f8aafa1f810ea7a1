"""Independent re-implementations of the mobility statistic, used as benchmark baselines and cross-checks.

Each takes the canonical person-year table with a ``job_group`` column (DISCO at that year, already
mapped) and a ``region_code`` column (region of ``home_muni``), plus the long OD matrix (minutes), and
returns one row per (year, flow, job_group, region) with ``n``, ``mean_rel_change`` and
``ratio_of_means`` (fractions) — the cells pendling reports before disclosure control, restricted to
job groups other than 'all' and regions hovedstaden / rest / all.

* :func:`duckdb_bare` — a hand-written DuckDB query doing only the self-join, matrix lookup and group-by:
  the lower bound for any DuckDB-based engine.
* :func:`pandas_idiomatic` — (b1) pandas, fully vectorised: one merge of the table with itself on
  (pnr, year − 1), boolean masks, group-by. Faster than what most researchers write.
* :func:`pandas_groupby_shift` — (b2) the common pandas "panel" idiom: sort by (pnr, year),
  ``groupby('pnr').shift(1)`` for the previous year, masks, a merge with the matrix, group-by.
* :func:`pandas_per_person` — (b3) what a researcher coming from SAS/Stata loops writes: a Python
  function per person (over ``groupby('pnr')``) walks that person's years and emits transitions;
  then a group-by. Run on a subset of persons and extrapolated (see ``stages.py``).

Definitions (issue 4, plus the engine's contradiction rule): a transition t-1 → t of a person present
in both years; residence changed = home_addr differs when known in both years, else home_muni differs;
a transition whose home_addr is known and the same in both years but whose home_muni differs is
contradictory and belongs to neither flow;
movers = residence changed, same work_id (≠ 0) and same work_muni;
job_changers = work_id changed (neither 0), residence unchanged;
T = minutes[home_muni, work_muni]; r = T_t / T_{t-1} − 1; job group and region from t-1.
Transitions whose municipality pair is not in the matrix drop out (an inner join), as in pendling.
"""

from __future__ import annotations

from typing import Any

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
           coalesce(p.home_addr = c.home_addr AND p.home_muni <> c.home_muni, false) AS contradictory,
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
           CASE WHEN contradictory THEN NULL
                WHEN moved AND w0 = w1 AND w0 <> 0 AND wm0 = wm1 THEN 'movers'
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
    """(b1) The statistic in vectorised pandas: merge the table with itself on (pnr, year − 1), masks,
    group-by. ``od``: origin, destination, minutes; ``years``: first and last flow year t."""
    cols = ["pnr", "year", "home_muni", "home_addr", "work_id", "work_muni", "job_group", "region_code"]
    prev = panel[cols].copy()
    prev["year"] = prev["year"] + 1
    cur = panel[["pnr", "year", "home_muni", "home_addr", "work_id", "work_muni"]]
    df = cur.merge(prev, on=["pnr", "year"], suffixes=("_1", "_0"))
    df = df[(df["year"] >= years[0]) & (df["year"] <= years[1])]
    lut = od.set_index(["origin", "destination"])["minutes"]
    df["t0"] = lut.reindex(pd.MultiIndex.from_arrays([df["home_muni_0"], df["work_muni_0"]])).to_numpy()
    df["t1"] = lut.reindex(pd.MultiIndex.from_arrays([df["home_muni_1"], df["work_muni_1"]])).to_numpy()
    df = df[df["t0"].notna() & df["t1"].notna()]  # municipality pairs outside the matrix drop out
    addr_known = df["home_addr_0"].notna() & df["home_addr_1"].notna()
    moved = np.where(addr_known, df["home_addr_0"] != df["home_addr_1"], df["home_muni_0"] != df["home_muni_1"])
    contradictory = addr_known & (df["home_addr_0"] == df["home_addr_1"]) & (df["home_muni_0"] != df["home_muni_1"])
    same_job = (df["work_id_0"] == df["work_id_1"]) & (df["work_id_0"] != 0) & (df["work_muni_0"] == df["work_muni_1"])
    changed_job = (df["work_id_0"] != df["work_id_1"]) & (df["work_id_0"] != 0) & (df["work_id_1"] != 0)
    df["flow"] = np.select([moved & same_job, ~moved & ~contradictory & changed_job], ["movers", "job_changers"],
                           default="")
    df = df[df["flow"] != ""]
    df["region"] = np.where(df["region_code"] == 1084, "hovedstaden", "rest")
    return _pandas_cells(df)


def pandas_groupby_shift(panel: pd.DataFrame, od: pd.DataFrame, years: tuple[int, int]) -> pl.DataFrame:
    """(b2) The common pandas panel idiom: sort by (pnr, year), ``groupby('pnr').shift(1)`` for last
    year's values, masks, a merge with the matrix for the minutes, group-by. Arguments as
    :func:`pandas_idiomatic`."""
    df = panel.sort_values(["pnr", "year"])
    lagged = ["year", "home_muni", "home_addr", "work_id", "work_muni", "job_group", "region_code"]
    prev = df.groupby("pnr")[lagged].shift(1)
    df = df.join(prev.add_suffix("_0"))
    df = df[(df["year"] == df["year_0"] + 1) & (df["year"] >= years[0]) & (df["year"] <= years[1])]

    addr_known = df["home_addr"].notna() & df["home_addr_0"].notna()
    same_addr = addr_known & (df["home_addr"] == df["home_addr_0"])
    moved = (addr_known & ~same_addr) | (~addr_known & (df["home_muni"] != df["home_muni_0"]))
    contradictory = same_addr & (df["home_muni"] != df["home_muni_0"])
    kept_job = (df["work_id"] == df["work_id_0"]) & (df["work_id"] != 0) & (df["work_muni"] == df["work_muni_0"])
    new_job = (df["work_id"] != df["work_id_0"]) & (df["work_id"] != 0) & (df["work_id_0"] != 0)
    df.loc[moved & kept_job, "flow"] = "movers"
    df.loc[~moved & ~contradictory & new_job, "flow"] = "job_changers"
    df = df[df["flow"].notna()].copy()

    # shift() made the lagged integers floats (NaN for a first year); the merge keys are whole numbers again
    for col in ("home_muni_0", "work_muni_0"):
        df[col] = df[col].astype("int64")
    df = df.merge(od.rename(columns={"origin": "home_muni_0", "destination": "work_muni_0", "minutes": "t0"}),
                  on=["home_muni_0", "work_muni_0"])
    df = df.merge(od.rename(columns={"origin": "home_muni", "destination": "work_muni", "minutes": "t1"}),
                  on=["home_muni", "work_muni"])
    df["job_group"] = df["job_group_0"]
    df["region"] = np.where(df["region_code_0"] == 1084, "hovedstaden", "rest")
    return _pandas_cells(df)


def pandas_per_person(panel: pd.DataFrame, od: pd.DataFrame, years: tuple[int, int]) -> pl.DataFrame:
    """(b3) A loop over persons, as a SAS/Stata user writes it: ``groupby('pnr')``, then a Python
    function walks each person's years in order and emits that person's transitions; a group-by
    makes the cells. Arguments as :func:`pandas_idiomatic`. Seconds grow linearly with persons
    (see ``stages.pandas_per_person`` for the subset it is timed on)."""
    minutes = {(o, d): m for o, d, m in od[["origin", "destination", "minutes"]].itertuples(index=False)}
    panel = panel.sort_values(["pnr", "year"])
    rows: list[tuple] = []
    for _pnr, person in panel.groupby("pnr", sort=False):
        rows.extend(person_transitions(person, minutes, years))
    df = pd.DataFrame(rows, columns=["year", "flow", "job_group", "region", "t0", "t1"])
    return _pandas_cells(df)


def person_transitions(person: pd.DataFrame, minutes: dict[tuple[int, int], float],
                       years: tuple[int, int]) -> list[tuple]:
    """One person's movers/job-changers transitions as (year, flow, job_group, region, t0, t1), t0 and
    t1 in minutes. ``person``: that person's rows sorted by year; ``minutes``: (origin, destination)
    → minutes."""
    out = []
    prev = None
    for cur in person.itertuples(index=False):
        if prev is not None and cur.year == prev.year + 1 and years[0] <= cur.year <= years[1]:
            flow = _flow_of(prev, cur)
            t0 = minutes.get((prev.home_muni, prev.work_muni))
            t1 = minutes.get((cur.home_muni, cur.work_muni))
            if flow is not None and t0 is not None and t1 is not None:
                region = "hovedstaden" if prev.region_code == 1084 else "rest"
                out.append((cur.year, flow, prev.job_group, region, t0, t1))
        prev = cur
    return out


def _flow_of(prev: Any, cur: Any) -> str | None:
    addr_known = not (pd.isna(prev.home_addr) or pd.isna(cur.home_addr))
    if addr_known and prev.home_addr == cur.home_addr and prev.home_muni != cur.home_muni:
        return None  # contradictory residence
    moved = prev.home_addr != cur.home_addr if addr_known else prev.home_muni != cur.home_muni
    if moved and prev.work_id == cur.work_id and prev.work_id != 0 and prev.work_muni == cur.work_muni:
        return "movers"
    if not moved and prev.work_id != cur.work_id and prev.work_id != 0 and cur.work_id != 0:
        return "job_changers"
    return None


def _pandas_cells(df: pd.DataFrame) -> pl.DataFrame:
    """Cells from flow rows (year, flow, job_group, region ∈ hovedstaden/rest, t0, t1 in minutes):
    by region and over both regions ('all')."""
    df = df.assign(r=df["t1"] / df["t0"] - 1)
    parts = []
    for keys, region in ((["year", "flow", "job_group", "region"], None), (["year", "flow", "job_group"], "all")):
        g = df.groupby(keys, observed=True).agg(n=("r", "size"), mean_rel_change=("r", "mean"), s0=("t0", "sum"),
                                                s1=("t1", "sum"))
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

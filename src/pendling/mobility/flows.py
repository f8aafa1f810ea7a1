"""Movers and job-changers between November t-1 and November t: all the DuckDB SQL lives here.

One relation, ``transitions``, holds every person-year ``t`` of the requested years beside the same
person's valid row at ``t-1`` (a left self-join on ``pnr`` and ``year - 1``). Each row falls into
exactly one ``bucket``, checked in this order:

==============================  ===============================================================
``no_previous_year``            no valid row for the person in t-1 (new in the panel, re-entry)
``fictive_workplace``           LBNR (``work_id``) = 0 in t-1 or t: unknown/fictive workplace
``workplace_relocated``         same LBNR, different workplace municipality
``mover``                       residence changed, same LBNR (and so the same workplace municipality)
``both_changed``                residence and LBNR both changed: in neither flow
``job_changer``                 LBNR changed, residence unchanged
``moved_within_municipality``   address changed inside the municipality, same LBNR (only with
                                ``mover_definition='municipality'``; with 'address' these are movers)
``stayer``                      nothing changed
``<flow>_unknown_municipality`` a mover/job-changer whose home or workplace municipality (t-1 or t)
                                is not in the travel-time matrix, or whose home has no region
``<flow>_invalid_travel_time``  a mover/job-changer whose matrix time is missing, <= 0 or not finite
==============================  ===============================================================

Residence change ("moved"):

* ``mover_definition='address'`` (default): ``home_addr`` (ADRESSE_ID) differs where both years have
  one, or ``home_muni`` (KOM) differs. A change of municipality always counts as a move, so every
  municipality mover is also an address mover and the two definitions nest. Moves inside one
  municipality have the same commute time before and after at municipality resolution (r = 0).
* ``mover_definition='municipality'``: only a change of ``home_muni`` counts.

Commute time T is ``matrix[home_muni, work_muni]`` in minutes (diagonal = within-municipality time);
job group and region are taken at t-1 (DISCO and home municipality of the earlier year).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import duckdb
import polars as pl

from pendling.panel.columns import CANONICAL_SCHEMA

from pendling.mobility.limits import Limits, connect
from pendling.mobility.stats import KOMMUNEGRUPPE_NAMES, REGION_HOVEDSTADEN, REGION_NAMES

MoverDefinition = Literal["address", "municipality"]
MOVER_DEFINITIONS: tuple[str, ...] = ("address", "municipality")

FLOWS: tuple[str, ...] = ("movers", "job_changers")
"""Flow labels in output order; bucket ``mover`` feeds flow ``movers``, ``job_changer`` ``job_changers``."""

BUCKETS: dict[str, str] = {
    "no_previous_year": "no valid row for the person in t-1 (new in the panel or re-entering)",
    "fictive_workplace": "LBNR = 0 (unknown or fictive workplace) in t-1 or t; excluded from both flows",
    "workplace_relocated": "same LBNR but another workplace municipality; excluded from both flows",
    "mover": "moved home, kept the workplace (LBNR): in the 'movers' flow",
    "both_changed": "moved home and changed workplace: in neither flow",
    "job_changer": "changed workplace (LBNR), kept the home: in the 'job_changers' flow",
    "moved_within_municipality": (
        "address changed inside the municipality with the same workplace; not a mover under "
        "mover_definition='municipality'"
    ),
    "stayer": "same home and same workplace",
    "mover_unknown_municipality": (
        "mover whose home/workplace municipality is not in the travel-time matrix or has no region; excluded"
    ),
    "job_changer_unknown_municipality": (
        "job-changer whose home/workplace municipality is not in the travel-time matrix or has no region; excluded"
    ),
    "mover_invalid_travel_time": "mover with a travel time that is missing, <= 0 or not finite; excluded",
    "job_changer_invalid_travel_time": (
        "job-changer with a travel time that is missing, <= 0 or not finite; excluded"
    ),
}
"""Every ``stage='flows'`` attrition bucket, in reporting order, with its description."""

PANEL_COLUMNS = CANONICAL_SCHEMA  # the canonical person-year columns, defined once in pendling.panel

_RESIDENCE_CHANGED = {
    "address": "(moved_municipality OR moved_address)",
    "municipality": "moved_municipality",
}

# The classification: named CTEs, read top to bottom. {job_group_before} and {residence_changed}
# are filled from fixed strings above, never from user input.
_TRANSITIONS_SQL = """
WITH
current_year AS (   -- person-years t whose flow is requested
    SELECT * FROM panel WHERE year IN (SELECT year FROM requested_years)
),
pairs AS (          -- each person-year t beside the same person's valid row at t-1, if any
    SELECT
        c.pnr,
        c.year,
        p.pnr IS NOT NULL AS has_previous,
        p.home_muni   AS home_before,    c.home_muni   AS home_after,
        p.home_addr   AS addr_before,    c.home_addr   AS addr_after,
        p.work_id     AS work_id_before, c.work_id     AS work_id_after,
        p.work_muni   AS work_before,    c.work_muni   AS work_after,
        p.disco       AS disco_before,
        {job_group_before} AS job_group_before
    FROM current_year AS c
    LEFT JOIN panel AS p ON p.pnr = c.pnr AND p.year = c.year - 1
),
changes AS (
    SELECT
        *,
        home_before <> home_after AS moved_municipality,
        -- an unknown address in either year says nothing about a move: fall back to KOM
        coalesce(addr_before <> addr_after, false) AS moved_address,
        work_id_before <> work_id_after AS changed_workplace
    FROM pairs
),
classified AS (     -- exactly one transition per row; the order of the WHEN clauses is the rule
    SELECT
        *,
        CASE
            WHEN NOT has_previous THEN 'no_previous_year'
            WHEN work_id_before = 0 OR work_id_after = 0 THEN 'fictive_workplace'
            WHEN NOT changed_workplace AND work_before <> work_after THEN 'workplace_relocated'
            WHEN {residence_changed} AND NOT changed_workplace THEN 'mover'
            WHEN {residence_changed} THEN 'both_changed'
            WHEN changed_workplace THEN 'job_changer'
            WHEN moved_address THEN 'moved_within_municipality'
            ELSE 'stayer'
        END AS transition
    FROM changes
),
timed AS (          -- commute time before (t-1) and after (t), region of the home at t-1
    SELECT
        k.*,
        tb.origin IS NOT NULL AND ta.origin IS NOT NULL AND m.region_code IS NOT NULL AS known_municipality,
        tb.minutes AS minutes_before,
        ta.minutes AS minutes_after,
        m.region_code,
        m.kommunegruppe_code
    FROM classified AS k
    LEFT JOIN matrix AS tb ON tb.origin = k.home_before AND tb.destination = k.work_before
    LEFT JOIN matrix AS ta ON ta.origin = k.home_after AND ta.destination = k.work_after
    LEFT JOIN municipalities AS m ON m.code = k.home_before
),
bucketed AS (       -- movers/job-changers without a usable travel time get their own counted bucket
    SELECT
        *,
        CASE
            WHEN transition NOT IN ('mover', 'job_changer') THEN transition
            WHEN NOT known_municipality THEN transition || '_unknown_municipality'
            WHEN minutes_before IS NULL OR minutes_after IS NULL
                 OR NOT isfinite(minutes_before) OR NOT isfinite(minutes_after)
                 OR minutes_before <= 0 OR minutes_after <= 0
                THEN transition || '_invalid_travel_time'
            ELSE transition
        END AS bucket
    FROM timed
)
SELECT
    {select_list},
    CASE bucket WHEN 'mover' THEN 'movers' WHEN 'job_changer' THEN 'job_changers' END AS flow
FROM bucketed
"""

TRANSITION_COLUMNS = (
    "pnr, year, bucket, has_previous, home_before, home_after, addr_before, addr_after, "
    "work_id_before, work_id_after, work_before, work_after, disco_before, job_group_before, "
    "region_code, kommunegruppe_code, minutes_before, minutes_after, "
    "CASE WHEN bucket IN ('mover', 'job_changer') THEN minutes_after / minutes_before - 1 END AS rel_change"
)
"""Columns of the public :func:`transitions` relation (``rel_change`` only for the two flows)."""

# Only flows need the t-1 DISCO, home region and minutes; NULL elsewhere keeps the table small.
_COMPUTE_COLUMNS = (
    "year, CAST(bucket AS bucket_t) AS bucket, "
    "CASE WHEN bucket IN ('mover', 'job_changer') THEN disco_before END AS disco_before, "
    "CASE WHEN bucket IN ('mover', 'job_changer') THEN job_group_before END AS job_group_before, "
    "CASE WHEN bucket IN ('mover', 'job_changer') THEN region_code END AS region_code, "
    "CASE WHEN bucket IN ('mover', 'job_changer') THEN kommunegruppe_code END AS kommunegruppe_code, "
    "CASE WHEN bucket IN ('mover', 'job_changer') THEN minutes_before END AS minutes_before, "
    "CASE WHEN bucket IN ('mover', 'job_changer') THEN minutes_after END AS minutes_after"
)

R_SCALE = 2**36
"""Fixed-point scale of r and ln(T_t/T_{t-1}) in the exact sums (resolution 1.5e-11)."""
M_SCALE = 2**32
"""Fixed-point scale of minutes in the exact sums (resolution 2.3e-10 minutes)."""

# Cell sums over the flow rows, one GROUPING SET per cell family. Values enter the sums as integers
# (HUGEINT, fixed point), so every sum is exact and the same whatever the row order or thread count:
# reruns give identical bits. Means, variances and covariances are formed from these exact sums in
# pendling.mobility.stats.
_CELLS_SQL = """
WITH
flow_rows AS (
    SELECT
        t.year,
        t.flow,
        coalesce(t.job_group_before, g.job_group, 'unclassified') AS job_group,
        CASE WHEN t.region_code = {hovedstaden} THEN 'hovedstaden' ELSE 'rest' END AS hovedstaden_rest,
        rn.region AS region5,              -- NULL for Hovedstaden: that cell comes from hovedstaden_rest
        kn.kommunegruppe,
        t.minutes_before AS b,
        t.minutes_after AS a,
        t.minutes_after / t.minutes_before - 1 AS r
    FROM transitions AS t
    LEFT JOIN job_groups AS g ON g.disco = t.disco_before
    LEFT JOIN region_names AS rn ON rn.region_code = t.region_code
    LEFT JOIN kommunegruppe_names AS kn ON kn.kommunegruppe_code = t.kommunegruppe_code
    WHERE t.flow IS NOT NULL
),
fixed_point AS (   -- every value < 2^53 after scaling, so round() is exact before the cast
    SELECT
        *,
        CAST(round(r * {r_scale}) AS HUGEINT) AS qr,
        CAST(round(ln(a / b) * {r_scale}) AS HUGEINT) AS ql,
        CAST(round(b * {m_scale}) AS HUGEINT) AS qb,
        CAST(round(a * {m_scale}) AS HUGEINT) AS qa
    FROM flow_rows
),
sums AS (
    SELECT
        year, flow, job_group, hovedstaden_rest, {region5} AS region5, {kommunegruppe} AS kommunegruppe,
        grouping(job_group) AS all_job_groups,
        {no_region5} AS no_region5,
        count(*) AS n,
        sum(qr) AS s_r, sum(qr * qr) AS ss_r, sum(ql) AS s_l,
        sum(qb) AS s_b, sum(qa) AS s_a, sum(qb * qb) AS ss_b, sum(qa * qa) AS ss_a, sum(qa * qb) AS s_ab,
        count(*) FILTER (WHERE r > 0) AS n_longer,
        count(*) FILTER (WHERE r < 0) AS n_shorter,
        median(r) AS median_rel_change
    FROM fixed_point
    GROUP BY GROUPING SETS ({grouping_sets})
)
SELECT
    year,
    flow,
    CASE WHEN all_job_groups = 1 THEN 'all' ELSE job_group END AS job_group,
    coalesce(hovedstaden_rest, region5, kommunegruppe, 'all') AS region,
    n, s_r, ss_r, s_l, s_b, s_a, ss_b, ss_a, s_ab, n_longer, n_shorter, median_rel_change
FROM sums
WHERE NOT (no_region5 = 0 AND region5 IS NULL)
"""

_GROUPING_SETS = {
    None: ["(year, flow, job_group, hovedstaden_rest)", "(year, flow, hovedstaden_rest)",
           "(year, flow, job_group)", "(year, flow)"],
    "region": ["(year, flow, job_group, region5)", "(year, flow, region5)"],
    "kommunegruppe": ["(year, flow, job_group, kommunegruppe)", "(year, flow, kommunegruppe)"],
}
SUM_COLUMNS = ("year", "flow", "job_group", "region", "n", "s_r", "ss_r", "s_l", "s_b", "s_a", "ss_b", "ss_a",
               "s_ab", "n_longer", "n_shorter", "median_rel_change")
"""Columns of :func:`cells_and_attrition`'s sums (exact integers, fixed point; see R_SCALE, M_SCALE)."""


def cells_sql(by: Sequence[str] = ()) -> str:
    """The cell-sum query over ``transitions``, ``job_groups``, ``region_names``, ``kommunegruppe_names``."""
    sets = [*_GROUPING_SETS[None], *(s for b in by for s in _GROUPING_SETS[b])]
    # a label column outside every grouping set may not be selected: stand in a NULL for it
    return _CELLS_SQL.format(
        hovedstaden=REGION_HOVEDSTADEN, r_scale=R_SCALE, m_scale=M_SCALE, grouping_sets=", ".join(sets),
        region5="region5" if "region" in by else "CAST(NULL AS VARCHAR)",
        no_region5="grouping(region5)" if "region" in by else "1",
        kommunegruppe="kommunegruppe" if "kommunegruppe" in by else "CAST(NULL AS VARCHAR)",
    )


def transitions_sql(mover_definition: MoverDefinition = "address", *, has_job_group: bool = False,
                    select_list: str = TRANSITION_COLUMNS) -> str:
    """The full classification query over tables ``panel``, ``requested_years``, ``matrix``, ``municipalities``."""
    return _TRANSITIONS_SQL.format(
        residence_changed=_RESIDENCE_CHANGED[mover_definition],
        job_group_before="p.job_group" if has_job_group else "CAST(NULL AS VARCHAR)",
        select_list=select_list,
    )


def _register(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, matrix: pl.DataFrame,
              municipalities: pl.DataFrame, years: Sequence[int]) -> None:
    # Insertion order is irrelevant to the aggregates and costs memory at national scale.
    con.execute("SET preserve_insertion_order = false")
    cols = [c for c in (*PANEL_COLUMNS, "job_group") if c in frame.columns]
    con.register("panel", frame.select(cols))
    con.register("matrix", matrix.select("origin", "destination", "minutes"))
    con.register("municipalities", municipalities.select("code", "region_code", "kommunegruppe_code"))
    con.register("requested_years", pl.DataFrame({"year": sorted(set(years))}, schema={"year": pl.Int16}))


def transitions_frame(frame: pl.DataFrame, matrix: pl.DataFrame, municipalities: pl.DataFrame,
                      years: Sequence[int], mover_definition: MoverDefinition = "address",
                      limits: Limits | None = None) -> pl.DataFrame:
    """Every person-year of ``years`` with its bucket, both years' values and commute minutes.

    Inputs are already validated canonical frames (see :func:`pendling.mobility.api.validate_frame`).
    Sorted by (year, pnr). ``rel_change`` is T_t / T_{t-1} - 1 (a fraction) for movers and job-changers only.
    ``limits``: DuckDB memory limit, threads and spill directory (:mod:`pendling.mobility.limits`).
    """
    with connect(limits) as con:
        _register(con, frame, matrix, municipalities, years)
        sql = transitions_sql(mover_definition, has_job_group="job_group" in frame.columns)
        return con.sql(f"SELECT * FROM ({sql}) ORDER BY year, pnr").pl()


def cells_and_attrition(
    frame: pl.DataFrame,
    matrix: pl.DataFrame,
    municipalities: pl.DataFrame,
    years: Sequence[int],
    mover_definition: MoverDefinition = "address",
    by: Sequence[str] = (),
    assign_job_groups: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    limits: Limits | None = None,
) -> tuple[list[tuple], pl.DataFrame]:
    """Exact cell sums of the flows and the bucket counts per year.

    Returns ``(sums, counts)``: ``sums`` is a list of tuples in :data:`SUM_COLUMNS` order, one per
    non-empty cell (sums are Python ints, exact); ``counts`` has ``year``, ``bucket``, ``n``.
    ``assign_job_groups`` maps a frame of distinct t-1 DISCO codes (column ``disco``) to one with
    ``disco`` and ``job_group``; it is not called when the panel carries its own ``job_group``.
    The transitions are materialised once and read twice, so the self-join runs once.
    ``limits``: DuckDB memory limit, threads and spill directory (:mod:`pendling.mobility.limits`).
    """
    with connect(limits) as con:
        _register(con, frame, matrix, municipalities, years)
        bucket_values = ", ".join(f"'{b}'" for b in BUCKETS)
        con.execute(f"CREATE TYPE bucket_t AS ENUM ({bucket_values})")
        sql = transitions_sql(mover_definition, has_job_group="job_group" in frame.columns,
                              select_list=_COMPUTE_COLUMNS)
        con.execute(f"CREATE TEMP TABLE transitions AS {sql}")
        counts = con.sql(
            "SELECT year, CAST(bucket AS VARCHAR) AS bucket, count(*)::BIGINT AS n "
            "FROM transitions GROUP BY ALL ORDER BY year, bucket"
        ).pl()
        codes = con.sql(
            "SELECT DISTINCT disco_before AS disco FROM transitions WHERE flow IS NOT NULL ORDER BY disco"
        ).pl()
        if assign_job_groups is None or "job_group" in frame.columns:
            groups = pl.DataFrame(schema={"disco": pl.Utf8, "job_group": pl.Utf8})
        else:
            groups = assign_job_groups(codes).select("disco", "job_group")
        con.register("job_groups", groups)
        con.register("region_names", pl.DataFrame(
            {"region_code": [c for c in REGION_NAMES if c != REGION_HOVEDSTADEN],
             "region": [n for c, n in REGION_NAMES.items() if c != REGION_HOVEDSTADEN]},
            schema={"region_code": pl.Int16, "region": pl.Utf8}))
        con.register("kommunegruppe_names", pl.DataFrame(
            {"kommunegruppe_code": list(KOMMUNEGRUPPE_NAMES), "kommunegruppe": list(KOMMUNEGRUPPE_NAMES.values())},
            schema={"kommunegruppe_code": pl.Int8, "kommunegruppe": pl.Utf8}))
        sums = con.execute(cells_sql(by)).fetchall()
    return sums, counts

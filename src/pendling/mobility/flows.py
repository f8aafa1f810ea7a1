"""Movers and job-changers between November t-1 and November t: classification and cell sums.

Two engines, each doing what it is best at:

* **Polars pairs, classifies and looks up.** A validated panel is sorted by (pnr, year), so a
  person's row for t-1 is the row just above the row for t: the pairing is a ``shift(1)`` and a
  comparison, O(n) with no hash table (a self-join on ``pnr``, ``year - 1`` costs several times more
  at national scale; see ``benchmarks/``). Every person-year t of the requested years gets exactly
  one ``transition``, checked in this order (:func:`transition_expr`):

  ==============================  ===========================================================
  ``no_previous_year``            no valid row for the person in t-1 (new in the panel, re-entry)
  ``fictive_workplace``           LBNR (``work_id``) = 0 in t-1 or t: unknown/fictive workplace
  ``workplace_relocated``         same LBNR, different workplace municipality
  ``address_conflict``            same ADRESSE_ID in t-1 and t but another home municipality:
                                  the residence data contradict each other
  ``mover``                       residence changed, same LBNR (and so the same workplace municipality)
  ``both_changed``                residence and LBNR both changed: in neither flow
  ``job_changer``                 LBNR changed, residence unchanged
  ``moved_within_municipality``   address changed inside the municipality, same LBNR (only with
                                  ``mover_definition='municipality'``; with 'address' these are movers)
  ``stayer``                      nothing changed
  ==============================  ===========================================================

  Commute minutes come from the matrix by array lookup (:func:`timed`). Movers and job-changers
  without a usable time get a bucket of their own: ``<flow>_unknown_municipality`` (home or
  workplace municipality, t-1 or t, not in the matrix, or home without a region),
  ``<flow>_zero_time_before`` (T_{t-1} = 0, as on the diagonal of a zero-diagonal matrix, ``pendling
  matrix build --internal zero``: r = T_t/T_{t-1} - 1 is undefined, so the person-year is counted and
  never enters a mean) and ``<flow>_invalid_travel_time`` (missing, negative or not finite, or
  T_{t-1} > 0 but not finite T_t). A later time T_t = 0 with T_{t-1} > 0 is a usable r = -1 (the
  commute vanished at municipality resolution); its log ratio is -inf, so the cell's
  ``mean_log_ratio`` is -inf and ``geo_mean_rel_change`` -1 (see :mod:`pendling.mobility.stats`).

* **DuckDB aggregates** the usable movers and job-changers into exact cell sums and medians
  (all SQL is in this module); it is the only step that ``limits`` (memory, threads) govern.
  The job-group total ``all`` sums the classified job groups only: ``unclassified`` (and any other
  of ``NUISANCE_GROUPS``) has its own rows outside the total.

Residence change ("moved"):

* ``mover_definition='address'`` (default): ``home_addr`` (ADRESSE_ID) differs where both years have
  one, else ``home_muni`` (KOM) differs. Moves inside one municipality have the same commute time
  before and after at municipality resolution (r = 0). ADRESSE_ID identifies an address nationally,
  so the same ID under another KOM is an error in the extract; such person-years go to
  ``address_conflict`` under both definitions rather than being read as a move or a stay.
* ``mover_definition='municipality'``: only a change of ``home_muni`` counts. Every municipality
  mover is also an address mover: the two definitions nest.

Commute time T is ``matrix[home_muni, work_muni]`` in minutes (diagonal = within-municipality time);
job group and region are taken at t-1 (DISCO and home municipality of the earlier year).

Grid zones (``zone_times`` given, ``pendling compute --zones grid1km``): T is the zone-pair time of
(``home_zone``, ``work_zone``) instead, and the cells sharpen three rules — a change of home cell is a
change of address (a move, also without ADRESSE_ID), the same LBNR in another workplace cell is
``workplace_relocated``, and the same ADRESSE_ID in another home cell is ``address_conflict``. A mover
or job-changer whose cell pair has no time (a cell not on land, far from any road) is counted as
``<flow>_unroutable_zone``; these buckets are listed only for grid runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import duckdb
import polars as pl

from pendling.mobility.limits import Limits, connect
from pendling.mobility.stats import KOMMUNEGRUPPE_NAMES, NUISANCE_GROUPS, REGION_HOVEDSTADEN, REGION_NAMES
from pendling.panel.columns import CANONICAL_SCHEMA

MoverDefinition = Literal["address", "municipality"]
MOVER_DEFINITIONS: tuple[str, ...] = ("address", "municipality")

FLOWS: tuple[str, ...] = ("movers", "job_changers")
"""Flow labels in output order; bucket ``mover`` feeds flow ``movers``, ``job_changer`` ``job_changers``."""

TRANSITIONS: dict[str, str] = {
    "no_previous_year": "no valid row for the person in t-1 (new in the panel or re-entering)",
    "fictive_workplace": "LBNR = 0 (unknown or fictive workplace) in t-1 or t; excluded from both flows",
    "workplace_relocated": "same LBNR but another workplace municipality; excluded from both flows",
    "address_conflict": (
        "same ADRESSE_ID in t-1 and t but another home municipality (KOM): contradictory residence; "
        "excluded from both flows"
    ),
    "mover": "moved home, kept the workplace (LBNR): in the 'movers' flow",
    "both_changed": "moved home and changed workplace: in neither flow",
    "job_changer": "changed workplace (LBNR), kept the home: in the 'job_changers' flow",
    "moved_within_municipality": (
        "address changed inside the municipality with the same workplace; not a mover under "
        "mover_definition='municipality'"
    ),
    "stayer": "same home and same workplace",
}
"""The classification of a person-year by what changed between t-1 and t, in rule order."""

BUCKETS: dict[str, str] = {
    **TRANSITIONS,
    "mover_unknown_municipality": (
        "mover whose home/workplace municipality is not in the travel-time matrix or has no region; excluded"
    ),
    "job_changer_unknown_municipality": (
        "job-changer whose home/workplace municipality is not in the travel-time matrix or has no region; excluded"
    ),
    "mover_zero_time_before": (
        "mover whose travel time at t-1 is 0 (zero-diagonal matrix: lived and worked in one municipality): "
        "no relative change is defined; excluded"
    ),
    "job_changer_zero_time_before": (
        "job-changer whose travel time at t-1 is 0 (zero-diagonal matrix): no relative change is defined; excluded"
    ),
    "mover_invalid_travel_time": "mover with a travel time that is missing, negative, not finite, or 0 where it "
                                 "is not the earlier time; excluded",
    "job_changer_invalid_travel_time": (
        "job-changer with a travel time that is missing, negative, not finite, or 0 where it is not the earlier "
        "time; excluded"
    ),
}
"""Every ``stage='flows'`` attrition bucket, in reporting order, with its description."""

ZONE_BUCKETS: dict[str, str] = {
    "mover_unroutable_zone": "mover whose home/workplace cell pair has no travel time (cell not on land or far "
                             "from a road, see pendling.zones); excluded",
    "job_changer_unroutable_zone": "job-changer whose home/workplace cell pair has no travel time; excluded",
}
"""Extra flow buckets of grid-zone runs (after :data:`BUCKETS`)."""

PANEL_COLUMNS = CANONICAL_SCHEMA  # the canonical person-year columns, defined once in pendling.panel

_TRANSITION = pl.Enum(list(TRANSITIONS))
_FLOW_TRANSITIONS = ("mover", "job_changer")


def transition_expr(mover_definition: MoverDefinition = "address", zones: bool = False,
                    paired: bool = False) -> pl.Expr:
    """The transition t-1 → t of every row of a frame sorted by (pnr, year), as a Polars expression.

    The row above is the same person's t-1 row when it has the same pnr and the year before; the
    order of the ``when`` clauses is the rule (see the module docstring). ``paired``: the rows are
    one year's, with the person's t-1 values already beside them as ``_prev_<column>`` and
    ``_has_previous`` (:func:`classified_pair`) instead of in the row above.
    """

    def before(col: str) -> pl.Expr:
        return pl.col(f"_prev_{col}") if paired else pl.col(col).shift(1)

    def is_(name: str) -> pl.Expr:
        return pl.lit(name, dtype=_TRANSITION)

    has_previous = (pl.col("_has_previous") if paired else
                    ((pl.col("pnr") == before("pnr")) & (pl.col("year") == before("year") + 1)).fill_null(False))
    moved_municipality = pl.col("home_muni") != before("home_muni")
    # an unknown address in either year says nothing about a move: the municipality decides
    moved_address = (pl.col("home_addr") != before("home_addr")).fill_null(False)
    same_address = (pl.col("home_addr") == before("home_addr")).fill_null(False)
    moved_place = moved_municipality  # a place the address cannot share: another municipality (or cell)
    work_moved = pl.col("work_muni") != before("work_muni")
    if zones:  # a change of cell is a change of address; the same LBNR in another cell was relocated
        moved_cell = (pl.col("home_zone") != before("home_zone")).fill_null(False)
        moved_address = moved_address | moved_cell
        moved_place = moved_municipality | moved_cell
        work_moved = work_moved | (pl.col("work_zone") != before("work_zone")).fill_null(False)
    moved = moved_municipality | moved_address if mover_definition == "address" else moved_municipality
    changed_workplace = pl.col("work_id") != before("work_id")
    return (
        pl.when(~has_previous).then(is_("no_previous_year"))
        .when((pl.col("work_id") == 0) | (before("work_id") == 0)).then(is_("fictive_workplace"))
        .when(~changed_workplace & work_moved).then(is_("workplace_relocated"))
        .when(same_address & moved_place).then(is_("address_conflict"))
        .when(moved & ~changed_workplace).then(is_("mover"))
        .when(moved).then(is_("both_changed"))
        .when(changed_workplace).then(is_("job_changer"))
        .when(moved_address).then(is_("moved_within_municipality"))
        .otherwise(is_("stayer"))
    )


def classified(frame: pl.DataFrame, years: Sequence[int], mover_definition: MoverDefinition = "address",
               before: Sequence[str] = (), zones: bool = False) -> pl.LazyFrame:
    """Person-years t of ``years`` with their ``transition`` and, for each column in ``before``, its
    t-1 value as ``<column>_before`` (null when there is no t-1 row).

    ``frame`` must be sorted by (pnr, year) with one row per person-year, as
    :func:`pendling.mobility.api.validate_frame` returns it; rows of other years may be present (the
    t-1 rows are).
    """
    has_previous = (pl.col("pnr") == pl.col("pnr").shift(1)) & (pl.col("year") == pl.col("year").shift(1) + 1)
    return (
        frame.lazy()
        .with_columns(
            transition_expr(mover_definition, zones).alias("transition"),
            *(pl.when(has_previous).then(pl.col(c).shift(1)).alias(f"{c}_before") for c in before),
        )
        .filter(pl.col("year").is_in(sorted(set(years))))
    )


def classified_pair(before: pl.DataFrame, after: pl.DataFrame, mover_definition: MoverDefinition = "address",
                    columns: Sequence[str] = (), zones: bool = False) -> pl.LazyFrame:
    """:func:`classified` for one flow year from its two years apart: ``after`` (year t) and ``before``
    (year t-1), each with one row per pnr **sorted by pnr**. Each row of ``after`` finds its person's
    t-1 row by binary search (no merged two-year table, no hash table); rows, transitions and
    ``<column>_before`` values are those :func:`classified` gives for year t on both years together.
    """
    used = ["home_muni", "home_addr", "work_id", "work_muni", *(["home_zone", "work_zone"] if zones else [])]
    wanted = list(dict.fromkeys([*used, *columns]))
    n = before.height
    pos = before["pnr"].search_sorted(after["pnr"], side="left").cast(pl.Int64)
    at = pl.select(pl.when(pl.lit(pos) < n).then(pl.lit(pos))).to_series()
    found = (before["pnr"].gather(at) == after["pnr"]).fill_null(False)
    idx = pl.select(pl.when(pl.lit(found)).then(pl.lit(at))).to_series().cast(pl.Int64)
    prev = before.select(pl.col(wanted).gather(idx)) if n else pl.DataFrame(
        {c: pl.Series([None] * after.height, dtype=before.schema.get(c, pl.Int64)) for c in wanted})
    paired = after.with_columns(
        found.alias("_has_previous"), *(prev[c].alias(f"_prev_{c}") for c in wanted))
    return (
        paired.lazy()
        .with_columns(
            transition_expr(mover_definition, zones, paired=True).alias("transition"),
            *(pl.col(f"_prev_{c}").alias(f"{c}_before") for c in columns),  # null without a t-1 row
        )
        .drop("_has_previous", *(f"_prev_{c}" for c in wanted))
    )


R_SCALE = 2**36
"""Fixed-point scale of r and ln(T_t/T_{t-1}) in the exact sums (resolution 1.5e-11)."""
M_SCALE = 2**32
"""Fixed-point scale of minutes in the exact sums (resolution 2.3e-10 minutes)."""

# ---------------------------------------------------------------------------------------------
# SQL over table ``timed``: the usable movers and job-changers from Polars (year, flow and job group
# as small integer codes, home region and kommunegruppe at t-1, minutes before and after).
# Placeholders are filled from constants, never from user input.

# The flow rows with the keys of every cell family (labels are attached to the few result rows in Python).
_FLOW_ROWS_SQL = """
SELECT
    year, flow, job_group,
    region_code = {hovedstaden} AS in_hovedstaden,
    CASE WHEN region_code <> {hovedstaden} THEN region_code END AS region5,  -- Hovedstaden: from in_hovedstaden
    kommunegruppe_code AS kommunegruppe,
    minutes_before AS b,
    minutes_after AS a,
    minutes_after / minutes_before - 1 AS r
FROM timed
"""

# Values enter the sums as integers (HUGEINT, fixed point), so every sum is exact and the same
# whatever the row order or thread count: reruns give identical bits, and the sums of the fine
# cells (year × flow × job group × home region × kommunegruppe) add up exactly to every published
# cell. Means, variances and covariances are formed from these sums in pendling.mobility.stats.
_FINE_SQL = """
CREATE TEMP TABLE fine AS
SELECT
    year, flow, job_group, in_hovedstaden, region5, kommunegruppe,
    count(*) AS n,
    sum(qr) AS s_r, sum(qr * qr) AS ss_r, sum(ql) AS s_l,
    sum(qb) AS s_b, sum(qa) AS s_a, sum(qb * qb) AS ss_b, sum(qa * qa) AS ss_a, sum(qa * qb) AS s_ab,
    count(*) FILTER (WHERE r > 0) AS n_longer,
    count(*) FILTER (WHERE r < 0) AS n_shorter,
    count(*) FILTER (WHERE a = 0) AS n_zero_after  -- ln(0) = -inf: kept out of s_l, counted
FROM (   -- every value < 2^53 after scaling, so round() is exact before the cast
    SELECT
        *,
        CAST(round(r * {r_scale}) AS HUGEINT) AS qr,
        CAST(round(CASE WHEN a > 0 THEN ln(a / b) ELSE 0 END * {r_scale}) AS HUGEINT) AS ql,
        CAST(round(b * {m_scale}) AS HUGEINT) AS qb,
        CAST(round(a * {m_scale}) AS HUGEINT) AS qa
    FROM flow_rows
)
GROUP BY ALL
"""

# The cells: the job-group cells from every fine cell, the job-group totals ('all') from the
# classified job groups only ({where}; see NUISANCE_GROUPS in pendling.mobility.stats).
_SUMS_SQL = """
SELECT
    {keys},
    sum(n)::BIGINT, sum(s_r), sum(ss_r), sum(s_l), sum(s_b), sum(s_a), sum(ss_b), sum(ss_a), sum(s_ab),
    sum(n_longer)::BIGINT, sum(n_shorter)::BIGINT, sum(n_zero_after)::BIGINT
FROM fine
WHERE {where}
GROUP BY GROUPING SETS ({grouping_sets})
"""

# The median is holistic: it cannot be added up from fine cells, so it has its own pass over the rows.
_MEDIANS_SQL = """
SELECT {keys}, median(r)
FROM flow_rows
WHERE {where}
GROUP BY GROUPING SETS ({grouping_sets})
"""

# Cell keys: NULL job_group = all job groups; the region label comes from the first non-NULL of
# in_hovedstaden, region5, kommunegruppe (all NULL: 'all').
_KEYS_SQL = "year, flow, {job_group}, in_hovedstaden, {region5}, {kommunegruppe}, {region5_grouped}"

_GROUPING_SETS = {
    None: ["(year, flow, job_group, in_hovedstaden)", "(year, flow, in_hovedstaden)",
           "(year, flow, job_group)", "(year, flow)"],
    "region": ["(year, flow, job_group, region5)", "(year, flow, region5)"],
    "kommunegruppe": ["(year, flow, job_group, kommunegruppe)", "(year, flow, kommunegruppe)"],
}
SUM_COLUMNS = ("year", "flow", "job_group", "region", "n", "s_r", "ss_r", "s_l", "s_b", "s_a", "ss_b", "ss_a",
               "s_ab", "n_longer", "n_shorter", "n_zero_after", "median_rel_change")
"""Columns of :func:`cells_and_attrition`'s sums (exact integers, fixed point; see R_SCALE, M_SCALE)."""


def _cell_sql(template: str, by: Sequence[str], totals: bool, nuisance: Sequence[int] = ()) -> str:
    """``template`` over the grouping sets of the job-group cells (``totals`` False) or of the
    job-group totals (True; rows of the ``nuisance`` job-group codes left out)."""
    sets = [s for s in (*_GROUPING_SETS[None], *(s for b in by for s in _GROUPING_SETS[b]))
            if ("job_group" in s) != totals]
    # a key outside every grouping set may not be selected: stand in a NULL for it
    keys = _KEYS_SQL.format(
        job_group="NULL" if totals else "job_group",
        region5="region5" if "region" in by else "NULL",
        kommunegruppe="kommunegruppe" if "kommunegruppe" in by else "NULL",
        region5_grouped="grouping(region5) = 0" if "region" in by else "false",
    )
    where = f"job_group NOT IN ({', '.join(map(str, nuisance))})" if totals and nuisance else "true"
    return template.format(keys=keys, grouping_sets=", ".join(sets), where=where)


def _cell_label(key: tuple, job_groups: Sequence[str]) -> tuple | None:
    """(year, flow, job_group, region) labels of a cell key row; None for the empty Hovedstaden row
    of the region5 grouping (Hovedstaden's cell is the in_hovedstaden one)."""
    year, flow, job_group, in_hovedstaden, region5, kommunegruppe, region5_grouped = key
    if region5_grouped and region5 is None:
        return None
    if in_hovedstaden is not None:
        region = "hovedstaden" if in_hovedstaden else "rest"
    elif region5 is not None:
        region = REGION_NAMES[region5]
    elif kommunegruppe is not None:
        region = KOMMUNEGRUPPE_NAMES[kommunegruppe]
    else:
        region = "all"
    return (year, FLOWS[flow], "all" if job_group is None else job_groups[job_group], region)


def _cell_sums(con: duckdb.DuckDBPyConnection, by: Sequence[str], job_groups: Sequence[str]) -> list[tuple]:
    """One tuple per non-empty cell in :data:`SUM_COLUMNS` order, from table ``timed``."""
    con.execute(f"CREATE TEMP VIEW flow_rows AS {_FLOW_ROWS_SQL.format(hovedstaden=REGION_HOVEDSTADEN)}")
    con.execute(_FINE_SQL.format(r_scale=R_SCALE, m_scale=M_SCALE))
    nuisance = [i for i, g in enumerate(job_groups) if g in NUISANCE_GROUPS]
    medians = {}
    out = []
    for totals in (False, True):
        for row in con.sql(_cell_sql(_MEDIANS_SQL, by, totals, nuisance)).fetchall():
            label = _cell_label(row[:7], job_groups)
            if label is not None:
                medians[label] = row[7]
        for row in con.sql(_cell_sql(_SUMS_SQL, by, totals, nuisance)).fetchall():
            label = _cell_label(row[:7], job_groups)
            if label is not None:
                out.append((*label, *row[7:], medians[label]))
    return out


# ---------------------------------------------------------------------------------------------
# Polars side: commute minutes by array lookup, then the two entry points

TRANSITION_COLUMNS = (
    "pnr", "year", "bucket", "has_previous", "home_before", "home_after", "addr_before", "addr_after",
    "work_id_before", "work_id_after", "work_before", "work_after", "disco_before", "job_group_before",
    "region_code", "kommunegruppe_code", "minutes_before", "minutes_after", "rel_change", "flow",
)
"""Columns of :func:`transitions_frame`, in order."""

_RENAMES = {"home_muni": "home", "home_addr": "addr", "work_id": "work_id", "work_muni": "work",
            "disco": "disco", "job_group": "job_group", "home_zone": "hzone", "work_zone": "wzone"}


def _pairs(rows: pl.LazyFrame, columns: Sequence[str]) -> pl.LazyFrame:
    """``<name>_before``/``<name>_after`` pairs of ``columns`` under the short names of :data:`_RENAMES`."""
    return rows.with_columns(
        *(pl.col(f"{c}_before").alias(f"{_RENAMES[c]}_before") for c in columns if _RENAMES[c] != c),
        *(pl.col(c).alias(f"{_RENAMES[c]}_after") for c in columns),
    )


def timed(rows: pl.LazyFrame, matrix: pl.DataFrame, municipalities: pl.DataFrame,
          zone_times: pl.DataFrame | None = None) -> pl.LazyFrame:
    """Add ``minutes_before``/``minutes_after`` (car minutes home → workplace at t-1 and t),
    ``region_code`` and ``kommunegruppe_code`` of the home at t-1, and ``exclusion``: why the time
    cannot be used ('unknown_municipality', 'zero_time_before', 'invalid_travel_time'), null when it can.

    ``rows`` has ``home_before``, ``work_before``, ``home_after``, ``work_after`` (municipality codes).
    The matrix becomes a dense array over the codes it and ``municipalities`` use, so the lookup is a
    gather, not a join: a pair missing from the matrix, or a code outside it, gives a null slot.

    ``zone_times`` (grid runs: ``origin``, ``destination`` Int64 cell codes, ``minutes``, one row per
    pair): minutes come from it by joining ``hzone_<when>``, ``wzone_<when>``; a pair without minutes
    gives exclusion 'unroutable_zone' (the municipalities are still checked first, for the region).
    """
    codes = pl.concat([matrix["origin"], matrix["destination"], municipalities["code"]]).unique().sort()
    k = len(codes)
    offset = 2**15  # Int16 codes → 0 … 65535
    slot = pl.Series([None] * 2**16, dtype=pl.Int64).scatter(codes.cast(pl.Int64) + offset, pl.Series(range(k)))
    pair = (slot.gather(matrix["origin"].cast(pl.Int64) + offset) * k
            + slot.gather(matrix["destination"].cast(pl.Int64) + offset))
    present = pl.Series([False] * (k * k)).scatter(pair, True)
    minutes = pl.Series([None] * (k * k), dtype=pl.Float64).scatter(pair, matrix["minutes"])
    munis = pl.DataFrame({"code": codes}).join(municipalities, on="code", how="left")

    def at(code: str) -> pl.Expr:
        return pl.lit(slot).gather(pl.col(code).cast(pl.Int64) + offset)

    def pair_of(when: str) -> pl.Expr:
        return at(f"home_{when}") * k + at(f"work_{when}")

    known = (
        pl.lit(present).gather(pair_of("before")).fill_null(False)
        & pl.lit(present).gather(pair_of("after")).fill_null(False)
        & pl.col("region_code").is_not_null()
    )
    finite = pl.all_horizontal(
        (pl.col(c).is_finite() & (pl.col(c) >= 0)).fill_null(False) for c in ("minutes_before", "minutes_after")
    )
    # T_{t-1} = 0 (a zero diagonal) leaves r undefined: its own bucket; T_t = 0 gives r = -1, usable
    zero_before = finite & (pl.col("minutes_before") == 0)
    regions = (
        pl.lit(munis["region_code"]).gather(at("home_before")).alias("region_code"),
        pl.lit(munis["kommunegruppe_code"]).gather(at("home_before")).alias("kommunegruppe_code"),
    )
    if zone_times is None:
        return rows.with_columns(
            pl.lit(minutes).gather(pair_of("before")).alias("minutes_before"),
            pl.lit(minutes).gather(pair_of("after")).alias("minutes_after"),
            *regions,
        ).with_columns(
            pl.when(~known).then(pl.lit("unknown_municipality"))
            .when(zero_before).then(pl.lit("zero_time_before"))
            .when(~finite).then(pl.lit("invalid_travel_time"))
            .alias("exclusion")
        )
    zt = zone_times.lazy().select(pl.col("origin").cast(pl.Int64), pl.col("destination").cast(pl.Int64),
                                  pl.col("minutes").cast(pl.Float64))
    for when in ("before", "after"):
        rows = rows.join(zt.rename({"origin": f"hzone_{when}", "destination": f"wzone_{when}",
                                    "minutes": f"minutes_{when}"}),
                         on=[f"hzone_{when}", f"wzone_{when}"], how="left")
    known_muni = (
        pl.lit(slot).gather(pl.col("home_before").cast(pl.Int64) + offset).is_not_null()
        & pl.lit(slot).gather(pl.col("work_before").cast(pl.Int64) + offset).is_not_null()
        & pl.lit(slot).gather(pl.col("home_after").cast(pl.Int64) + offset).is_not_null()
        & pl.lit(slot).gather(pl.col("work_after").cast(pl.Int64) + offset).is_not_null()
        & pl.col("region_code").is_not_null()
    ).fill_null(False)
    routed = pl.col("minutes_before").is_not_null() & pl.col("minutes_after").is_not_null()
    return rows.with_columns(*regions).with_columns(
        pl.when(~known_muni).then(pl.lit("unknown_municipality"))
        .when(~routed).then(pl.lit("unroutable_zone"))
        .when(zero_before).then(pl.lit("zero_time_before"))
        .when(~finite).then(pl.lit("invalid_travel_time"))
        .alias("exclusion")
    )


def transitions_frame(frame: pl.DataFrame, matrix: pl.DataFrame, municipalities: pl.DataFrame,
                      years: Sequence[int], mover_definition: MoverDefinition = "address",
                      zone_times: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every person-year of ``years`` with its bucket, both years' values and commute minutes.

    Inputs are already validated canonical frames, ``frame`` sorted by (pnr, year) (see
    :func:`pendling.mobility.api.validate_frame`). Sorted by (year, pnr). ``rel_change`` is
    T_t / T_{t-1} - 1 (a fraction) for movers and job-changers only; minutes are car minutes.
    ``job_group_before`` is the panel's own ``job_group`` at t-1 (null without that column).
    """
    columns = ["home_muni", "home_addr", "work_id", "work_muni", "disco"]
    if "job_group" in frame.columns:
        columns.append("job_group")
    zones = zone_times is not None
    if zones:
        columns += ["home_zone", "work_zone"]
    rows = timed(_pairs(classified(frame, years, mover_definition, before=columns, zones=zones), columns),
                 matrix, municipalities, zone_times)
    in_flow = pl.col("transition").is_in(_FLOW_TRANSITIONS)
    usable = in_flow & pl.col("exclusion").is_null()
    flow = pl.when(pl.col("transition") == "mover").then(pl.lit(FLOWS[0])).otherwise(pl.lit(FLOWS[1]))
    out = rows.with_columns(
        pl.when(in_flow & pl.col("exclusion").is_not_null())
        .then(pl.concat_str(pl.col("transition").cast(pl.Utf8), pl.lit("_"), pl.col("exclusion")))
        .otherwise(pl.col("transition").cast(pl.Utf8)).alias("bucket"),
        (pl.col("transition") != "no_previous_year").alias("has_previous"),
        pl.when(usable).then(pl.col("minutes_after") / pl.col("minutes_before") - 1).alias("rel_change"),
        pl.when(usable).then(flow).alias("flow"),
        *([] if "job_group" in frame.columns else [pl.lit(None, dtype=pl.Utf8).alias("job_group_before")]),
    ).select(*TRANSITION_COLUMNS, *(["hzone_before", "wzone_before", "hzone_after", "wzone_after"] if zones else [])
             ).sort("year", "pnr").collect()
    if zones:  # an output: cells as DDKN ids, not the engine's codes
        from pendling.zones import cell_text

        out = out.with_columns(cell_text(out[c]) for c in ("hzone_before", "wzone_before", "hzone_after", "wzone_after"))
    return out


def _job_group_codes(rows: pl.DataFrame, group_column: str,
                     assign_job_groups: Callable[[pl.DataFrame], pl.DataFrame] | None) -> tuple[pl.Expr, list[str]]:
    """(expression giving each candidate's t-1 job group as a code, the labels the codes index).

    The panel's own ``job_group`` if it has one, else DISCO-08 at t-1 mapped by ``assign_job_groups``
    (called once with the distinct codes); unknown or missing → 'unclassified'. Labels that no
    candidate has simply get no cells.
    """
    column = f"{group_column}_before"
    if group_column == "job_group":
        keys = rows.select(pl.col(column).drop_nulls().unique())[:, 0]
        mapping = pl.DataFrame({"key": keys, "job_group": keys})
    elif assign_job_groups is not None:
        codes = rows.select(pl.col(column).drop_nulls().unique().sort().alias("disco"))
        mapping = assign_job_groups(codes).select(pl.col("disco").alias("key"), "job_group")
    else:
        mapping = pl.DataFrame(schema={"key": pl.Utf8, "job_group": pl.Utf8})
    labels = sorted({*mapping["job_group"].to_list(), "unclassified"})
    index = {label: i for i, label in enumerate(labels)}
    code = pl.col(column).replace_strict(
        mapping["key"], [index[g] for g in mapping["job_group"].to_list()], default=index["unclassified"],
        return_dtype=pl.UInt16,
    )
    return code, labels


def cells_and_attrition(
    frame: pl.DataFrame,
    matrix: pl.DataFrame,
    municipalities: pl.DataFrame,
    years: Sequence[int],
    mover_definition: MoverDefinition = "address",
    by: Sequence[str] = (),
    assign_job_groups: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    limits: Limits | None = None,
    *,
    cells: bool = True,
    zone_times: pl.DataFrame | None = None,
) -> tuple[list[tuple], pl.DataFrame]:
    """Exact cell sums of the flows and the bucket counts per year.

    Returns ``(sums, counts)``: ``sums`` is a list of tuples in :data:`SUM_COLUMNS` order, one per
    non-empty cell (sums are Python ints, exact; empty when ``cells`` is False); ``counts`` has
    ``year``, ``bucket``, ``n``. ``frame`` is a validated canonical frame sorted by (pnr, year).
    ``assign_job_groups`` maps a frame of distinct t-1 DISCO codes (column ``disco``) to one with
    ``disco`` and ``job_group``; it is not called when the panel carries its own ``job_group``.
    Only the usable movers and job-changers (about a sixth of the person-years) go on to DuckDB.
    ``limits``: DuckDB memory limit, threads and spill directory (:mod:`pendling.mobility.limits`).
    """
    group_column = "job_group" if "job_group" in frame.columns else "disco"
    zones = zone_times is not None
    columns = ["home_muni", "work_muni", group_column, *(["home_zone", "work_zone"] if zones else [])]
    rows = classified(frame, years, mover_definition, before=columns, zones=zones)
    return _cells_from_rows(rows, group_column, columns, matrix, municipalities, by, assign_job_groups, limits,
                            cells=cells, zone_times=zone_times)


def cells_and_attrition_pair(
    before: pl.DataFrame,
    after: pl.DataFrame,
    matrix: pl.DataFrame,
    municipalities: pl.DataFrame,
    mover_definition: MoverDefinition = "address",
    by: Sequence[str] = (),
    assign_job_groups: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    limits: Limits | None = None,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
) -> tuple[list[tuple], pl.DataFrame]:
    """:func:`cells_and_attrition` of one flow year t from the canonical rows of t-1 (``before``) and t
    (``after``), each sorted by pnr with one row per person (:func:`classified_pair`): the same sums and
    counts as from both years in one frame, without building that frame. ``con``: an open connection
    (from :func:`pendling.mobility.limits.connect`) to reuse across flow years; left as it was given."""
    group_column = "job_group" if "job_group" in after.columns else "disco"
    columns = ["home_muni", "work_muni", group_column]
    rows = classified_pair(before, after, mover_definition, columns)
    return _cells_from_rows(rows, group_column, columns, matrix, municipalities, by, assign_job_groups, limits,
                            con=con)


def _cells_from_rows(rows: pl.LazyFrame, group_column: str, columns: list[str], matrix: pl.DataFrame,
                     municipalities: pl.DataFrame, by: Sequence[str],
                     assign_job_groups: Callable[[pl.DataFrame], pl.DataFrame] | None, limits: Limits | None,
                     *, cells: bool = True, zone_times: pl.DataFrame | None = None,
                     con: duckdb.DuckDBPyConnection | None = None,
                     ) -> tuple[list[tuple], pl.DataFrame]:
    """The rest of :func:`cells_and_attrition` once every person-year has its transition."""
    flow_rows = timed(_pairs(rows.filter(pl.col("transition").is_in(_FLOW_TRANSITIONS)), columns),
                      matrix, municipalities, zone_times)
    bucket = (pl.when(pl.col("exclusion").is_null()).then(pl.col("transition").cast(pl.Utf8))
              .otherwise(pl.concat_str(pl.col("transition").cast(pl.Utf8), pl.lit("_"), pl.col("exclusion"))))
    transition_counts, flow_counts, usable = pl.collect_all([
        rows.filter(~pl.col("transition").is_in(_FLOW_TRANSITIONS)).group_by("year", "transition").len(),
        flow_rows.group_by("year", bucket.alias("bucket")).len(),
        flow_rows.filter(pl.col("exclusion").is_null()).select(
            "year", (pl.col("transition") == "job_changer").cast(pl.UInt8).alias("flow"),  # index into FLOWS
            f"{group_column}_before", "region_code", "kommunegruppe_code", "minutes_before", "minutes_after",
        ) if cells else pl.LazyFrame(),
    ])
    counts = pl.concat([
        transition_counts.select("year", pl.col("transition").cast(pl.Utf8).alias("bucket"), "len"),
        flow_counts.select("year", "bucket", "len"),
    ]).select("year", "bucket", pl.col("len").cast(pl.Int64).alias("n")).sort("year", "bucket")
    if not cells:
        return [], counts
    job_group, labels = _job_group_codes(usable, group_column, assign_job_groups)
    usable = usable.with_columns(job_group.alias("job_group")).drop(f"{group_column}_before")
    if con is not None:
        # a connection shared by the flow years (opening one costs more than a small year's sums):
        # this year's objects are dropped so the next year starts from the same empty catalogue
        con.register("timed", usable)
        try:
            return _cell_sums(con, by, labels), counts
        finally:
            con.execute("DROP TABLE IF EXISTS fine")
            con.execute("DROP VIEW IF EXISTS flow_rows")
            con.unregister("timed")
    with connect(limits) as con:
        con.execute("SET preserve_insertion_order = false")  # irrelevant to the sums; costs memory
        con.register("timed", usable)
        return _cell_sums(con, by, labels), counts

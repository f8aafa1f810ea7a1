"""Validation of the optional home/workplace grid cells (``home_zone``, ``work_zone``) of a panel.

The rule, applied to each of the two cells of a row that passed the municipality checks (a row goes
to the first bucket that applies, home before workplace within each test):

1. ``excluded_zone_malformed``: the cell is missing, or is not a DDKN cell id
   (``100m_NNNNN_EEEE``, ``1km_NNNN_EEE``, ``10km_NNN_EE``; see :func:`pendling.zones.parse_cells`).
2. ``excluded_zone_outside_denmark``: well formed, but its corner lies outside Denmark's bounds.
3. ``excluded_zone_outside_municipality``: the cell's centre lies in another municipality than the
   row's (KOM for the home, ARBKOM for the workplace) *and* the cell square is farther than
   :data:`BORDER_TOLERANCE_M` from that municipality's polygon.

Kept, with a note (flags ``home_zone_near_border`` / ``work_zone_near_border``): the centre lies in
another municipality but the square is within the tolerance of the row's municipality — the shipped
boundaries are generalised (1:500 000), so a dwelling near the border can sit on the "wrong" side of
the drawn line. A cell whose centre lies in the sea is judged by the distance of its square alone
(coastal cells). Checks run once per distinct (cell, municipality) pair, vectorised with shapely.

Where a cell comes from: a DDKN id column (``BOP_DDKN`` …, text) or, for a side without one, the
point ``home_x``/``home_y`` (``work_x``/``work_y``) in ETRS89 / UTM 32N metres (EPSG:25832, DST's
address coordinates), turned into the cell of the resolution asked for (``load_panel(zones=...)``;
100 m when only ``True``/``'auto'`` is given — compute coarsens it). A point on a cell border belongs
to the cell east/north of it (a DDKN cell holds its lower-left corner). For points the same buckets
apply: a missing, non-finite (NaN, inf) or non-numeric coordinate → ``excluded_zone_malformed``; a
point outside Denmark's bounds (:data:`pendling.zones.DK_EAST_M` × ``DK_NORTH_M``, so also any
negative coordinate) → ``excluded_zone_outside_denmark``; then the municipality test on its cell. When
a file has both an id column and coordinates for a side, the id column is used and a warning says so.

Inside the engine cells are Int64 codes (:func:`pendling.zones.cell_codes`), never text: they are
coded per input as soon as it is read (:func:`encode_cells`), and only valid cells reach the frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from pendling.errors import InputError

from pendling.panel.buckets import BUCKET_ENUM, KEPT_BUCKETS

BORDER_TOLERANCE_M = 500.0  # metres; about the generalisation of the 1:500 000 boundaries
STATES = ("ok", "near_border", "malformed", "outside_denmark", "outside_municipality")
STATE_ENUM = pl.Enum(list(STATES))
ZONE_OPTIONS = (False, True, "auto", "municipality", "grid100m", "grid1km", "grid10km")
COORDINATE_RESOLUTION_M = 100  # cells made from points when no resolution is asked for: the finest


@dataclass(frozen=True)
class ZoneRequest:
    """What ``load_panel(zones=...)`` asks: read the cells at all, require them, and the resolution
    points become cells at (metres)."""

    read: bool
    required: bool
    resolution_m: int

    def key(self) -> dict[str, object]:
        return {"read": self.read, "required": self.required, "resolution_m": self.resolution_m}


def zone_request(zones: bool | str | None) -> ZoneRequest:
    """``False``/``None``/'municipality' (default): the cell columns are not read; ``'auto'``: read
    when the extract has them; ``True``: read, InputError when no input has them; 'grid100m' /
    'grid1km' / 'grid10km': as True, points turned into cells of that size."""
    from pendling.zones import GRID_RESOLUTIONS

    if zones is None or zones is False or zones == "municipality":
        return ZoneRequest(False, False, COORDINATE_RESOLUTION_M)
    if zones is True:
        return ZoneRequest(True, True, COORDINATE_RESOLUTION_M)
    if zones == "auto":
        return ZoneRequest(True, False, COORDINATE_RESOLUTION_M)
    if isinstance(zones, str) and zones in GRID_RESOLUTIONS:
        return ZoneRequest(True, True, GRID_RESOLUTIONS[zones])
    raise InputError("zones must be False, True, 'auto', 'municipality', 'grid100m', 'grid1km' or 'grid10km'",
                     column="zones", values=[zones],
                     hint="False (default) does not read the cell columns; True/'auto' reads them; a grid name "
                          "also sets the cell size for x/y coordinates")


def zone_sources(columns: dict[str, str], label: str) -> list[str]:
    """Warnings about where one input's cells come from; InputError for half a point (x without y).
    ``columns``: canonical field → source column of the input."""
    notes = []
    for side in ("home", "work"):
        xy = [columns.get(f"{side}_x"), columns.get(f"{side}_y")]
        if any(xy) and not all(xy):
            have, lack = (f"{side}_x", f"{side}_y") if xy[0] else (f"{side}_y", f"{side}_x")
            raise InputError(
                f"{side} coordinates need both x and y: {columns[have]} was found but no column for {lack}",
                file=label, column=columns[have],
                hint=f"name the {lack} column in the column map ({lack} = \"...\"), or switch {have} off ({have} = [])",
            )
        if f"{side}_zone" in columns and all(xy):
            notes.append(
                f"{Path(label).name}: {side} cells read from {columns[side + '_zone']}; the coordinates "
                f"{xy[0]}/{xy[1]} are not used (set {side}_zone = [] in the column map to use them)"
            )
    return notes


def encode_cells(df: pl.DataFrame) -> pl.DataFrame:
    """The zone columns of one input as Int64 cell codes: DDKN id text coded once per distinct id
    (missing or malformed → null), columns already coded (from points) as they are."""
    from pendling.zones import cell_codes

    text = [f for f in ("home_zone", "work_zone") if f in df.columns and df.schema[f] != pl.Int64]
    return df.with_columns(cell_codes(df[f]).alias(f) for f in text) if text else df


def cell_states(zone: pl.Series, muni: pl.Series) -> pl.Series:
    """State of each (cell, municipality code) pair: one of :data:`STATES` (Enum :data:`STATE_ENUM`).

    ``zone``: Int64 cell codes (:func:`pendling.zones.cell_codes`) or DDKN id text (coded here);
    null = missing. ``muni``: Int16/Int64 municipality codes (after aliases).
    """
    import shapely

    from pendling import zones as Z

    pairs = pl.DataFrame({"zone": Z.cell_codes(zone), "muni": muni.cast(pl.Int64)})
    u = pairs.unique().drop_nulls("zone")
    cells = Z.code_cells(u["zone"])
    res = cells["resolution_m"].fill_null(0).to_numpy().astype(np.float64)
    east = cells["east_m"].fill_null(0).to_numpy().astype(np.float64)
    north = cells["north_m"].fill_null(0).to_numpy().astype(np.float64)
    # object arrays: numpy string arrays would truncate a longer state to the first one's length
    state = np.full(cells.height, "malformed", dtype=object)
    state[(cells["error"] == "outside Denmark").fill_null(False).to_numpy()] = "outside_denmark"
    state[cells["error"].is_null().to_numpy()] = "ok"
    live = np.flatnonzero(state == "ok")
    if len(live):
        centre = Z.municipality_at(east[live] + res[live] / 2, north[live] + res[live] / 2)
        want = u["muni"].to_numpy()[live]
        other = np.flatnonzero(centre != want)
        if len(other):
            geoms, codes, _ = Z._land()
            idx = live[other]
            pos = np.full(2**15, -1, dtype=np.int64)
            pos[codes.astype(np.int64)] = np.arange(len(codes))
            j = pos[np.clip(want[other], 0, 2**15 - 1)]
            have = j >= 0
            target = geoms[np.where(have, j, 0)]
            boxes = shapely.box(east[idx], north[idx], east[idx] + res[idx], north[idx] + res[idx])
            dist = np.full(len(idx), np.inf)
            if have.any():
                dist[have] = shapely.distance(boxes[have], target[have])
            near = dist <= BORDER_TOLERANCE_M
            sea = centre[other] < 0
            state[idx] = np.where(near, np.where(sea, "ok", "near_border"), "outside_municipality").astype(object)
    lookup = u.select("zone", "muni", pl.Series("state", state.tolist(), dtype=STATE_ENUM))
    # the pairs are few (cells × municipalities): a join on two Int64 keys, no per-row text
    out = pairs.join(lookup, on=["zone", "muni"], how="left", nulls_equal=True, maintain_order="left")
    return out["state"].fill_null("malformed")


def _pair_key(zone: pl.Expr, muni: pl.Expr) -> pl.Expr:
    """One Int64 per (cell code, municipality) — resolution index (2 bits), northing and easting in 100 m
    (17 + 14 bits), municipality + 2^15 (16 bits) — so a row's state is one hash lookup, not a join."""
    from pendling.zones import CODE_NORTH, CODE_RES

    res = zone // CODE_RES
    index = pl.when(res == 100).then(0).when(res == 1000).then(1).otherwise(2).cast(pl.Int64)
    north = (zone // CODE_NORTH) % (CODE_RES // CODE_NORTH) // 100
    east = zone % CODE_NORTH // 100
    return ((index * 2**17 + north) * 2**14 + east) * 2**16 + (muni.cast(pl.Int64) + 2**15)


def apply_zone_buckets(rows: pl.DataFrame, alias: dict[int, int]) -> pl.DataFrame:
    """Move kept rows whose cells fail the rule into the zone buckets; add ``_home_zone_note`` and
    ``_work_zone_note`` (kept near the border). ``rows`` has ``bucket`` from
    :func:`pendling.panel.validate.assign_buckets` and the cells as Int64 codes (:func:`encode_cells`);
    only the zone columns present are checked.

    The states are worked out once per distinct (cell, municipality) of the kept rows and reach the
    rows through one Int64 key each (:func:`_pair_key`): at national scale no per-row frame of pairs
    is built (that join doubled the memory of the cells).
    """
    kept = pl.col("bucket").is_in(KEPT_BUCKETS)
    states: dict[str, pl.Expr] = {}
    for side, code in (("home", "home_muni"), ("work", "work_muni")):
        zone = f"{side}_zone"
        if zone not in rows.columns:  # that side's column is absent: nothing to check
            states[side] = pl.lit(None, dtype=STATE_ENUM)
            continue
        muni = pl.col(code).replace(alias) if alias else pl.col(code)
        pairs = (rows.lazy().filter(kept).select(pl.col(zone).alias("zone"), muni.cast(pl.Int64).alias("muni"))
                 .unique().collect())
        state = cell_states(pairs["zone"], pairs["muni"])
        keys = pairs.select(_pair_key(pl.col("zone"), pl.col("muni"))).to_series()
        known = keys.is_not_null()  # a missing cell has no key: malformed below
        lookup = _pair_key(pl.col(zone), muni).replace_strict(
            keys.filter(known), state.filter(known), default=None, return_dtype=STATE_ENUM)
        states[side] = pl.when(kept).then(lookup.fill_null("malformed"))
    rows = rows.with_columns(states["home"].alias("_home_state"), states["work"].alias("_work_state"))
    h, w = pl.col("_home_state"), pl.col("_work_state")

    def either(name: str) -> pl.Expr:
        return ((h == name) | (w == name)).fill_null(False)

    bucket = (
        pl.when(either("malformed")).then(pl.lit("excluded_zone_malformed", dtype=BUCKET_ENUM))
        .when(either("outside_denmark")).then(pl.lit("excluded_zone_outside_denmark", dtype=BUCKET_ENUM))
        .when(either("outside_municipality")).then(pl.lit("excluded_zone_outside_municipality", dtype=BUCKET_ENUM))
        .otherwise(pl.col("bucket"))
    )  # fmt: skip
    return rows.with_columns(
        bucket.alias("bucket"),
        (h == "near_border").fill_null(False).alias("_home_zone_note"),
        (w == "near_border").fill_null(False).alias("_work_zone_note"),
    ).drop("_home_state", "_work_state")


def zone_flag_counts(rows: pl.DataFrame) -> pl.DataFrame:
    """Per year, kept rows with a near-border cell: year, flag, n (long, like validate.flag_counts)."""
    kept = pl.col("bucket").is_in(KEPT_BUCKETS)
    wide = (
        rows.lazy()
        .filter(pl.col("year").is_not_null())
        .group_by("year")
        .agg(
            (kept & pl.col("_home_zone_note")).sum().cast(pl.Int64).alias("home_zone_near_border"),
            (kept & pl.col("_work_zone_note")).sum().cast(pl.Int64).alias("work_zone_near_border"),
        )
        .collect()
    )
    return wide.unpivot(index="year", variable_name="flag", value_name="n")

"""Zone-level commute times for grid runs (``compute(..., zones='grid1km')``).

The panel's ``home_zone`` / ``work_zone`` cells (Int64 cell codes, :func:`pendling.zones.cell_codes`)
are brought to the resolution asked for (a finer cell becomes the coarser cell holding it by integer
division of its DDKN corner; a coarser one cannot be refined and is an InputError), and the distinct
(home cell, work cell) pairs of every row are routed once with :func:`pendling.routing.pair_times`
(node pairs cached in the user cache; it sees DDKN id text, the join back is on the codes). Times are car
minutes including the access legs at both ends and, for a pair (z, z), the within-cell time.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from pendling.errors import InputError

GRID_ZONES = ("grid100m", "grid1km", "grid10km")
ZONE_CHOICES = ("municipality", *GRID_ZONES)


def check_zones(zones: str) -> str:
    if zones not in ZONE_CHOICES:
        raise InputError("unknown zones for compute", column="zones", values=[zones],
                         hint=f"use one of {', '.join(ZONE_CHOICES)}")
    return zones


def at_resolution(frame: pl.DataFrame, zones: str) -> pl.DataFrame:
    """``frame`` with ``home_zone`` and ``work_zone`` as Int64 cell codes (:func:`pendling.zones.cell_codes`)
    at the resolution of ``zones``.

    The columns may hold codes (a Panel's frame) or DDKN id text (a frame made by hand; coded here).
    InputError when a zone column is absent, a cell is missing, not a cell, outside Denmark, or coarser
    than asked for (the message shows the DDKN ids). Checks the distinct cells (tens of thousands);
    coarsening is integer arithmetic on the codes.
    """
    from pendling import zones as Z

    missing = [c for c in ("home_zone", "work_zone") if c not in frame.columns]
    if missing:
        raise InputError(
            f"--zones {zones} needs the home and workplace grid cells of every person-year",
            column=", ".join(missing), values=frame.columns,
            hint="name the cell columns in the column map (home_zone, work_zone, or home_x/home_y, work_x/work_y) "
                 "and load the panel with them (load_panel(..., zones='" + zones + "')), or use --zones municipality",
        )
    want = Z.GRID_RESOLUTIONS[zones]
    for c in ("home_zone", "work_zone"):
        if frame.schema[c] != pl.Int64:
            text = frame[c]
            codes = Z.cell_codes(text)
            bad = text.filter(codes.is_null() & text.is_not_null()).unique().sort()
            if bad.len():
                raise InputError("cell ids that are not DDKN cells", column=c, values=bad.head(10).to_list(),
                                 hint="load the extract with pendling.load_panel: it counts such rows as "
                                      "excluded_zone_malformed")
            frame = frame.with_columns(codes)
    nulls = {c: frame[c].null_count() for c in ("home_zone", "work_zone") if frame[c].null_count()}
    if nulls:
        col = next(iter(nulls))
        raise InputError("person-years without a grid cell", column=col, values=[f"{nulls[col]} rows"],
                         hint="load the extract with pendling.load_panel: it counts such rows as excluded_zone_malformed")
    codes = pl.concat([frame["home_zone"], frame["work_zone"]]).unique().sort()
    cells = Z.code_cells(codes).with_columns(codes.alias("code"))
    bad = cells.filter(pl.col("error").is_not_null())
    if bad.height:
        shown = [z if z is not None else f"code {c}" for z, c in bad.select("zone", "code").head(10).rows()]
        raise InputError("cells that are not DDKN cells in Denmark", column="home_zone, work_zone",
                         values=shown, hint="load_panel counts these as zone buckets")
    coarse = cells.filter(pl.col("resolution_m") > want)
    if coarse.height:
        raise InputError(f"cells coarser than {zones} cannot be refined", column="home_zone, work_zone",
                         values=coarse["zone"].head(10).to_list(), hint="ask for the cells' own resolution or coarser")
    if (cells["resolution_m"] == want).all():
        return frame
    return frame.with_columns(Z.coarsen_codes(pl.col(c), want).alias(c) for c in ("home_zone", "work_zone"))


def route_pairs(frame: pl.DataFrame, zones: str, *, graph: Any = None, cache: bool = True) -> pl.DataFrame:
    """Distinct (home_zone, work_zone) pairs of ``frame`` (Int64 cell codes) routed: origin,
    destination (Int64 codes), minutes, status (minutes null where the pair cannot be routed; those
    person-years are counted as unroutable). :func:`pendling.routing.pair_times` sees DDKN ids."""
    from pendling.routing.pairs import pair_times
    from pendling.zones import cell_text

    pairs = frame.select(pl.col("home_zone").alias("origin"), pl.col("work_zone").alias("destination")).unique()
    pairs = pairs.sort("origin", "destination")
    ids = pairs.select(cell_text(pairs["origin"]), cell_text(pairs["destination"]))
    out = pair_times(ids, zones, graph=graph, cache=cache, on_invalid="null")  # one row per input row, in order
    return pairs.with_columns(out["minutes"], out["status"])


def check_zone_times(zone_times: pl.DataFrame) -> pl.DataFrame:
    """A caller's zone-pair table: origin, destination (DDKN ids, or Int64 cell codes), minutes; pairs
    unique. Returned with the ids as Int64 cell codes, as the panel holds them."""
    from pendling.zones import cell_codes

    missing = [c for c in ("origin", "destination", "minutes") if c not in zone_times.columns]
    if missing:
        raise InputError("the zone-time table lacks columns", column=", ".join(missing), values=zone_times.columns,
                         hint="give origin, destination (cell ids) and minutes, as pendling.pair_times returns")
    zt = zone_times.select(cell_codes(zone_times["origin"]).alias("origin"),
                           cell_codes(zone_times["destination"]).alias("destination"),
                           pl.col("minutes").cast(pl.Float64))
    for c in ("origin", "destination"):
        bad = zone_times[c].filter(zt[c].is_null() & zone_times[c].is_not_null())
        if bad.len():
            raise InputError("the zone-time table has ids that are not DDKN cells", column=c,
                             values=bad.cast(pl.Utf8).unique().sort().head(10).to_list(),
                             hint="give DDKN cell ids such as 1km_6170_720")
    if zt.select(pl.struct("origin", "destination").is_duplicated().any()).item():
        raise InputError("the zone-time table repeats origin-destination pairs", column="origin, destination")
    return zt

"""Zone-level commute times for grid runs (``compute(..., zones='grid1km')``).

The panel's ``home_zone`` / ``work_zone`` cells are brought to the resolution asked for (a finer cell
becomes the coarser cell holding it by integer division of its DDKN corner; a coarser one cannot be
refined and is an InputError), and the distinct (home cell, work cell) pairs of every row are routed
once with :func:`pendling.routing.pair_times` (node pairs cached in the user cache). Times are car
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
    """``frame`` with ``home_zone`` and ``work_zone`` as DDKN ids at the resolution of ``zones``.

    InputError when a zone column is absent, a cell id is missing or malformed, or a cell is coarser
    than asked for. Works on the distinct ids (tens of thousands), then one join per column.
    """
    from pendling import zones as Z

    missing = [c for c in ("home_zone", "work_zone") if c not in frame.columns]
    if missing:
        raise InputError(
            f"--zones {zones} needs the home and workplace grid cells of every person-year",
            column=", ".join(missing), values=frame.columns,
            hint="name the cell columns in the column map (home_zone, work_zone), or use --zones municipality",
        )
    want = Z.GRID_RESOLUTIONS[zones]
    ids = pl.concat([frame["home_zone"], frame["work_zone"]]).cast(pl.Utf8).unique().sort(nulls_last=True)
    if ids.null_count():
        col = "home_zone" if frame["home_zone"].null_count() else "work_zone"
        raise InputError("person-years without a grid cell", column=col, values=[f"{frame[col].null_count()} rows"],
                         hint="load the extract with pendling.load_panel: it counts such rows as excluded_zone_malformed")
    cells = Z.parse_cells(ids)
    bad = cells.filter(pl.col("error").is_not_null())
    if bad.height:
        raise InputError("cell ids that are not DDKN cells in Denmark", column="home_zone, work_zone",
                         values=bad["zone"].head(10).to_list(), hint="load_panel counts these as zone buckets")
    coarse = cells.filter(pl.col("resolution_m") > want)
    if coarse.height:
        raise InputError(f"cells coarser than {zones} cannot be refined", column="home_zone, work_zone",
                         values=coarse["zone"].head(10).to_list(), hint="ask for the cells' own resolution or coarser")
    new = Z.cell_ids(cells["east_m"].to_numpy(), cells["north_m"].to_numpy(), want)
    lookup = pl.DataFrame({"zone": cells["zone"], "new": new})
    if (lookup["zone"] == lookup["new"]).all():
        return frame
    out = frame
    for c in ("home_zone", "work_zone"):
        out = out.with_columns(pl.col(c).cast(pl.Utf8).replace_strict(lookup["zone"], lookup["new"]).alias(c))
    return out


def route_pairs(frame: pl.DataFrame, zones: str, *, graph: Any = None, cache: bool = True) -> pl.DataFrame:
    """Distinct (home_zone, work_zone) pairs of ``frame`` routed: origin, destination, minutes, status
    (minutes null where the pair cannot be routed; those person-years are counted as unroutable)."""
    from pendling.routing.pairs import pair_times

    pairs = frame.select(pl.col("home_zone").alias("origin"), pl.col("work_zone").alias("destination")).unique()
    pairs = pairs.sort("origin", "destination")
    out = pair_times(pairs, zones, graph=graph, cache=cache, on_invalid="null")
    return out.select("origin", "destination", "minutes", "status")


def check_zone_times(zone_times: pl.DataFrame) -> pl.DataFrame:
    """A caller's zone-pair table: origin, destination (text ids), minutes; pairs unique."""
    missing = [c for c in ("origin", "destination", "minutes") if c not in zone_times.columns]
    if missing:
        raise InputError("the zone-time table lacks columns", column=", ".join(missing), values=zone_times.columns,
                         hint="give origin, destination (cell ids) and minutes, as pendling.pair_times returns")
    zt = zone_times.select(pl.col("origin").cast(pl.Utf8), pl.col("destination").cast(pl.Utf8),
                           pl.col("minutes").cast(pl.Float64))
    if zt.select(pl.struct("origin", "destination").is_duplicated().any()).item():
        raise InputError("the zone-time table repeats origin-destination pairs", column="origin, destination")
    return zt

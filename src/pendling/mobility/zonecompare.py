"""Municipality vs grid, side by side, on the same panel (issue 18 point 4).

:func:`compare_zones` runs the engine twice — commute times between municipalities (the shipped
98 × 98 matrix) and between the panel's DDKN cells — and reports

* ``movers``: per flow and year, the usable person-years at each resolution, how many had r = 0 at
  municipality level (a move or job change inside the same municipality pair: the matrix cannot see
  it), and how many of those have r ≠ 0 at grid level;
* ``cells``: every headline cell with ``mean_rel_change``, ``ratio_of_means``, the median and n at
  both resolutions and the differences grid − municipality.

Disclosure control is applied to both runs as in :func:`pendling.mobility.run`; the r = 0 counts
are person-years and go through :func:`pendling.mobility.disclosure.disclose_table` when
``disclosure`` is on, and a cell whose two n differ by 1 … min_n − 1 loses its grid columns (the
difference would be a small count).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from pendling.mobility import disclosure as _disc

KEYS = ("year", "flow", "job_group", "region")
STATS = ("n", "mean_rel_change", "ratio_of_means", "median_rel_change", "geo_mean_rel_change")


@dataclass
class ZoneComparison:
    movers: pl.DataFrame
    cells: pl.DataFrame
    zones: str


def compare_zones(panel: Any, zones: str = "grid1km", *, matrix: Any = None, years: Any = None,
                  zone_times: pl.DataFrame | None = None, graph: Any = None, min_n: int = _disc.DEFAULT_MIN_N,
                  disclosure: bool = True, municipalities: pl.DataFrame | None = None,
                  mover_definition: str = "address") -> ZoneComparison:
    """Run ``panel`` at municipality level and at ``zones`` (see module docstring)."""
    from pendling.mobility.api import _prepare, _zone_times, run, transitions

    if isinstance(panel, (str, bytes)) or hasattr(panel, "__fspath__"):
        from pendling.panel import load_panel

        panel = load_panel(panel, zones=zones)
    frame = panel.frame if hasattr(panel, "frame") else panel
    if zone_times is None:  # route once, use for both the transitions and the statistics
        f, *_ = _prepare(frame, matrix, years, municipalities, zones)
        _, zone_times = _zone_times(f, zones, None, graph)
    kw = dict(mover_definition=mover_definition, municipalities=municipalities)
    muni = run(panel, matrix, years, min_n=min_n, disclosure=disclosure, **kw)
    grid = run(panel, matrix, years, min_n=min_n, disclosure=disclosure, zones=zones, zone_times=zone_times, **kw)
    tm = transitions(frame, matrix, years, **kw)
    tg = transitions(frame, matrix, years, zones=zones, zone_times=zone_times, **kw)
    both = tm.filter(pl.col("flow").is_not_null()).select("pnr", "year", "flow", pl.col("rel_change").alias("r_muni")).join(
        tg.select("pnr", "year", pl.col("flow").alias("flow_grid"), pl.col("rel_change").alias("r_grid")),
        on=["pnr", "year"], how="left")
    movers = both.group_by("year", "flow").agg(
        pl.len().alias("n_municipality"),
        (pl.col("r_muni") == 0).sum().alias("r_zero_municipality"),
        ((pl.col("r_muni") == 0) & (pl.col("r_grid") != 0) & (pl.col("flow_grid") == pl.col("flow"))).sum()
        .alias("r_zero_municipality_nonzero_grid"),
    ).join(
        tg.filter(pl.col("flow").is_not_null()).group_by("year", "flow").agg(pl.len().alias("n_grid")),
        on=["year", "flow"], how="full", coalesce=True,
    ).with_columns(pl.col(pl.UInt32).cast(pl.Int64).fill_null(0)).sort("year", "flow")
    movers = movers.select("year", "flow", "n_municipality", "n_grid", "r_zero_municipality",
                           "r_zero_municipality_nonzero_grid")
    if disclosure:
        movers = _disc.disclose_table(movers, min_n)
    a = muni.results.select(*KEYS, *STATS)
    b = grid.results.select(*KEYS, *STATS)
    cells = a.join(b, on=list(KEYS), how="full", coalesce=True, suffix="_grid").rename(
        {s: f"{s}_municipality" for s in STATS})
    cells = cells.with_columns(
        (pl.col(f"{s}_grid") - pl.col(f"{s}_municipality")).alias(f"{s}_diff")
        for s in ("mean_rel_change", "ratio_of_means", "median_rel_change")
    )
    if disclosure:
        # two published n for the same cell differ by the persons classified differently: a difference
        # 0 < |d| < min_n would publish a small count, so such cells lose their grid columns
        d = (pl.col("n_grid") - pl.col("n_municipality")).abs()
        small = (d > 0) & (d < min_n)
        grid_cols = [c for c in cells.columns if c.endswith("_grid") or c.endswith("_diff")]
        cells = cells.with_columns(pl.when(small.fill_null(False)).then(None).otherwise(pl.col(c)).alias(c)
                                   for c in grid_cols)
    return ZoneComparison(movers=movers, cells=cells, zones=zones)

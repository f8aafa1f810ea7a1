"""Grid cells for synthetic extracts (``pendling synth --zones grid1km``).

The generator chooses homes and workplaces between municipalities (gravity on the 98 × 98 matrix),
then each dwelling (ADRESSE_ID) and each workplace (LBNR) is placed in a 1 km DDKN cell of *its*
municipality. Placement is a pure function of the id and the municipality (a hash mapped onto the
municipality's cumulative cell weights), so it needs no state across years: the same dwelling keeps
its cell, a move — also inside a municipality, which gets a new ADRESSE_ID — lands in a newly drawn
cell, and a workplace that relocates to another municipality gets a cell there.

Weights (:func:`cell_weights`): within each municipality, a blend of two shares —
``SURFACE_SHARE`` (0.9) of the modelled residents / jobs of the shipped 1 km surface
(``data/surface/grid_1km.parquet``, :mod:`pendling.surface`, its municipality = the one holding most of
the cell's built-up land) and 0.1 of road metres of the stored road graph in cells whose routing point
lies in the municipality (residential and local classes for homes, all roads but ferries for
workplaces). The road share puts the farms and scattered houses the surface leaves empty (about a tenth
of the population, data/surface/README.md) somewhere plausible; without the surface file the road
weights are used alone.

Cell columns follow the default column map: ``BOP_DDKN`` (home), ``ARB_DDKN`` (workplace).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import polars as pl

from pendling.errors import InputError

SURFACE_SHARE = 0.9
HOME_CLASSES = ("residential", "living_street", "minor", "unclassified", "service", "road")
HOME_COLUMN, WORK_COLUMN = "BOP_DDKN", "ARB_DDKN"
SYNTH_ZONES = ("grid1km",)
_ALIAS = {411: 400}  # Christiansø is written for some Bornholm rows: place it on Bornholm


@lru_cache(maxsize=2)
def cell_weights(zones: str = "grid1km") -> pl.DataFrame:
    """``municipality`` Int16, ``zone`` Utf8, ``w_home``, ``w_work`` (road metres) per routable cell,
    sorted by municipality and zone. The weighting behind synthetic cell placement."""
    from pendling import paths
    from pendling import zones as Z
    from pendling.routing import load_graph

    if zones not in SYNTH_ZONES:
        raise InputError("synthetic extracts place cells at 1 km only", values=[zones], hint="use --zones grid1km")
    g = load_graph(paths.roads_dir())
    e = g.edges.filter(pl.col("ferry").is_null())
    x, y = Z._xy(g.nodes["lon"].to_numpy(), g.nodes["lat"].to_numpy())
    u = e["u"].to_numpy()
    cell = Z.cell_ids(x[u], y[u], Z.GRID_RESOLUTIONS[zones])
    roads = pl.DataFrame({"zone": cell, "m": e["length_m"].cast(pl.Float64),
                          "home": e["highway"].is_in(list(HOME_CLASSES))})
    w = roads.group_by("zone").agg(pl.col("m").sum().alias("w_work"),
                                   pl.col("m").filter(pl.col("home")).sum().alias("w_home"))
    zt = Z.zone_table(w["zone"], zones).filter(pl.col("status").is_in(list(Z.ROUTABLE)))
    roads = w.join(zt.select("zone", "municipality"), on="zone").select("municipality", "zone", "w_home", "w_work")
    surface_file = paths.data_dir() / "surface" / "grid_1km.parquet"
    share = SURFACE_SHARE if surface_file.is_file() else 0.0
    parts = [_within(roads, 1.0 - share)]
    if share:
        surf = pl.read_parquet(surface_file).select(
            pl.col("code").cast(pl.Int16).alias("municipality"), pl.col("cell").alias("zone"),
            pl.col("persons").cast(pl.Float64).alias("w_home"), pl.col("jobs").cast(pl.Float64).alias("w_work"))
        parts.append(_within(surf, share))
    from pendling.panel.zonecheck import cell_states

    w = pl.concat(parts).group_by("municipality", "zone").agg(pl.col("w_home", "w_work").sum())
    # only cells the panel accepts for their municipality (two surface cells today are not: their
    # built-up land lies in the municipality, their square > 500 m from its generalised boundary)
    ok = cell_states(w["zone"], w["municipality"]).is_in(["ok", "near_border"])
    return w.filter(ok).sort("municipality", "zone")


def _within(w: pl.DataFrame, share: float) -> pl.DataFrame:
    """Weights as shares of their municipality's total, times ``share``."""
    return w.with_columns(
        (pl.col(c) / pl.col(c).sum().over("municipality") * share).fill_nan(0.0).alias(c) for c in ("w_home", "w_work"))


def place_positions(keys: pl.Series, munis: pl.Series, weight: str, zones: str = "grid1km",
                    seed: int = 0) -> np.ndarray:
    """Row positions in :func:`cell_weights` of the cell of each (id, municipality); -1 where the
    municipality has no weighted cell. The probability of cell c of municipality m is its ``weight``
    share in m (a hash of id and municipality, read as a uniform number, picks it): the cell-level
    truth (:mod:`pendling.synth.gridtruth`) takes expectations over exactly these shares."""
    full = cell_weights(zones)
    kept = np.flatnonzero(full[weight].to_numpy() > 0)
    w = full[kept]
    muni = w["municipality"].to_numpy().astype(np.int64)
    cum = w.select(pl.col(weight).cum_sum().over("municipality") / pl.col(weight).sum().over("municipality")
                   ).to_series().to_numpy()
    axis = muni * 2.0 + np.minimum(cum, 1.0)  # municipality m occupies (2m, 2m + 1]
    m = munis.cast(pl.Int64).replace(_ALIAS).fill_null(-1).to_numpy()
    h = pl.DataFrame({"k": keys, "m": m}).hash_rows(seed=1_000 + seed + (0 if weight == "w_home" else 1)).to_numpy()
    uu = (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    pos = np.minimum(np.searchsorted(axis, m * 2.0 + uu, side="left"), len(axis) - 1)
    return np.where(muni[pos] == m, kept[pos], -1)


def place(keys: pl.Series, munis: pl.Series, weight: str, zones: str = "grid1km", seed: int = 0) -> pl.Series:
    """The cell of each (id, municipality): null where the municipality has no weighted cell (codes
    such as 999 'unknown', which the panel excludes before it looks at cells)."""
    pos = place_positions(keys, munis, weight, zones, seed)
    got = cell_weights(zones)["zone"].gather(np.maximum(pos, 0))
    return pl.select(pl.when(pl.Series(pos >= 0)).then(got)).to_series()


def add_cells(frame: pl.DataFrame, zones: str = "grid1km", seed: int = 0) -> pl.DataFrame:
    """A synthetic year's extract with ``BOP_DDKN`` (cell of ADRESSE_ID in KOM) and ``ARB_DDKN`` (cell of
    LBNR in ARBKOM)."""
    return frame.with_columns(
        place(frame["ADRESSE_ID"], frame["KOM"], "w_home", zones, seed).alias(HOME_COLUMN),
        place(frame["LBNR"], frame["ARBKOM"], "w_work", zones, seed).alias(WORK_COLUMN),
    )

"""Population and jobs surface on the Danish national 1 km grid (DDKN, EPSG:25832), derived from the
OpenMapTiles vector tiles, for placing synthetic persons below the municipality.

Method (all vectorised, deterministic):

1. :func:`pendling.routing.landcover.read_landcover` gives ≈ 85 m cells with the share of landuse
   residential / commercial+retail / industrial / institutional, the footprint of the large buildings
   kept at zoom 13, and the tiles' place points.
2. Each fine cell goes to the 1 km DDKN cell holding its centre (ETRS89 / UTM 32N, cell id
   ``1km_<northing km>_<easting km>`` of the lower-left corner) and to the municipality whose
   boundary holds its centre (the nearest one for the few coastal cells whose centre lies in the sea).
   Per 1 km cell this gives the *features* (m² of land or floor, counts of places), see
   :data:`FEATURES`; a cell's municipality is the one holding most of its feature area.
3. Two non-negative linear models turn features into persons and jobs: the coefficients are fitted by
   non-negative least squares on *relative* errors (each municipality weighted by 1 / its total) so that
   the municipality sums match the published municipality totals (FOLK1A population, AFSTA3 employed
   persons by workplace; ``data/reference/synth/municipality_targets.csv``). The fit (correlation,
   median absolute % error, in sample and leave-one-out) is returned.

The weights are model estimates, not counts: placing persons should scale them to the register totals
within each municipality.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pendling._extras import optional
from pendling.errors import InputError

GRID_M = 1000
# Features per 1 km cell (m² of landuse area, m² of large-building footprint, number of places).
FEATURES = (
    "res_m2",  # residential landuse
    "com_m2",  # commercial + retail landuse
    "ind_m2",  # industrial landuse
    "inst_m2",  # schools, hospitals, universities … landuse
    "bld_res_m2",  # large buildings in mostly residential cells (blocks of flats)
    "bld_other_m2",  # other large buildings (offices, shops, halls, factories)
    "res_dense_m2",  # res_m2 × the cell's built-up share (res+com+ind+inst of 1 km²): flats over houses
    "work_m2",  # com_m2 + ind_m2 + inst_m2
    "work_dense_m2",  # work_m2 × the cell's built-up share: city centres
    "land_km2",  # 1 when the cell centre lies on land (in a municipality): farms and scattered houses
    "villages",  # place=village points
    "hamlets",  # place=hamlet and isolated_dwelling points
)
# Both models may use every feature; non-negative least squares sets the unhelpful ones to 0.
RESIDENTIAL_MODEL = FEATURES
WORKPLACE_MODEL = FEATURES


def cell_id(north_km: pl.Expr, east_km: pl.Expr) -> pl.Expr:
    """``1km_<northing km>_<easting km>`` of the lower-left corner."""
    return pl.format("1km_{}_{}", north_km, east_km)


def _to_utm(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    Transformer = optional("pyproj", "routing", "the population surface").Transformer

    tr = Transformer.from_crs("EPSG:4326", "EPSG:25832", always_xy=True)
    return tr.transform(lon, lat)


def _municipality_of(lon: np.ndarray, lat: np.ndarray, nearest: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Municipality code (int16) of each WGS84 point by point in polygon on the shipped boundaries;
    points in no polygon get the nearest one (or -1 without ``nearest``). Returns (codes, outside)."""
    shapely = optional("shapely", "routing", "the population surface")

    from pendling import geo

    b = geo.boundaries()
    tree = shapely.STRtree(b.geometry.values)
    pts = shapely.points(lon, lat)
    ip, ipoly = tree.query(pts, predicate="within")
    code = np.full(len(pts), -1, dtype=np.int64)
    codes = b["code"].to_numpy().astype(np.int64)
    code[ip] = codes[ipoly]
    miss = np.flatnonzero(code < 0)
    was_nearest = np.zeros(len(pts), dtype=bool)
    was_nearest[miss] = True
    if len(miss) and nearest:
        # nearest in degrees is fine for a fallback of a few hundred metres
        _, near = tree.query_nearest(pts[miss], return_distance=False, all_matches=False)
        code[miss] = codes[near]
    return code.astype(np.int16), was_nearest


def grid_features(cells: pl.DataFrame, places: pl.DataFrame) -> tuple[pl.DataFrame, dict]:
    """Features per 1 km cell (see :data:`FEATURES`) with ``north_km``, ``east_km``, ``cell``,
    ``code`` (Int16 municipality); and counts for provenance."""
    from pendling.routing.landcover import CELL_PX, SUB, metres_per_pixel
    from pendling.routing.tiles import pixel_to_lonlat

    if cells.height == 0:
        raise InputError("no landcover cells: the tiles carry no landuse or building layer", hint="use OpenMapTiles-schema tiles at zoom 13")
    cx = cells["cx"].to_numpy().astype(np.int64)
    cy = cells["cy"].to_numpy().astype(np.int64)
    gx = cx * CELL_PX + CELL_PX // 2
    gy = cy * CELL_PX + CELL_PX // 2
    lon, lat = pixel_to_lonlat(gx, gy)
    x, y = _to_utm(lon, lat)
    code, nearest = _municipality_of(lon, lat)
    area = (CELL_PX * metres_per_pixel(gy)) ** 2
    n = SUB * SUB
    res = cells["res"].to_numpy() / n
    fine = pl.DataFrame(
        {
            "north_km": np.floor(y / GRID_M).astype(np.int32),
            "east_km": np.floor(x / GRID_M).astype(np.int32),
            "code": code,
            "res_m2": res * area,
            "com_m2": cells["com"].to_numpy() / n * area,
            "ind_m2": cells["ind"].to_numpy() / n * area,
            "inst_m2": cells["inst"].to_numpy() / n * area,
            "bld_res_m2": np.where(res >= 0.5, cells["bld_m2"].to_numpy(), 0.0),
            "bld_other_m2": np.where(res >= 0.5, 0.0, cells["bld_m2"].to_numpy()),
        }
    )
    land = _land_cells((float(x.min()) - GRID_M, float(y.min()) - GRID_M, float(x.max()) + GRID_M, float(y.max()) + GRID_M))
    plon, plat = pixel_to_lonlat(places["gx"].to_numpy(), places["gy"].to_numpy())
    px, py = _to_utm(plon, plat)
    pcode, _ = _municipality_of(plon, plat)
    pl_df = pl.DataFrame(
        {
            "north_km": np.floor(py / GRID_M).astype(np.int32),
            "east_km": np.floor(px / GRID_M).astype(np.int32),
            "code": pcode,
            "villages": (places["place"] == "village").cast(pl.Float64),
            "hamlets": places["place"].is_in(["hamlet", "isolated_dwelling"]).cast(pl.Float64),
        }
    )
    keys = ["north_km", "east_km", "code"]
    per_code = (
        pl.concat([fine, pl_df, land], how="diagonal_relaxed")
        .with_columns(pl.col(RAW).fill_null(0.0))
        .group_by(keys)
        .agg(pl.col(RAW).sum())
    )
    # the cell's municipality: the one holding most of its built land (then land area, then code)
    built = pl.col("res_m2") + pl.col("com_m2") + pl.col("ind_m2") + pl.col("inst_m2")
    owner = (
        per_code.with_columns(built.alias("_built"))
        .sort(["north_km", "east_km", "_built", "land_km2", "code"], descending=[False, False, True, True, False])
        .unique(["north_km", "east_km"], keep="first", maintain_order=True)
        .select("north_km", "east_km", "code")
    )
    built_share = ((pl.col("res_m2") + pl.col("work_m2")) / (GRID_M * GRID_M)).clip(0.0, 1.0)
    grid = (
        per_code.group_by("north_km", "east_km")
        .agg(pl.col(RAW).sum())
        .with_columns(work_m2=pl.col("com_m2") + pl.col("ind_m2") + pl.col("inst_m2"))
        .with_columns(res_dense_m2=pl.col("res_m2") * built_share, work_dense_m2=pl.col("work_m2") * built_share)
        .join(owner, on=["north_km", "east_km"])
        .with_columns(cell_id(pl.col("north_km"), pl.col("east_km")).alias("cell"))
        .select("cell", "north_km", "east_km", "code", *FEATURES)
        .sort("north_km", "east_km")
    )
    info = {
        "fine_cells": cells.height,
        "fine_cells_assigned_to_nearest_municipality": int(nearest.sum()),
        "places": places.height,
        "cells_1km": grid.height,
        "cells_1km_split_between_municipalities": int(per_code.group_by("north_km", "east_km").len().filter(pl.col("len") > 1).height),
    }
    return grid, info


RAW = ["res_m2", "com_m2", "ind_m2", "inst_m2", "bld_res_m2", "bld_other_m2", "land_km2", "villages", "hamlets"]


def _land_cells(bounds: tuple[float, float, float, float]) -> pl.DataFrame:
    """Every 1 km cell within ``bounds`` (EPSG:25832 metres: minx, miny, maxx, maxy) whose centre lies
    in a municipality: ``north_km``, ``east_km``, ``code``, ``land_km2`` = 1."""
    Transformer = optional("pyproj", "routing", "the population surface").Transformer

    minx, miny, maxx, maxy = bounds
    e = np.arange(int(minx // GRID_M), int(maxx // GRID_M) + 1)
    n = np.arange(int(miny // GRID_M), int(maxy // GRID_M) + 1)
    ee, nn = np.meshgrid(e, n)
    ee, nn = ee.ravel(), nn.ravel()
    tr = Transformer.from_crs("EPSG:25832", "EPSG:4326", always_xy=True)
    lon, lat = tr.transform((ee + 0.5) * GRID_M, (nn + 0.5) * GRID_M)
    code, outside = _municipality_of(np.asarray(lon), np.asarray(lat), nearest=False)
    on = ~outside
    return pl.DataFrame({"north_km": nn[on].astype(np.int32), "east_km": ee[on].astype(np.int32), "code": code[on], "land_km2": np.ones(int(on.sum()))})


def _nnls_fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """min Σ ((x·c − y) / y)² over c ≥ 0 (columns scaled to [0, 1] for conditioning)."""
    from scipy.optimize import nnls

    scale = x.max(axis=0)
    scale[scale == 0] = 1.0
    w = 1.0 / y
    coef, _ = nnls(x / scale * w[:, None], y * w)
    return coef / scale


def fit_stats(pred: np.ndarray, obs: np.ndarray) -> dict:
    """Pearson r and median / p90 absolute % error of predicted municipality totals."""
    err = np.abs(pred - obs) / obs
    return {
        "pearson_r": round(float(np.corrcoef(pred, obs)[0, 1]), 4),
        "median_abs_pct_error": round(float(np.median(err) * 100), 1),
        "p90_abs_pct_error": round(float(np.quantile(err, 0.9) * 100), 1),
        "max_abs_pct_error": round(float(err.max() * 100), 1),
    }


def fit_model(grid: pl.DataFrame, targets: pl.Series, codes: pl.Series, features: tuple[str, ...]) -> tuple[dict[str, float], dict]:
    """Non-negative coefficients (per feature unit) so that municipality sums of the grid match
    ``targets`` (aligned with ``codes``); returns them and the fit in sample and leave-one-out."""
    sums = grid.group_by("code").agg(pl.col(list(features)).sum())
    order = pl.DataFrame({"code": codes.cast(pl.Int16), "target": targets.cast(pl.Float64)}).join(sums, on="code", how="left").fill_null(0.0)
    missing = order.filter(pl.all_horizontal([pl.col(f) == 0 for f in features]))["code"].to_list()
    if missing:
        raise InputError("municipalities without any surface features", column="code", values=missing)
    x = order.select(features).to_numpy()
    y = order["target"].to_numpy()
    if not (y > 0).all():
        raise InputError("surface targets must be > 0 for every municipality", column="target", values=order.filter(pl.col("target") <= 0)["code"].to_list())
    coef = _nnls_fit(x, y)
    pred = x @ coef
    loo = np.empty(len(y))
    for i in range(len(y)):  # 98 tiny fits: leave one municipality out, predict it
        keep = np.arange(len(y)) != i
        loo[i] = x[i] @ _nnls_fit(x[keep], y[keep])
    return dict(zip(features, (float(c) for c in coef), strict=True)), {
        "in_sample": fit_stats(pred, y),
        "leave_one_out": fit_stats(loo, y),
        "municipalities": len(y),
    }


def build_surface(cells: pl.DataFrame, places: pl.DataFrame, targets: pl.DataFrame) -> tuple[pl.DataFrame, dict]:
    """The 1 km surface: ``cell`` (``1km_N_E``), ``north_km``, ``east_km`` Int32, ``code`` Int16,
    ``persons``, ``jobs`` Float32 (model estimates), and the features (Float32), only cells with
    persons or jobs > 0; and provenance (counts, coefficients, fit).

    ``targets``: ``code``, ``population``, ``jobs`` per municipality (the 98).
    """
    need = {"code", "population", "jobs"}
    if not need <= set(targets.columns):
        raise InputError("surface targets lack columns", column=", ".join(sorted(need - set(targets.columns))))
    grid, info = grid_features(cells, places)
    res_coef, res_fit = fit_model(grid, targets["population"], targets["code"], RESIDENTIAL_MODEL)
    job_coef, job_fit = fit_model(grid, targets["jobs"], targets["code"], WORKPLACE_MODEL)

    def lin(coef: dict[str, float]) -> pl.Expr:
        return pl.sum_horizontal([pl.col(f) * c for f, c in coef.items()])

    out = (
        grid.with_columns(lin(res_coef).alias("persons"), lin(job_coef).alias("jobs"))
        .filter((pl.col("persons") > 0) | (pl.col("jobs") > 0))
        .select(
            "cell", "north_km", "east_km", pl.col("code").cast(pl.Int16),
            pl.col("persons").cast(pl.Float32), pl.col("jobs").cast(pl.Float32), *[pl.col(f).cast(pl.Float32) for f in FEATURES],
        )  # fmt: skip
        .sort("north_km", "east_km")
    )
    info |= {
        "cells_written": out.height,
        "residential": {"coefficients": res_coef, "fit": res_fit, "target": "FOLK1A population 1 Jan 2022"},
        "workplace": {"coefficients": job_coef, "fit": job_fit, "target": "AFSTA3 employed by workplace, Nov 2022"},
    }
    return out, info


def load_targets(path=None) -> pl.DataFrame:
    """Municipality totals to fit to: ``code`` Int16, ``population`` (FOLK1A, 1 Jan 2022), ``jobs``
    (AFSTA3 employed by workplace, Nov 2022), ``employed`` (AFSTB3 by residence, Nov 2022), from
    ``data/reference/synth/municipality_targets.csv`` by default."""
    from pathlib import Path

    from pendling import paths

    p = Path(path) if path is not None else paths.reference_dir() / "synth" / "municipality_targets.csv"
    if not p.is_file():
        raise InputError("municipality targets not found", file=p)
    raw = pl.read_csv(p)
    need = {"code", "population_2022q1", "employed_workplace_2022", "employed_residence_2022"}
    if not need <= set(raw.columns):
        raise InputError("municipality targets lack columns", file=p, column=", ".join(sorted(need - set(raw.columns))))
    return raw.select(
        pl.col("code").cast(pl.Int16),
        pl.col("population_2022q1").cast(pl.Float64).alias("population"),
        pl.col("employed_workplace_2022").cast(pl.Float64).alias("jobs"),
        pl.col("employed_residence_2022").cast(pl.Float64).alias("employed"),
    ).sort("code")


def employed_fit(grid: pl.DataFrame, targets: pl.DataFrame) -> dict:
    """How well the residential weights, scaled nationally, match employed persons by residence
    (AFSTB3): an out-of-sample check, since ``persons`` were fitted to population only."""
    sums = targets.join(grid.group_by("code").agg(pl.col("persons").sum()), on="code", how="left").fill_null(0.0)
    pred = sums["persons"].to_numpy() * (sums["employed"].sum() / sums["persons"].sum())
    return fit_stats(pred, sums["employed"].to_numpy())

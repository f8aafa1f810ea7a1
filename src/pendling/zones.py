"""Zone systems: where trips start and end, below or at the municipality.

A *zone system* names a set of zones that each have one routing point (EPSG:25832 metres) and a
municipality:

- ``municipality`` (default): the 98 municipalities, ids = 3-digit codes (Int16), routing point =
  the shipped inside point (``pendling.geo``), exactly as the shipped 98×98 matrix.
- ``grid100m`` / ``grid1km`` / ``grid10km``: cells of the Danish national square grid (Det Danske
  Kvadratnet, DDKN, EPSG:25832). An id such as ``1km_6170_720`` encodes the cell's lower-left corner
  as northing then easting in units of the cell size (6,170,000 m N, 720,000 m E), so ids are parsed
  and validated with string operations, without a lookup table. Digits per resolution are fixed as
  DDKN writes them: ``100m_NNNNN_EEEE``, ``1km_NNNN_EEE``, ``10km_NNN_EE``. Routing point = the cell
  centre.
- ``points``: a user table of zone ids with coordinates (``x``/``y`` in EPSG:25832 metres or
  ``lon``/``lat`` WGS84 degrees, optionally ``area_km2``).

Every zone is placed on land and in its municipality by point in polygon on the shipped DAGI
boundaries (1:500 000, so coastlines are generalised by up to a few hundred metres). A grid cell whose
centre lies in the sea but which holds land is routed from the nearest land point inside the cell
(status ``moved_to_land``); a cell or point with no land is ``not_on_land`` and is never snapped
across water. Snapping (:func:`snap_zones`) then ties each routing point to the nearest road-graph
node with a straight *access leg* timed at the car profile's access speed; a snap longer than
``max_snap_m`` is ``far_from_road``, and a long access leg (> ``WATER_CHECK_M``) that leaves the land
is ``snap_crosses_water``. Zones with another status than ``ok`` / ``moved_to_land`` get no travel
times: they are reported and counted, never silently routed.

Units: metres (EPSG:25832) for x, y, snap distances; km² for ``area_km2``; minutes for access legs.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl

from pendling._extras import optional
from pendling.errors import InputError

if TYPE_CHECKING:
    from pendling.routing.graph import RoadGraph
    from pendling.routing.profile import CarProfile

ZoneSystem = Literal["municipality", "grid100m", "grid1km", "grid10km", "points"]
ZONE_SYSTEMS: tuple[str, ...] = ("municipality", "grid100m", "grid1km", "grid10km", "points")
GRID_RESOLUTIONS: dict[str, int] = {"grid100m": 100, "grid1km": 1000, "grid10km": 10_000}
GRID_PREFIX: dict[int, str] = {100: "100m", 1000: "1km", 10_000: "10km"}
# digits of (northing, easting) in DDKN ids, per resolution in metres
GRID_DIGITS: dict[int, tuple[int, int]] = {100: (5, 4), 1000: (4, 3), 10_000: (3, 2)}
# Denmark in EPSG:25832 (m): the bounds of the 98 municipalities (E 441,676–892,787; N 6,049,782–
# 6,402,217) widened to whole 10 km; a cell whose lower-left corner lies outside is 'outside_denmark'.
DK_EAST_M = (430_000, 900_000)
DK_NORTH_M = (6_040_000, 6_410_000)
MAX_SNAP_M = 2_500.0  # a routing point farther from every road node than this is 'far_from_road'
WATER_CHECK_M = 200.0  # access legs longer than this must stay on land (± LAND_TOLERANCE_M)
LAND_TOLERANCE_M = 150.0  # slack for the 1:500 000 coastline when checking access legs
DEFAULT_POINT_AREA_KM2 = 0.01  # points without area_km2: the area of a 100 m cell (within-zone time)
ROUTABLE = ("ok", "moved_to_land")
STATUSES = ("ok", "moved_to_land", "invalid_id", "outside_denmark", "not_on_land", "far_from_road", "snap_crosses_water")

ZONE_COLUMNS = ("zone", "x", "y", "lon", "lat", "area_km2", "municipality", "status")


def check_system(zones: str) -> str:
    """The zone system name, or InputError listing the valid ones."""
    if zones not in ZONE_SYSTEMS:
        raise InputError("unknown zone system", values=[zones], hint=f"use one of {', '.join(ZONE_SYSTEMS)}")
    return zones


def parse_cells(ids: pl.Series | list[str], zones: str | None = None) -> pl.DataFrame:
    """Parse DDKN cell ids: one row per id (order kept) with ``zone`` (Utf8, as given),
    ``resolution_m`` Int32 (100, 1000, 10000), ``north_m``, ``east_m`` Int64 (lower-left corner,
    EPSG:25832 metres) and ``error`` Utf8 (null when valid; else why: 'not a DDKN cell id',
    'resolution 100m, expected 1km', 'outside Denmark').

    ``zones`` = 'grid100m' | 'grid1km' | 'grid10km' requires that resolution; None accepts any.
    Vectorised (Polars string expressions); never raises for bad ids, reports them.
    """
    s = pl.Series("zone", ids, dtype=pl.Utf8) if not isinstance(ids, pl.Series) else ids.cast(pl.Utf8).rename("zone")
    want = GRID_RESOLUTIONS.get(zones) if zones is not None else None
    if zones is not None and want is None:
        raise InputError("not a grid zone system", values=[zones], hint="use grid100m, grid1km or grid10km")
    pattern = "|".join(f"^({GRID_PREFIX[r]})_(\\d{{{n}}})_(\\d{{{e}}})$" for r, (n, e) in GRID_DIGITS.items())
    df = pl.DataFrame(s).with_columns(pl.col("zone").str.strip_chars().alias("_id"))
    parts = df["_id"].str.extract_groups(pattern)
    # alternation numbers its groups 1..9; exactly one triple is filled
    fields = parts.struct.fields
    g = [parts.struct.field(f) for f in fields]
    prefix = pl.select(pl.coalesce(g[0], g[3], g[6])).to_series()
    north = pl.select(pl.coalesce(g[1], g[4], g[7])).to_series().cast(pl.Int64)
    east = pl.select(pl.coalesce(g[2], g[5], g[8])).to_series().cast(pl.Int64)
    res = prefix.replace_strict({v: k for k, v in GRID_PREFIX.items()}, default=None, return_dtype=pl.Int32)
    out = pl.DataFrame({"zone": s, "resolution_m": res, "north_m": north * res, "east_m": east * res})
    inside = pl.col("east_m").is_between(DK_EAST_M[0], DK_EAST_M[1], closed="left") & pl.col("north_m").is_between(
        DK_NORTH_M[0], DK_NORTH_M[1], closed="left"
    )
    err = (
        pl.when(pl.col("resolution_m").is_null())
        .then(pl.lit("not a DDKN cell id (e.g. 1km_6170_720)"))
        .when(pl.lit(want is not None) & (pl.col("resolution_m") != (want or 0)))
        .then(pl.lit("resolution ") + pl.col("zone").str.split("_").list.first() + pl.lit(f", expected {GRID_PREFIX.get(want or 0, '')}"))
        .when(~inside)
        .then(pl.lit("outside Denmark"))
        .otherwise(None)
    )
    return out.with_columns(err.alias("error"))


def cell_ids(x: np.ndarray, y: np.ndarray, resolution_m: int = 1000) -> pl.Series:
    """DDKN id of the cell holding each point (EPSG:25832 metres), e.g. ``1km_6170_720``."""
    if resolution_m not in GRID_PREFIX:
        raise InputError("grid resolution must be 100, 1000 or 10000 m", values=[resolution_m])
    n_digits, e_digits = GRID_DIGITS[resolution_m]
    n = np.floor(np.asarray(y, dtype=np.float64) / resolution_m).astype(np.int64)
    e = np.floor(np.asarray(x, dtype=np.float64) / resolution_m).astype(np.int64)
    return pl.select(
        pl.concat_str(
            pl.lit(GRID_PREFIX[resolution_m] + "_"),
            pl.Series(n).cast(pl.Utf8).str.zfill(n_digits),
            pl.lit("_"),
            pl.Series(e).cast(pl.Utf8).str.zfill(e_digits),
        ).alias("zone")
    ).to_series()


# Integer cell codes (what a panel holds instead of the text ids): resolution, northing and easting of
# the lower-left corner in metres as decimal digit fields, code = R·10^13 + N·10^6 + E, so
# 1km_6170_720 ↔ 1000_6170000_720000 read as one number (10006170000720000). DDKN ids have at most
# 5 northing digits in 100 m units (N < 10^7 m) and 4 easting digits (E < 10^6 m): every id has a code
# and every code one id. Equal cells have equal codes; coarsening is integer arithmetic.
CODE_RES = 10**13
CODE_NORTH = 10**6


def cell_codes(ids: pl.Series | list[str]) -> pl.Series:
    """Int64 code of each DDKN id (see :data:`CODE_RES`); null for a missing id or one that is not a
    DDKN cell id (syntax only: a well-formed id outside Denmark keeps its code, :func:`code_cells`
    reports it). Parses each distinct id once."""
    s = pl.Series("zone", ids, dtype=pl.Utf8) if not isinstance(ids, pl.Series) else ids
    name = s.name
    if s.dtype.is_integer():
        return s.cast(pl.Int64).alias(name)
    s = s.cast(pl.Utf8)
    u = s.unique().drop_nulls()
    cells = parse_cells(u)
    lookup = cells.select(
        "zone",
        (pl.col("resolution_m").cast(pl.Int64) * CODE_RES + pl.col("north_m") * CODE_NORTH + pl.col("east_m"))
        .alias("code"),
    )
    return s.replace_strict(lookup["zone"], lookup["code"], default=None, return_dtype=pl.Int64).alias(name)


def code_cells(codes: pl.Series) -> pl.DataFrame:
    """Decode Int64 cell codes: one row per code (order kept) with the columns of :func:`parse_cells`:
    ``zone`` Utf8 (the DDKN id; null where the code is not a cell), ``resolution_m`` Int32, ``north_m``,
    ``east_m`` Int64 (lower-left, EPSG:25832 m), ``error`` ('not a cell code', 'outside Denmark', null)."""
    c = pl.col("code")
    res, north, east = c // CODE_RES, (c // CODE_NORTH) % (CODE_RES // CODE_NORTH), c % CODE_NORTH
    df = pl.DataFrame({"code": codes.cast(pl.Int64)}).with_columns(
        res.alias("r"), north.alias("north_m"), east.alias("east_m"))
    valid = (pl.col("r").is_in(list(GRID_PREFIX)) & (c >= 0) & (pl.col("north_m") % pl.col("r") == 0)
             & (pl.col("east_m") % pl.col("r") == 0)).fill_null(False)
    inside = pl.col("east_m").is_between(DK_EAST_M[0], DK_EAST_M[1], closed="left") & pl.col("north_m").is_between(
        DK_NORTH_M[0], DK_NORTH_M[1], closed="left")
    parts = []
    for r, (n, e) in GRID_DIGITS.items():
        parts.append(pl.when(pl.col("r") == r).then(pl.concat_str(
            pl.lit(GRID_PREFIX[r] + "_"), (pl.col("north_m") // r).cast(pl.Utf8).str.zfill(n), pl.lit("_"),
            (pl.col("east_m") // r).cast(pl.Utf8).str.zfill(e))))
    return df.select(
        pl.when(valid).then(pl.coalesce(parts)).alias("zone"),
        pl.when(valid).then(pl.col("r")).cast(pl.Int32).alias("resolution_m"),
        pl.when(valid).then(pl.col("north_m")).alias("north_m"),
        pl.when(valid).then(pl.col("east_m")).alias("east_m"),
        pl.when(c.is_null() | ~valid).then(pl.lit("not a cell code"))
        .when(~inside).then(pl.lit("outside Denmark")).alias("error"),
    )


def cell_text(codes: pl.Series) -> pl.Series:
    """The DDKN id (Utf8) of each Int64 cell code (null where missing or not a cell code); decodes
    each distinct code once. The way back from :func:`cell_codes`, for outputs and messages."""
    name = codes.name
    u = codes.cast(pl.Int64).unique().drop_nulls()
    t = code_cells(u)
    return codes.cast(pl.Int64).replace_strict(u, t["zone"], default=None, return_dtype=pl.Utf8).alias(name)


def coarsen_codes(codes: pl.Expr, resolution_m: int) -> pl.Expr:
    """Codes of the cells of ``resolution_m`` holding the cells of ``codes`` (which must be that
    resolution or finer): the corner rounded down to whole ``resolution_m``."""
    north = (codes // CODE_NORTH) % (CODE_RES // CODE_NORTH)
    east = codes % CODE_NORTH
    return (pl.lit(resolution_m * CODE_RES, dtype=pl.Int64) + north // resolution_m * resolution_m * CODE_NORTH
            + east // resolution_m * resolution_m)


def xy_codes(x: pl.Expr, y: pl.Expr, resolution_m: int) -> pl.Expr:
    """Code of the cell of ``resolution_m`` holding each point (EPSG:25832 metres, Float64).

    A point on a cell border belongs to the cell east / north of it (DDKN cells hold their lower-left
    corner: x = 720,000 is in easting cell 720 km). Missing or non-finite coordinates give null.
    Coordinates beyond what a code can hold (negative, E ≥ 1,000 km, N ≥ 10,000 km) are clamped to the
    nearest representable cell: those lie outside Denmark either way (:func:`code_cells` says so)."""
    if resolution_m not in GRID_PREFIX:
        raise InputError("grid resolution must be 100, 1000 or 10000 m", values=[resolution_m])
    ok = x.is_finite() & y.is_finite()
    top_e, top_n = CODE_NORTH - resolution_m, CODE_RES // CODE_NORTH - resolution_m
    e = ((x / resolution_m).floor().clip(0, top_e // resolution_m) * resolution_m).cast(pl.Int64)
    n = ((y / resolution_m).floor().clip(0, top_n // resolution_m) * resolution_m).cast(pl.Int64)
    return pl.when(ok).then(pl.lit(resolution_m * CODE_RES, dtype=pl.Int64) + n * CODE_NORTH + e)


@lru_cache(maxsize=1)
def _land() -> tuple[np.ndarray, np.ndarray, object]:
    """The shipped municipality polygons in EPSG:25832: (geometries, codes, STRtree)."""
    shapely = optional("shapely", "routing", "zones")

    from pendling import geo

    b = geo.boundaries().to_crs(geo.METRIC_CRS)
    geoms = np.asarray(b.geometry.values, dtype=object)
    shapely.prepare(geoms)
    return geoms, b["code"].to_numpy().astype(np.int16), shapely.STRtree(geoms)


@lru_cache(maxsize=1)
def _land_union():
    shapely = optional("shapely", "routing", "zones")

    geoms, _, _ = _land()
    u = shapely.buffer(shapely.union_all(geoms), LAND_TOLERANCE_M)
    shapely.prepare(u)
    return u


def municipality_at(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Municipality code (int16) of each point (EPSG:25832 m) by point in polygon on the shipped
    boundaries; -1 where the point is on no municipality (sea, abroad)."""
    shapely = optional("shapely", "routing", "zones")

    geoms, codes, tree = _land()
    pts = shapely.points(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    out = np.full(len(pts), -1, dtype=np.int16)
    i, j = tree.query(pts, predicate="intersects")
    out[i] = codes[j]  # polygons do not overlap; a point on a shared border takes either
    return out


def _to_land(x: np.ndarray, y: np.ndarray, half: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For points off land: the nearest land point if it lies within ``half`` metres in x and y (inside
    the cell), with its municipality; else NaN and -1."""
    shapely = optional("shapely", "routing", "zones")

    geoms, codes, tree = _land()
    pts = shapely.points(x, y)
    i, j = tree.query_nearest(pts, max_distance=float(np.max(half)) * 1.5 if len(half) else 0.0, all_matches=False)
    nx, ny, muni = np.full(len(x), np.nan), np.full(len(x), np.nan), np.full(len(x), -1, dtype=np.int16)
    if len(i):
        line = shapely.shortest_line(pts[i], geoms[j])
        end = shapely.get_coordinates(shapely.get_point(line, 1))
        ok = (np.abs(end[:, 0] - x[i]) <= half[i]) & (np.abs(end[:, 1] - y[i]) <= half[i])
        nx[i[ok]], ny[i[ok]], muni[i[ok]] = end[ok, 0], end[ok, 1], codes[j[ok]]
    return nx, ny, muni


def _lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    Transformer = optional("pyproj", "routing", "zones").Transformer

    tr = Transformer.from_crs("EPSG:25832", "EPSG:4326", always_xy=True)
    return tr.transform(x, y)


def _xy(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from pendling.routing.ferries import _project

    xy = _project(lon, lat)
    return xy[:, 0], xy[:, 1]


def zone_table(ids: pl.Series | list, zones: str = "municipality", *, points: pl.DataFrame | str | Path | None = None) -> pl.DataFrame:
    """One row per distinct id (sorted): ``zone`` (municipality: Int16 code; else Utf8 as given),
    ``x``, ``y`` (routing point, EPSG:25832 m), ``lon``, ``lat`` (WGS84), ``area_km2`` (km², for the
    within-zone time), ``municipality`` Int16 (null off land), ``status`` Utf8 (see module
    docstring; before snapping one of ok, moved_to_land, invalid_id, outside_denmark, not_on_land).

    ``points`` (for ``zones='points'``): a frame or CSV/Parquet file with ``zone`` and either
    ``x``, ``y`` (EPSG:25832 m) or ``lon``, ``lat`` (degrees), optionally ``area_km2``.
    """
    check_system(zones)
    s = ids if isinstance(ids, pl.Series) else pl.Series("zone", ids)
    if zones == "municipality":
        return _municipality_zones(s)
    if zones == "points":
        if points is None:
            raise InputError("zone system 'points' needs a points table", hint="pass points= (frame or CSV/Parquet with zone, x, y or lon, lat)")
        return _point_zones(s, read_zone_points(points))
    cells = parse_cells(s.cast(pl.Utf8).unique().sort(), zones)
    res = cells["resolution_m"].fill_null(0).to_numpy().astype(np.float64)
    x = cells["east_m"].fill_null(0).to_numpy() + res / 2.0
    y = cells["north_m"].fill_null(0).to_numpy() + res / 2.0
    base = cells.select(
        "zone",
        pl.Series("x", x),
        pl.Series("y", y),
        (pl.col("resolution_m").cast(pl.Float64) ** 2 / 1e6).alias("area_km2"),
        pl.when(pl.col("error").is_null()).then(pl.lit("ok"))
        .when(pl.col("error") == "outside Denmark").then(pl.lit("outside_denmark"))
        .otherwise(pl.lit("invalid_id")).alias("status"),
        "error",
    )  # fmt: skip
    return _place_on_land(base, half=res / 2.0)


def _place_on_land(base: pl.DataFrame, half: np.ndarray) -> pl.DataFrame:
    """Municipality by point in polygon; off-land points moved to land within ``half`` m, else
    'not_on_land'. Adds lon/lat; keeps ``zone``, ``area_km2``, ``status``."""
    x, y = base["x"].to_numpy().copy(), base["y"].to_numpy().copy()
    status = base["status"].to_numpy().astype(object)
    live = status == "ok"
    muni = np.full(len(x), -1, dtype=np.int16)
    muni[live] = municipality_at(x[live], y[live])
    off = np.flatnonzero(live & (muni < 0))
    status[off] = "not_on_land"
    off = off[half[off] > 0]  # points (half = 0) stay where they are
    if len(off):
        nx, ny, nm = _to_land(x[off], y[off], half[off])
        moved = nm >= 0
        x[off[moved]], y[off[moved]], muni[off[moved]] = nx[moved], ny[moved], nm[moved]
        status[off[moved]] = "moved_to_land"
    lon, lat = _lonlat(x, y)
    nowhere = status == "invalid_id"  # no position at all: null, not a made-up coordinate
    x, y, lon, lat = (np.where(nowhere, np.nan, np.asarray(v, dtype=np.float64)) for v in (x, y, lon, lat))
    return pl.DataFrame(
        {
            "zone": base["zone"],
            "x": pl.Series(x).fill_nan(None),
            "y": pl.Series(y).fill_nan(None),
            "lon": pl.Series(lon).fill_nan(None),
            "lat": pl.Series(lat).fill_nan(None),
            "area_km2": base["area_km2"],
            "municipality": pl.Series(muni).cast(pl.Int16).replace(-1, None),
            "status": pl.Series(status.tolist(), dtype=pl.Utf8),
        }
    )


def _municipality_zones(ids: pl.Series) -> pl.DataFrame:
    from pendling import geo

    m = geo.municipalities()
    try:
        codes = ids.cast(pl.Utf8).str.strip_chars().cast(pl.Int64, strict=False)
    except pl.exceptions.PolarsError:  # pragma: no cover - cast to Utf8 accepts every primitive
        codes = pl.Series([None] * ids.len(), dtype=pl.Int64)
    u = pl.DataFrame({"zone_in": ids, "code": codes}).unique("zone_in").sort("code", nulls_last=True)
    x, y = _xy(m["inside_lon"].to_numpy(), m["inside_lat"].to_numpy())
    pts = m.select(pl.col("code").cast(pl.Int64), "inside_lon", "inside_lat", "area_km2").with_columns(pl.Series("x", x), pl.Series("y", y))
    t = u.join(pts, on="code", how="left")
    return t.select(
        pl.col("code").cast(pl.Int16, strict=False).alias("zone"),
        "x",
        "y",
        pl.col("inside_lon").alias("lon"),
        pl.col("inside_lat").alias("lat"),
        "area_km2",
        pl.col("code").cast(pl.Int16, strict=False).alias("municipality"),
        pl.when(pl.col("x").is_null()).then(pl.lit("invalid_id")).otherwise(pl.lit("ok")).alias("status"),
    ).unique("zone", keep="first").sort("zone", nulls_last=True)


def read_zone_points(points: pl.DataFrame | str | Path) -> pl.DataFrame:
    """A points table: ``zone`` Utf8 (unique), ``x``, ``y`` (EPSG:25832 m), ``area_km2`` (km²;
    default ``DEFAULT_POINT_AREA_KM2``). Input has ``x``/``y`` or ``lon``/``lat``."""
    file = None
    if not isinstance(points, pl.DataFrame):
        file = Path(points)
        if not file.is_file():
            raise InputError("points file not found", file=file, hint="a CSV/Parquet with zone and x, y (EPSG:25832) or lon, lat")
        points = pl.read_parquet(file) if file.suffix.lower() in (".parquet", ".pq") else pl.read_csv(file, infer_schema_length=0)
    cols = set(points.columns)
    if "zone" not in cols or not ({"x", "y"} <= cols or {"lon", "lat"} <= cols):
        raise InputError(
            "points table lacks columns", file=file, values=points.columns, hint="give zone and x, y (EPSG:25832 metres) or lon, lat (degrees)"
        )
    try:
        if {"x", "y"} <= cols:
            p = points.select(pl.col("zone").cast(pl.Utf8), pl.col("x").cast(pl.Float64), pl.col("y").cast(pl.Float64))
        else:
            ll = points.select(pl.col("lon").cast(pl.Float64), pl.col("lat").cast(pl.Float64))
            bad = ll.select((pl.col("lon").abs() > 180) | (pl.col("lat").abs() > 90) | pl.col("lon").is_null() | pl.col("lat").is_null()).to_series()
            if bad.any():
                raise InputError("impossible lon/lat", file=file, column="lon, lat", values=points.filter(bad)["zone"].head(10).to_list())
            x, y = _xy(ll["lon"].to_numpy(), ll["lat"].to_numpy())
            p = pl.DataFrame({"zone": points["zone"].cast(pl.Utf8), "x": x, "y": y})
        area = points["area_km2"].cast(pl.Float64) if "area_km2" in cols else pl.Series([DEFAULT_POINT_AREA_KM2] * points.height)
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"points table has unusable values: {exc}", file=file, hint="numbers in x, y / lon, lat, area_km2") from None
    p = p.with_columns(area.alias("area_km2"))
    bad = p.filter(pl.col("zone").is_null() | pl.col("x").is_null() | pl.col("y").is_null() | ~(pl.col("area_km2") > 0))
    if bad.height:
        raise InputError("points with a missing id, coordinate or a non-positive area", file=file, values=bad["zone"].head(10).to_list())
    dup = p.filter(pl.col("zone").is_duplicated())["zone"].unique().sort()
    if dup.len():
        raise InputError("duplicate zone ids in the points table", file=file, column="zone", values=dup.head(10).to_list())
    return p


def _point_zones(ids: pl.Series, pts: pl.DataFrame) -> pl.DataFrame:
    u = pl.DataFrame({"zone": ids.cast(pl.Utf8)}).unique().sort("zone")
    t = u.join(pts, on="zone", how="left")
    inside = pl.col("x").is_between(*DK_EAST_M) & pl.col("y").is_between(*DK_NORTH_M)
    base = t.with_columns(
        pl.when(pl.col("x").is_null()).then(pl.lit("invalid_id")).when(~inside).then(pl.lit("outside_denmark")).otherwise(pl.lit("ok")).alias("status")
    ).with_columns(pl.col("x", "y").fill_null(0.0), pl.col("area_km2").fill_null(DEFAULT_POINT_AREA_KM2))
    # a point is where it is: off land it is reported, not moved (half = 0)
    return _place_on_land(base, half=np.zeros(base.height))


def snap_zones(
    table: pl.DataFrame, graph: RoadGraph, *, max_snap_m: float = MAX_SNAP_M, profile: CarProfile | None = None
) -> pl.DataFrame:
    """Snap each routable zone's point to the nearest graph node (KD-tree, EPSG:25832 m).

    Adds ``node`` Int32 (null unless routable), ``snap_m`` Float64 (metres, straight access leg),
    ``access_minutes`` Float64 (one end, at the profile's access speed). A snap longer than
    ``max_snap_m`` → status 'far_from_road'; an access leg longer than ``WATER_CHECK_M`` that
    leaves the land (boundaries buffered by ``LAND_TOLERANCE_M``) → 'snap_crosses_water'.
    Municipality zones are snapped exactly as the shipped matrix (nearest node, no checks beyond
    ``max_snap_m``) so the 98×98 matrix is reproduced.
    """
    shapely = optional("shapely", "routing", "zones")
    from scipy.spatial import cKDTree

    from pendling.routing.profile import load_profile

    profile = profile or load_profile()
    nxy = _xy(graph.nodes["lon"].to_numpy(), graph.nodes["lat"].to_numpy())
    tree = cKDTree(np.column_stack(nxy))
    status = table["status"].to_numpy().astype(object)
    live = np.isin(status, ROUTABLE)
    x, y = table["x"].to_numpy(), table["y"].to_numpy()
    if table["zone"].dtype == pl.Int16:  # municipality zones: project lon/lat like routing.snap_points
        x, y = _xy(table["lon"].fill_null(0.0).to_numpy(), table["lat"].fill_null(0.0).to_numpy())
    d = np.full(len(x), np.nan)
    node = np.full(len(x), -1, dtype=np.int64)
    if live.any():
        d[live], node[live] = tree.query(np.column_stack([x[live], y[live]]))
    far = live & (d > max_snap_m)
    status[far] = "far_from_road"
    check = np.flatnonzero(live & ~far & (d > WATER_CHECK_M) & (table["zone"].dtype != pl.Int16))
    if len(check):
        lines = shapely.linestrings(
            np.stack([np.column_stack([x[check], y[check]]), np.column_stack([nxy[0][node[check]], nxy[1][node[check]]])], axis=1)
        )
        wet = ~shapely.covered_by(lines, _land_union())
        status[check[wet]] = "snap_crosses_water"
    ok = np.isin(status, ROUTABLE)
    return table.with_columns(
        pl.Series("status", status.tolist(), dtype=pl.Utf8),
        pl.Series("node", np.where(ok, node, -1)).cast(pl.Int32).replace(-1, None),
        pl.Series("snap_m", np.where(ok, d, np.nan)).fill_nan(None),
        pl.Series("access_minutes", np.where(ok, d / 1000.0 / profile.access_speed_kmh * 60.0, np.nan)).fill_nan(None),
    )

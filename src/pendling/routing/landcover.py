"""Built-up land from OpenMapTiles vector tiles: a fine raster of landuse classes and building
footprints, used to slow roads inside built-up areas (the car profile's urban speeds) and to derive
the population and jobs surface (:mod:`pendling.surface`).

The raster lives in *global pixel space* of the tiles (zoom 13, extent 4096): a cell is 128 × 128
pixels, i.e. 32 × 32 cells per tile, 82–89 m square in Denmark (57.8°–54.5° N) (Web Mercator is conformal, so
cells are square on the ground; their side is ``128 · 2πR·cos(lat) / (4096 · 2^13)`` metres). Cell
indices ``cx = gx >> 7``, ``cy = gy >> 7`` are integers, so tiles never overlap and every tile is
decoded independently (deterministic, parallel).

Per cell:

* ``res``, ``com``, ``ind``, ``inst`` (UInt8, 0–16): how many of the cell's 4 × 4 sample points
  lie inside a landuse polygon of class residential; commercial or retail; industrial; institutional
  (school, university, college, kindergarten, hospital, library). Where polygons overlap a point
  counts for the first class in that order.
* ``bld_m2`` (Float32, m²), ``bld_n`` (Int32): footprint area and number of the tile's ``building``
  polygons whose centroid lies in the cell. At zoom 13 the OpenMapTiles build keeps only large
  buildings (footprints over ≈ 1,500 Mercator m², ≈ 500 m² on the ground in Denmark): blocks of
  flats, shops, offices, halls and factories, but not detached houses.

Places (``place`` layer points: city, town, village, suburb, quarter, neighbourhood, hamlet,
isolated_dwelling) are returned with their class and global pixel position.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl

from pendling._extras import optional
from pendling.routing.tiles import EXTENT, decode_all, tile_files

CELL_PX = 128  # global pixels per raster cell at zoom 13 (82–89 m in Denmark)
CELL_SHIFT = 7
SUB = 4  # sample points per cell side
CELLS_PER_TILE = EXTENT // CELL_PX
WEB_MERCATOR_R = 6_378_137.0
LANDUSE_GROUPS = {
    "res": ("residential",),
    "com": ("commercial", "retail"),
    "ind": ("industrial",),
    "inst": ("school", "university", "college", "kindergarten", "hospital", "library"),
}
GROUPS = tuple(LANDUSE_GROUPS)
_GROUP_OF = {cls: i for i, g in enumerate(GROUPS) for cls in LANDUSE_GROUPS[g]}
PLACE_CLASSES = ("city", "town", "village", "suburb", "quarter", "neighbourhood", "hamlet", "isolated_dwelling")


def metres_per_pixel(gy: np.ndarray | float, zoom: int = 13) -> np.ndarray:
    """Ground metres per global pixel at pixel row ``gy`` (Web Mercator scale cos(lat))."""
    world = float(EXTENT * (1 << zoom))
    lat = np.arctan(np.sinh(math.pi * (1.0 - 2.0 * np.asarray(gy, dtype=np.float64) / world)))
    return 2 * math.pi * WEB_MERCATOR_R * np.cos(lat) / world


def _polygons(feat: dict):
    shapely = optional("shapely", "routing", "land cover from vector tiles")

    g = feat["geometry"]
    rings = [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"] if g["type"] == "MultiPolygon" else []
    out = []
    for poly in rings:
        if poly and len(poly[0]) >= 4:
            out.append(shapely.Polygon(poly[0], [h for h in poly[1:] if len(h) >= 4]))
    return out


def decode_landcover_tile(path: str) -> dict[str, np.ndarray]:
    """Landuse samples, building footprints and places of one tile (see the module docstring)."""
    mapbox_vector_tile = optional("mapbox_vector_tile", "routing", "land cover from vector tiles")
    shapely = optional("shapely", "routing", "land cover from vector tiles")

    p = Path(path)
    tx, ty = int(p.parent.name), int(p.stem)
    data = mapbox_vector_tile.decode(p.read_bytes(), default_options={"y_coord_down": True})
    n_cells = CELLS_PER_TILE * CELLS_PER_TILE
    counts = np.zeros((len(GROUPS), n_cells), dtype=np.uint8)
    polys, groups = [], []
    for feat in data.get("landuse", {}).get("features", []):
        grp = _GROUP_OF.get(feat["properties"].get("class"))
        if grp is not None:
            for poly in _polygons(feat):
                polys.append(poly)
                groups.append(grp)
    if polys:
        step = CELL_PX // SUB
        s = (np.arange(EXTENT // step) * step + step / 2).astype(np.float64)
        sx, sy = np.meshgrid(s, s)
        pts = shapely.points(sx.ravel(), sy.ravel())
        tree = shapely.STRtree(polys)
        ip, ipoly = tree.query(pts, predicate="within")
        best = np.full(len(pts), len(GROUPS), dtype=np.int64)
        np.minimum.at(best, ip, np.asarray(groups, dtype=np.int64)[ipoly])
        hit = best < len(GROUPS)
        cell = (sy.ravel()[hit].astype(np.int64) >> CELL_SHIFT) * CELLS_PER_TILE + (sx.ravel()[hit].astype(np.int64) >> CELL_SHIFT)
        np.add.at(counts, (best[hit], cell), 1)
    bld_area = np.zeros(n_cells, dtype=np.float64)
    bld_n = np.zeros(n_cells, dtype=np.int64)
    bpolys = [poly for feat in data.get("building", {}).get("features", []) for poly in _polygons(feat)]
    if bpolys:
        arr = np.asarray(bpolys, dtype=object)
        c = shapely.get_coordinates(shapely.centroid(arr))
        inside = (c[:, 0] >= 0) & (c[:, 0] < EXTENT) & (c[:, 1] >= 0) & (c[:, 1] < EXTENT)  # buffer copies belong to neighbours
        a = shapely.area(arr)[inside]
        c = c[inside].astype(np.int64)
        mpp = metres_per_pixel(ty * EXTENT + c[:, 1])
        cell = (c[:, 1] >> CELL_SHIFT) * CELLS_PER_TILE + (c[:, 0] >> CELL_SHIFT)
        np.add.at(bld_area, cell, a * mpp**2)
        np.add.at(bld_n, cell, 1)
    keep = (counts.sum(axis=0) > 0) | (bld_n > 0)
    idx = np.flatnonzero(keep)
    out = {
        "cx": (tx * CELLS_PER_TILE + idx % CELLS_PER_TILE).astype(np.int32),
        "cy": (ty * CELLS_PER_TILE + idx // CELLS_PER_TILE).astype(np.int32),
        **{g: counts[i, idx] for i, g in enumerate(GROUPS)},
        "bld_m2": bld_area[idx].astype(np.float32),
        "bld_n": bld_n[idx].astype(np.int32),
    }
    px, py, pc = [], [], []
    for feat in data.get("place", {}).get("features", []):
        cls = feat["properties"].get("class")
        g = feat["geometry"]
        if cls in PLACE_CLASSES and g["type"] == "Point":
            x, y = g["coordinates"]
            if 0 <= x < EXTENT and 0 <= y < EXTENT:
                px.append(tx * EXTENT + int(x))
                py.append(ty * EXTENT + int(y))
                pc.append(PLACE_CLASSES.index(cls))
    out["place_gx"] = np.asarray(px, dtype=np.int64)
    out["place_gy"] = np.asarray(py, dtype=np.int64)
    out["place_cls"] = np.asarray(pc, dtype=np.int8)
    return out


def read_landcover(tiles_dir: str | Path, zoom: int = 13, workers: int = 2, progress=None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Decode every tile into (cells, places), in tile order (deterministic).

    ``cells``: ``cx``, ``cy`` Int32, ``res``/``com``/``ind``/``inst`` UInt8 (of 16 samples),
    ``bld_m2`` Float32 (m²), ``bld_n`` Int32, sorted by (cy, cx). ``places``: ``gx``, ``gy`` Int64
    (global pixels), ``place`` (class), sorted.
    """
    cat = decode_all(tile_files(tiles_dir, zoom), decode_landcover_tile, workers=workers, progress=progress,
                     chunksize=32)
    cells = pl.DataFrame({k: cat[k] for k in ("cx", "cy", *GROUPS, "bld_m2", "bld_n")}).sort("cy", "cx")
    places = pl.DataFrame(
        {"gx": cat["place_gx"], "gy": cat["place_gy"], "place": np.asarray(PLACE_CLASSES)[cat["place_cls"]]},
        schema={"gx": pl.Int64, "gy": pl.Int64, "place": pl.String},
    ).sort("gy", "gx", "place")
    return cells, places


def builtup_raster(cells: pl.DataFrame, window_cells: int = 3) -> tuple[int, int, np.ndarray]:
    """Share of built-up land (residential, commercial/retail or industrial landuse, of the 16
    samples per cell) averaged over a ``window_cells`` × ``window_cells`` square around each cell.

    Returns (cx0, cy0, array[cy - cy0, cx - cx0]) as float32 in [0, 1], covering the cells' extent
    plus the window margin.
    """
    from scipy.ndimage import uniform_filter

    if cells.height == 0:
        return 0, 0, np.zeros((1, 1), dtype=np.float32)
    pad = window_cells
    cx0 = int(cells["cx"].min()) - pad
    cy0 = int(cells["cy"].min()) - pad
    w = int(cells["cx"].max()) - cx0 + pad + 1
    h = int(cells["cy"].max()) - cy0 + pad + 1
    share = np.zeros((h, w), dtype=np.float32)
    built = (cells["res"].cast(pl.Int32) + cells["com"] + cells["ind"]).clip(0, SUB * SUB).to_numpy() / (SUB * SUB)
    share[cells["cy"].to_numpy() - cy0, cells["cx"].to_numpy() - cx0] = built
    if window_cells > 1:
        share = uniform_filter(share, size=window_cells, mode="constant")
    return cx0, cy0, share


def builtup_at(gx: np.ndarray, gy: np.ndarray, raster: tuple[int, int, np.ndarray]) -> np.ndarray:
    """Smoothed built-up share at global pixel positions (0 outside the raster)."""
    cx0, cy0, share = raster
    ix = (np.asarray(gx, dtype=np.int64) >> CELL_SHIFT) - cx0
    iy = (np.asarray(gy, dtype=np.int64) >> CELL_SHIFT) - cy0
    inside = (ix >= 0) & (iy >= 0) & (ix < share.shape[1]) & (iy < share.shape[0])
    out = np.zeros(len(ix), dtype=np.float32)
    out[inside] = share[iy[inside], ix[inside]]
    return out


def classify_segments(seg: pl.DataFrame, cells: pl.DataFrame, *, window_cells: int = 3, min_share: float = 0.5) -> pl.Series:
    """``urban`` (Boolean) per tile segment: its midpoint's smoothed built-up share ≥ ``min_share``.

    ``seg`` has the node keys ``u``, ``v`` of :func:`pendling.routing.tiles.read_tiles`
    (``gx << 26 | gy``).
    """
    mask = (1 << 26) - 1
    u = seg["u"].to_numpy()
    v = seg["v"].to_numpy()
    gx = ((u >> 26) + (v >> 26)) >> 1
    gy = ((u & mask) + (v & mask)) >> 1
    share = builtup_at(gx, gy, builtup_raster(cells, window_cells))
    return pl.Series("urban", share >= min_share)

"""Read the car network from OpenMapTiles-schema vector tiles (``{z}/{x}/{y}.pbf``, zoom 13).

Tile-local coordinates (extent 4096) are turned into *global integer pixel coordinates* at the tile
zoom, ``gx = x_tile * 4096 + x``; the same OSM vertex therefore gets exactly the same integer pair in
every tile that carries it, and nodes are merged across tile seams by that pair (no float hashing).
A line crossing a tile edge continues to its next real vertex outside the tile, so every segment is
whole in at least one tile; copies from neighbouring tiles are deduplicated by (u, v, class).
Segments longer than the ±2-tile buffer are cut at the buffer edge (local coordinate -8192 or 8191);
those cut pieces are dropped and counted (at z13 they are almost only sea ferry lines, which pendling
models from its ferry table instead).

Classes kept (``class`` property): motorway, trunk, primary, secondary, tertiary (``ramp=1`` →
``<class>_link``), minor, service (except ``service`` = parking_aisle, driveway, drive-through,
emergency_access). Excluded: track, path, ferry, rail, pedestrian, construction, …
(the tile build already dropped access=private/no). ``oneway`` 1 / -1 as in OSM.
"""

from __future__ import annotations

import json
import math
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl

from pendling._extras import optional
from pendling.errors import InputError

EXTENT = 4096
CLIP_LO, CLIP_HI = -8192, 8191
LAYER = "transportation"
MAJOR = ("motorway", "trunk", "primary", "secondary", "tertiary")
CLASSES = (
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary",
    "secondary_link", "tertiary", "tertiary_link", "minor", "service",
)  # fmt: skip
_CODE = {c: i for i, c in enumerate(CLASSES)}
# Parking aisles and private driveways carry no through traffic; dropping them halves the network
# without changing any route between towns (OSRM's car.lua also penalises them).
EXCLUDED_SERVICE = frozenset({"parking_aisle", "driveway", "drive-through", "drive-thru", "emergency_access"})


def _class_code(props: dict) -> int:
    cls = props.get("class")
    if cls in MAJOR:
        return _CODE[f"{cls}_link" if props.get("ramp") in (1, 1.0, "1") else cls]
    if cls == "minor":
        return _CODE[cls]
    if cls == "service" and props.get("service") not in EXCLUDED_SERVICE:
        return _CODE[cls]
    return -1


def decode_tile(path: str, zoom_extent: int = EXTENT) -> dict[str, np.ndarray]:
    """Drivable segments of one tile as global pixel coordinates.

    Returns arrays ``ax, ay, bx, by`` (int64 global pixels), ``cls`` (int8 index into CLASSES),
    ``oneway`` (int8) and ``clipped`` (bool: an end lies on the ±2-tile buffer edge).
    """
    mapbox_vector_tile = optional("mapbox_vector_tile", "routing", "decoding vector tiles")

    p = Path(path)
    tx, ty = int(p.parent.name), int(p.stem)
    data = mapbox_vector_tile.decode(p.read_bytes(), default_options={"y_coord_down": True})
    layer = data.get(LAYER)
    parts: list[np.ndarray] = []
    meta: list[tuple[int, int]] = []
    if layer:
        scale = EXTENT // int(layer.get("extent", EXTENT)) if layer.get("extent", EXTENT) else 1
        for feat in layer["features"]:
            code = _class_code(feat["properties"])
            if code < 0:
                continue
            geom = feat["geometry"]
            if geom["type"] == "LineString":
                lines = [geom["coordinates"]]
            elif geom["type"] == "MultiLineString":
                lines = geom["coordinates"]
            else:
                continue
            ow = feat["properties"].get("oneway")
            ow = int(ow) if ow in (1, -1, 1.0, -1.0) else 0
            for line in lines:
                if len(line) >= 2:
                    parts.append(np.asarray(line, dtype=np.int64) * scale)
                    meta.append((code, ow))
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return {"ax": empty, "ay": empty, "bx": empty, "by": empty, "cls": empty.astype(np.int8),
                "oneway": empty.astype(np.int8), "clipped": empty.astype(bool)}  # fmt: skip
    lens = np.fromiter((len(a) for a in parts), dtype=np.int64, count=len(parts))
    pts = np.concatenate(parts)
    is_end = np.cumsum(lens) - 1  # last vertex of each line: no segment starts there
    start = np.ones(len(pts), dtype=bool)
    start[is_end] = False
    ia = np.flatnonzero(start)
    ib = ia + 1
    on_edge = (pts == CLIP_LO).any(axis=1) | (pts == CLIP_HI).any(axis=1)
    seg_line = np.repeat(np.arange(len(parts)), lens - 1)
    m = np.asarray(meta, dtype=np.int64)
    return {
        "ax": pts[ia, 0] + tx * EXTENT,
        "ay": pts[ia, 1] + ty * EXTENT,
        "bx": pts[ib, 0] + tx * EXTENT,
        "by": pts[ib, 1] + ty * EXTENT,
        "cls": m[seg_line, 0].astype(np.int8),
        "oneway": m[seg_line, 1].astype(np.int8),
        "clipped": on_edge[ia] | on_edge[ib],
    }


def tile_files(tiles_dir: str | Path, zoom: int = 13) -> list[Path]:
    """All ``{zoom}/{x}/{y}.pbf`` files under a tile directory, in (x, y) order."""
    root = Path(tiles_dir)
    zdir = root / str(zoom)
    if not zdir.is_dir():
        raise InputError(
            f"no zoom-{zoom} tiles under the tile directory",
            file=root,
            hint=f"point --tiles at a directory holding {zoom}/{{x}}/{{y}}.pbf (OpenMapTiles schema)",
        )
    files = [f for f in zdir.glob("*/*.pbf") if f.parent.name.isdigit() and f.stem.isdigit()]
    if not files:
        raise InputError(f"the zoom-{zoom} tile directory is empty", file=zdir)
    return sorted(files, key=lambda f: (int(f.parent.name), int(f.stem)))


def pixel_to_lonlat(gx: np.ndarray, gy: np.ndarray, zoom: int = 13) -> tuple[np.ndarray, np.ndarray]:
    """Global pixel coordinates (extent 4096 at ``zoom``) → WGS84 lon/lat in degrees (Web Mercator)."""
    world = float(EXTENT * (1 << zoom))
    lon = gx / world * 360.0 - 180.0
    lat = np.degrees(np.arctan(np.sinh(math.pi * (1.0 - 2.0 * gy / world))))
    return lon, lat


def decode_all(files: list[Path], decode, *, workers: int = 2, progress=None, chunksize: int = 64
               ) -> dict[str, np.ndarray]:
    """Run ``decode(path) -> dict of arrays`` on every tile, in a pool of ``workers`` processes, and
    concatenate the arrays key by key in tile order (so the result does not depend on scheduling).
    ``progress(done, total)`` is called every 200 tiles and at the end."""
    names = [str(f) for f in files]
    chunks: list[dict[str, np.ndarray]] = []

    def done(i: int) -> None:
        if progress and (i % 200 == 0 or i == len(names) - 1):
            progress(i + 1, len(names))

    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for i, res in enumerate(pool.map(decode, names, chunksize=chunksize)):
                chunks.append(res)
                done(i)
    else:
        for i, name in enumerate(names):
            chunks.append(decode(name))
            done(i)
    return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}


def read_tiles(tiles_dir: str | Path, zoom: int = 13, workers: int = 2, progress=None) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Decode all tiles into (segments, nodes, info) in the raw form of :func:`pendling.routing.osm.read_osm`.

    Node keys are ``gx << 26 | gy`` (global pixels at ``zoom``); ``progress(done, total)`` is called
    as tiles finish. Decoding runs in a pool of ``workers`` processes; output order is fixed by tile
    order, so the result is deterministic.
    """
    files = tile_files(tiles_dir, zoom)
    cat = decode_all(files, decode_tile, workers=workers, progress=progress, chunksize=64)
    n_raw = len(cat["ax"])
    clipped = cat["clipped"]
    clip_counts = (
        pl.DataFrame({"highway": np.asarray(CLASSES)[cat["cls"][clipped]]})
        .group_by("highway").len().sort("highway")
    )  # fmt: skip
    keep = ~clipped & ~((cat["ax"] == cat["bx"]) & (cat["ay"] == cat["by"]))
    u = (cat["ax"][keep] << 26) | cat["ay"][keep]
    v = (cat["bx"][keep] << 26) | cat["by"][keep]
    seg = pl.DataFrame(
        {
            "u": u,
            "v": v,
            "highway": pl.Series(np.asarray(CLASSES)[cat["cls"][keep]], dtype=pl.String),
            "oneway": cat["oneway"][keep],
        }
    ).unique(maintain_order=True)  # the ±2-tile buffer repeats each segment in up to 25 tiles
    keys = pl.concat([seg["u"], seg["v"]]).unique().sort().to_numpy()
    lon, lat = pixel_to_lonlat(keys >> 26, keys & ((1 << 26) - 1), zoom)
    nodes = pl.DataFrame({"key": keys, "lon": lon, "lat": lat})
    meta_path = Path(tiles_dir) / "metadata.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    info = {
        "tiles": len(files),
        "zoom": zoom,
        "segments_decoded": int(n_raw),
        "segments_unique": seg.height,
        "buffer_cut_pieces_dropped": {r["highway"]: r["len"] for r in clip_counts.iter_rows(named=True)},
        "tileset_name": meta.get("name"),
    }
    return seg.with_columns(pl.lit(None, dtype=pl.String).alias("maxspeed")), nodes, info

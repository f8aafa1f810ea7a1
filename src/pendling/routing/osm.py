"""Read the car network from standard OpenStreetMap files (``.osm`` XML, ``.osm.pbf``) with pyosmium.

Output is the common raw form shared with :mod:`pendling.routing.tiles`:

* ``segments``: one row per consecutive node pair of a drivable way — ``u``, ``v`` (Int64 node keys,
  here OSM node ids), ``highway`` (Utf8), ``oneway`` (Int8: 1 along u→v, -1 against, 0 both ways),
  ``maxspeed`` (Utf8, raw tag or null);
* ``nodes``: ``key`` Int64, ``lon``, ``lat`` Float64 (WGS84 degrees).

Car network rules: ``highway`` in :data:`pendling.routing.profile.DRIVABLE`; ways with
``access``/``motor_vehicle``/``motorcar`` = no/private (and no later yes) are excluded, as are
``area=yes`` and ``service`` = parking_aisle, driveway, drive-through, emergency_access (no through
traffic; the same rule as for vector tiles). ``oneway=yes/1/true`` and ``-1/reverse`` are honoured;
motorways and roundabouts are one-way unless tagged ``oneway=no``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from pendling._extras import optional
from pendling.errors import InputError
from pendling.routing.profile import DRIVABLE
from pendling.routing.tiles import EXCLUDED_SERVICE

_DRIVABLE = frozenset(DRIVABLE) - {"minor"}
_DENY = frozenset({"no", "private", "agricultural", "forestry", "delivery", "customers"})
_ALLOW = frozenset({"yes", "permissive", "designated", "destination"})
_ONEWAY_YES = frozenset({"yes", "1", "true"})
_ONEWAY_REV = frozenset({"-1", "reverse"})


def car_allowed(tags: dict[str, str]) -> bool:
    """Whether a way with these tags is open to private cars (most specific access key wins)."""
    if tags.get("highway") not in _DRIVABLE:
        return False
    if tags.get("area") == "yes" or tags.get("service") in EXCLUDED_SERVICE:
        return False
    for key in ("motorcar", "motor_vehicle", "vehicle", "access"):
        val = tags.get(key)
        if val in _ALLOW:
            return True
        if val in _DENY:
            return False
    return True


def oneway_of(tags: dict[str, str]) -> int:
    """1 = one-way along the way's node order, -1 = against it, 0 = both directions."""
    ow = tags.get("oneway")
    if ow in _ONEWAY_YES:
        return 1
    if ow in _ONEWAY_REV:
        return -1
    if ow == "no":
        return 0
    if tags.get("highway") == "motorway" or tags.get("junction") in ("roundabout", "circular"):
        return 1
    return 0


def read_osm(path: str | Path) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Parse an OSM file into (segments, nodes, info); info has the file's timestamp if known.

    Raises InputError when the file is missing, unreadable or holds no drivable road.
    """
    osmium = optional("osmium", "routing", "reading OpenStreetMap files")

    p = Path(path)
    if not p.is_file():
        raise InputError("OSM file not found", file=p, hint="pass an existing .osm or .osm.pbf file to --osm")
    us: list[np.ndarray] = []
    vs: list[np.ndarray] = []
    hw: list[str] = []
    ow: list[int] = []
    ms: list[str | None] = []
    counts: list[int] = []
    node_ids: list[int] = []
    lons: list[float] = []
    lats: list[float] = []
    n_ways = 0
    n_excluded = 0
    try:
        fp = osmium.FileProcessor(str(p)).with_locations().with_filter(osmium.filter.KeyFilter("highway"))
        header = fp.header
        stamp = header.get("osmosis_replication_timestamp") or header.get("timestamp") or None
        for obj in fp:
            if not obj.is_way():
                continue
            n_ways += 1
            tags = dict(obj.tags)
            if not car_allowed(tags):
                n_excluded += 1
                continue
            refs = [nd.ref for nd in obj.nodes if nd.location.valid()]
            if len(refs) < 2:
                n_excluded += 1
                continue
            for nd in obj.nodes:
                if nd.location.valid():
                    node_ids.append(nd.ref)
                    lons.append(nd.location.lon)
                    lats.append(nd.location.lat)
            arr = np.asarray(refs, dtype=np.int64)
            us.append(arr[:-1])
            vs.append(arr[1:])
            hw.append(tags["highway"])
            ow.append(oneway_of(tags))
            ms.append(tags.get("maxspeed"))
            counts.append(len(refs) - 1)
    except RuntimeError as exc:
        raise InputError(f"cannot read OSM file: {exc}", file=p, hint="use a valid .osm (XML) or .osm.pbf file") from None
    if not us:
        raise InputError("no drivable roads in the OSM file", file=p, hint="check that the extract contains highway=* ways")
    rep = np.asarray(counts)
    segments = pl.DataFrame(
        {
            "u": np.concatenate(us),
            "v": np.concatenate(vs),
            "highway": np.repeat(np.asarray(hw, dtype=object), rep).astype(str),
            "oneway": np.repeat(np.asarray(ow, dtype=np.int8), rep),
            "maxspeed": pl.Series(ms, dtype=pl.String).gather(np.repeat(np.arange(len(ms)), rep)),
        }
    ).filter(pl.col("u") != pl.col("v"))
    nodes = (
        pl.DataFrame({"key": np.asarray(node_ids, dtype=np.int64), "lon": lons, "lat": lats})
        .unique("key", keep="first")
        .sort("key")
    )
    info = {"osm_timestamp": str(stamp) if stamp else None, "ways_read": n_ways, "ways_excluded": n_excluded}
    return segments, nodes, info

"""The car profile: class default speeds (km/h) outside and inside built-up areas, Danish implicit
maxspeed zones, junction delays, access and internal legs.

The profile is a small TOML file (``data/reference/car_profile.toml``) that users can edit; its
sha256 goes into the matrix provenance. :func:`edge_speeds` turns a frame of road segments into
travel speeds in km/h and :func:`junction_seconds` gives the delay of entering each junction,
both vectorised over the whole network.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from pendling import paths
from pendling.errors import InputError
from pendling.io import sha256_file

# Classes a car may use. OSM `highway` values plus the OpenMapTiles 'minor' class; everything else
# (track, path, footway, cycleway, pedestrian, bus_guideway, construction, proposed …) is excluded.
DRIVABLE = (
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "minor",
    "living_street",
    "road",
    "service",
)
# Rank of a class for junction priority: a car entering a junction on a lower-ranked road than the
# highest-ranked road there has to give way. Links (ramps) end in a give-way, so they rank lowest
# among through roads; service roads and living streets do not make a junction.
RANK = {
    "motorway": 6, "trunk": 5, "primary": 4, "secondary": 3, "tertiary": 2,
    "unclassified": 1, "residential": 1, "minor": 1, "road": 1,
    "motorway_link": 0, "trunk_link": 0, "primary_link": 0, "secondary_link": 0, "tertiary_link": 0,
    "living_street": -1, "service": -1,
}  # fmt: skip
JUNCTION_KINDS = ("none", "minor", "through", "crossing", "give_way")

@dataclass(frozen=True)
class CarProfile:
    """Speeds in km/h, access and internal-time parameters; ``path``/``sha256`` identify the file."""

    speeds_kmh: dict[str, float]
    maxspeed_zones: dict[str, float]
    urban_speeds_kmh: dict[str, float] = field(default_factory=dict)
    junction_seconds: dict[str, float] = field(default_factory=dict)
    urban_junction_factor: float = 1.0
    builtup: dict[str, float] = field(default_factory=dict)
    max_speed_kmh: float = 130.0
    min_speed_kmh: float = 5.0
    access_speed_kmh: float = 20.0
    internal_detour: float = 1.3
    internal_speed_kmh: float = 40.0
    internal_terminal_minutes: float = 0.0
    name: str = "pendling-dk-car"
    path: str | None = None
    sha256: str | None = None

    def as_dict(self) -> dict:
        """Everything that changes results, for provenance."""
        return {
            "name": self.name,
            "file": self.path,
            "sha256": self.sha256,
            "speeds_kmh": dict(sorted(self.speeds_kmh.items())),
            "urban_speeds_kmh": dict(sorted(self.urban_speeds_kmh.items())),
            "junction_seconds": dict(sorted(self.junction_seconds.items())),
            "urban_junction_factor": self.urban_junction_factor,
            "builtup": dict(sorted(self.builtup.items())),
            "maxspeed_zones": dict(sorted(self.maxspeed_zones.items())),
            "max_speed_kmh": self.max_speed_kmh,
            "access_speed_kmh": self.access_speed_kmh,
            "internal": {
                "detour": self.internal_detour,
                "speed_kmh": self.internal_speed_kmh,
                "terminal_minutes": self.internal_terminal_minutes,
            },
        }


def default_profile_path() -> Path:
    return paths.reference_dir() / "car_profile.toml"


def load_profile(path: str | Path | None = None) -> CarProfile:
    """Read a car profile TOML (``None`` → the shipped Danish profile); InputError on bad values."""
    p = Path(path) if path is not None else default_profile_path()
    if not p.is_file():
        raise InputError("car profile not found", file=p, hint="pass --profile FILE or restore data/reference/car_profile.toml")
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"car profile is not valid TOML: {exc}", file=p) from None
    speeds = {str(k): float(v) for k, v in raw.get("speeds_kmh", {}).items()}
    missing = [c for c in DRIVABLE if c not in speeds]
    if missing:
        raise InputError("car profile lacks a default speed for some road classes", file=p, column="speeds_kmh", values=missing, hint="add a km/h value for each class")
    bad = [f"{k}={v}" for k, v in speeds.items() if not (0 < v <= 200)]
    if bad:
        raise InputError("car profile speeds must be in (0, 200] km/h", file=p, column="speeds_kmh", values=bad)
    urban = {str(k): float(v) for k, v in raw.get("urban_speeds_kmh", {}).items()}
    bad = [f"{k}={v}" for k, v in urban.items() if not (0 < v <= 200)] + [k for k in urban if k not in speeds]
    if bad:
        raise InputError("urban speeds must be in (0, 200] km/h and name classes of [speeds_kmh]", file=p, column="urban_speeds_kmh", values=bad)
    junction = raw.get("junction_seconds", {})
    jsec = {k: float(junction.get(k, 0.0)) for k in JUNCTION_KINDS[1:]}
    unknown = [k for k in junction if k not in jsec and k != "urban_factor"]
    bad = [f"{k}={v}" for k, v in jsec.items() if not (0 <= v <= 300)]
    if unknown or bad:
        raise InputError("junction delays must be seconds in [0, 300] for minor / through / crossing / give_way", file=p, column="junction_seconds", values=unknown + bad)
    builtup = {str(k): float(v) for k, v in raw.get("builtup", {}).items()}
    limits = raw.get("limits", {})
    access = raw.get("access", {})
    internal = raw.get("internal", {})
    prof = CarProfile(
        speeds_kmh=speeds,
        maxspeed_zones={str(k).lower(): float(v) for k, v in raw.get("maxspeed_zones", {}).items()},
        urban_speeds_kmh=urban,
        junction_seconds=jsec,
        urban_junction_factor=float(junction.get("urban_factor", 1.0)),
        builtup=builtup,
        max_speed_kmh=float(limits.get("max_speed_kmh", 130)),
        min_speed_kmh=float(limits.get("min_speed_kmh", 5)),
        access_speed_kmh=float(access.get("speed_kmh", 20)),
        internal_detour=float(internal.get("detour", 1.3)),
        internal_speed_kmh=float(internal.get("speed_kmh", 40)),
        internal_terminal_minutes=float(internal.get("terminal_minutes", 0)),
        name=str(raw.get("profile", {}).get("name", p.stem)),
        path=str(p),
        sha256=sha256_file(p),
    )
    if prof.access_speed_kmh <= 0 or prof.internal_speed_kmh <= 0 or prof.internal_detour < 1:
        raise InputError("car profile: access/internal speeds must be > 0 and detour ≥ 1", file=p)
    return prof


def parse_maxspeed(values: pl.Series, profile: CarProfile) -> pl.Series:
    """OSM ``maxspeed`` strings → km/h (Float64, null where absent or unusable).

    Numbers with optional 'km/h'/'mph' units; Danish zone values such as 'DK:urban' via the profile;
    'none' → the profile cap; lists like '50;30' take the first value.
    """
    s = values.cast(pl.String).str.split(";").list.first().str.strip_chars()
    num = s.str.extract(r"^(\d+(?:\.\d+)?)", 1).cast(pl.Float64, strict=False)
    is_mph = s.str.to_lowercase().str.contains("mph").fill_null(False)
    num = pl.select(pl.when(is_mph).then(num * 1.609344).otherwise(num)).to_series()
    zones = s.str.to_lowercase().replace_strict(profile.maxspeed_zones, default=None, return_dtype=pl.Float64)
    none = pl.select(pl.when(s.str.to_lowercase() == "none").then(profile.max_speed_kmh)).to_series()
    out = num.fill_null(zones).fill_null(none)
    return out.clip(profile.min_speed_kmh, profile.max_speed_kmh).alias("maxspeed_kmh")


def edge_speeds(highway: pl.Series, maxspeed_kmh: pl.Series | None, profile: CarProfile, urban: pl.Series | None = None) -> pl.Series:
    """Travel speed in km/h per segment: tagged maxspeed if present, else the class default, which
    inside built-up areas (``urban`` true) is the class's ``[urban_speeds_kmh]`` value when given."""
    default = highway.replace_strict(profile.speeds_kmh, default=None, return_dtype=pl.Float64)
    if default.null_count():
        unknown = highway.filter(default.is_null()).unique().to_list()
        raise InputError("road classes without a speed in the car profile", column="speeds_kmh", values=unknown)
    if urban is not None and profile.urban_speeds_kmh:
        town = highway.replace_strict(profile.urban_speeds_kmh, default=None, return_dtype=pl.Float64)
        default = pl.select(pl.when(urban.fill_null(False) & town.is_not_null()).then(town).otherwise(default)).to_series()
    if maxspeed_kmh is None:
        return default.alias("speed_kmh")
    return maxspeed_kmh.cast(pl.Float64).fill_null(default).alias("speed_kmh")


def junction_kinds(u: np.ndarray, v: np.ndarray, highway: pl.Series, n_nodes: int) -> np.ndarray:
    """Kind of junction a car meets at the head ``v`` of each directed edge, as an index into
    :data:`JUNCTION_KINDS` (int8).

    A node is a junction when at least three distinct neighbours are joined to it by roads of rank
    ≥ 0 (service roads and living streets do not count). Entering on a lower-ranked road than the
    junction's highest is ``give_way``. Entering on the highest rank is ``minor`` when that rank is
    a minor road (unclassified, residential: right-before-left, little traffic), else ``through``
    when only two neighbours are joined at that rank (side roads give way) and ``crossing`` when
    three or more are (equal major roads meet: signals or roundabouts). Junctions whose highest rank
    is motorway are grade separated and cost nothing (``none``).
    """
    rank = highway.replace_strict(RANK, default=-1, return_dtype=pl.Int8).to_numpy().astype(np.int64)
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    ok = rank >= 0
    # undirected, distinct neighbour pairs with the best rank joining them
    a = np.minimum(u[ok], v[ok])
    b = np.maximum(u[ok], v[ok])
    pairs = pl.DataFrame({"a": a, "b": b, "r": rank[ok]}).group_by("a", "b").agg(pl.col("r").max())
    ends = pl.concat([pairs.select(n="a", r="r"), pairs.select(n="b", r="r")])
    nb = np.bincount(ends["n"].to_numpy(), minlength=n_nodes)
    top = np.full(n_nodes, -1, dtype=np.int64)
    np.maximum.at(top, ends["n"].to_numpy(), ends["r"].to_numpy())
    at_top = ends.filter(pl.col("r") == pl.Series(top[ends["n"].to_numpy()]))
    n_top = np.bincount(at_top["n"].to_numpy(), minlength=n_nodes)
    kind = np.where(rank < top[v], 4, np.where(top[v] <= RANK["minor"], 1, np.where(n_top[v] >= 3, 3, 2)))
    kind[(nb[v] < 3) | (top[v] >= RANK["motorway"])] = 0
    return kind.astype(np.int8)


def junction_seconds(kind: np.ndarray, urban: np.ndarray | None, profile: CarProfile) -> np.ndarray:
    """Delay in seconds of entering each edge's head junction (``kind`` from :func:`junction_kinds`),
    times ``urban_factor`` where the edge lies in a built-up area."""
    table = np.array([0.0] + [profile.junction_seconds.get(k, 0.0) for k in JUNCTION_KINDS[1:]])
    sec = table[np.asarray(kind, dtype=np.int64)]
    if urban is not None:
        sec = np.where(np.asarray(urban, dtype=bool), sec * profile.urban_junction_factor, sec)
    return sec

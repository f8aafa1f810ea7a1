"""The car profile: class default speeds (km/h), Danish implicit maxspeed zones, access and internal legs.

The profile is a small TOML file (``data/reference/car_profile.toml``) that users can edit; its
sha256 goes into the matrix provenance. :func:`edge_speeds` turns a frame of road segments into
travel speeds in km/h, vectorised over the whole network.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

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

@dataclass(frozen=True)
class CarProfile:
    """Speeds in km/h, access and internal-time parameters; ``path``/``sha256`` identify the file."""

    speeds_kmh: dict[str, float]
    maxspeed_zones: dict[str, float]
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
    limits = raw.get("limits", {})
    access = raw.get("access", {})
    internal = raw.get("internal", {})
    prof = CarProfile(
        speeds_kmh=speeds,
        maxspeed_zones={str(k).lower(): float(v) for k, v in raw.get("maxspeed_zones", {}).items()},
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


def edge_speeds(highway: pl.Series, maxspeed_kmh: pl.Series | None, profile: CarProfile) -> pl.Series:
    """Travel speed in km/h per segment: tagged maxspeed if present, else the class default."""
    default = highway.replace_strict(profile.speeds_kmh, default=None, return_dtype=pl.Float64)
    if default.null_count():
        unknown = highway.filter(default.is_null()).unique().to_list()
        raise InputError("road classes without a speed in the car profile", column="speeds_kmh", values=unknown)
    if maxspeed_kmh is None:
        return default.alias("speed_kmh")
    return maxspeed_kmh.cast(pl.Float64).fill_null(default).alias("speed_kmh")

"""The 98 Danish municipalities as reference data.

Derived by :func:`build` from the raw files in ``data/municipalities/raw/``:

* DAGI municipality boundaries (1:500 000, 2014, WGS84) — geometry, area and centroids;
* DST Kommunegrupper v1:2018 — the five municipality groups and the DST spelling of names;
* a code/ISO-region table — the region (1081–1085) of each municipality;
* DAGI region names.

Geometry is measured in EPSG:25832 (ETRS89 / UTM 32N, metres), the projection Danish agencies use, so
areas are in km² and the centroid is the true area centroid (the report's "geographic midpoint").
Two area centroids fall outside their municipality (0101 København lies in the Frederiksberg enclave,
0376 Guldborgsund in Guldborgsund strait); ``inside_lon/lat`` is therefore a second point that is always
inside, on land: the centroid itself when it lies inside (by at least :data:`INSIDE_MARGIN_M`), otherwise
the nearest point to it inside the municipality shrunk by that margin.
"""

from __future__ import annotations

import csv
import io
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from pendling._extras import optional
from pendling import paths
from pendling.errors import DataMissingError, InputError
from pendling.io import write_csv, write_parquet, write_text

if TYPE_CHECKING:
    import geopandas as gpd

REGION_HOVEDSTADEN = 1084
REGION_KEYS = {
    1081: "nordjylland",
    1082: "midtjylland",
    1083: "syddanmark",
    1084: "hovedstaden",
    1085: "sjaelland",
}
METRIC_CRS = "EPSG:25832"
INSIDE_MARGIN_M = 250.0
COORD_DECIMALS = 6  # ≈ 0.1 m: stable across GEOS builds, far below any routing snap distance

RAW_FILES = {
    "kommuner": "dagi_kommuner_500k.geojson",
    "regioner": "dagi_regioner_500k.geojson",
    "kommunegrupper": "dst_kommunegrupper_komgrp.csv",
    "regions_iso": "magnuslarsen_municipalities_data.csv",
}

MUNICIPALITY_SCHEMA: dict[str, pl.DataType] = {
    "code": pl.Int16(),
    "code4": pl.String(),
    "name": pl.String(),
    "region_code": pl.Int16(),
    "region_name": pl.String(),
    "kommunegruppe_code": pl.Int8(),
    "kommunegruppe": pl.String(),
    "area_km2": pl.Float64(),
    "centroid_lon": pl.Float64(),
    "centroid_lat": pl.Float64(),
    "inside_lon": pl.Float64(),
    "inside_lat": pl.Float64(),
    "centroid_inside": pl.Boolean(),
}

# Codes seen in DST data that are not among the 98. 411 Christiansø is state-administered and sits
# in Bornholm's waters; the others are StatBank groupings and Greenland codes.
_ALIASES: list[tuple[int, str, int | None, str]] = [
    (411, "alias", 400, "Christiansø: not a municipality; counted under 400 Bornholm"),
    (0, "unknown", None, "0: no municipality recorded"),
    *[(c, "abroad", None, f"{c}: outside Denmark (950 Uden for Danmark; 955-960 Greenland)") for c in range(950, 961)],
    (995, "unknown", None, "995: Uoplyst (not stated)"),
    (999, "unknown", None, "999: unknown"),
]


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def _require(path: Path) -> Path:
    if not path.is_file():
        raise DataMissingError(
            f"{path} is missing. Rebuild the municipality reference data with `pendling geo build`."
        )
    return path


@lru_cache(maxsize=4)
def _municipalities_cached(path: str) -> pl.DataFrame:
    return pl.read_parquet(path)


def municipalities() -> pl.DataFrame:
    """The 98 municipalities, one row each, sorted by ``code``.

    Columns: ``code`` (3-digit Int16), ``code4`` ('0101'), ``name`` (DST spelling), ``region_code``
    (1081–1085), ``region_name``, ``kommunegruppe_code`` (1–5), ``kommunegruppe``, ``area_km2`` (km²),
    ``centroid_lon/lat`` (area centroid, WGS84 degrees), ``inside_lon/lat`` (point inside, on land),
    ``centroid_inside`` (whether the centroid lies inside the municipality).
    """
    path = _require(paths.municipalities_dir() / "municipalities.parquet")
    return _municipalities_cached(str(path)).clone()


def boundaries() -> gpd.GeoDataFrame:
    """One (multi)polygon per municipality, EPSG:4326, with ``code``, ``code4``, ``name``, ``region_code``."""
    gpd = optional("geopandas", "maps", "municipality boundaries")

    path = _require(paths.municipalities_dir() / "boundaries.parquet")
    return gpd.read_parquet(path)


def code_aliases() -> pl.DataFrame:
    """Codes outside the 98 that DST data may carry: ``code``, ``status`` ('alias'|'abroad'|'unknown'),
    ``target`` (the municipality an alias counts under, else null), ``note``."""
    path = _require(paths.municipalities_dir() / "code_aliases.csv")
    return pl.read_csv(
        path, schema={"code": pl.Int16, "status": pl.String, "target": pl.Int16, "note": pl.String}
    )


def valid_codes() -> frozenset[int]:
    """The 98 municipality codes (3-digit integers)."""
    return frozenset(municipalities()["code"].to_list())


def region_of(code: int) -> int:
    """Region code (1081–1085) of a municipality code; 411 Christiansø resolves via Bornholm."""
    norm = normalize_code(pl.Series([code]), strict=True)[0]
    df = municipalities()
    return int(df.filter(pl.col("code") == norm)["region_code"][0])


def normalize_code(codes: pl.Series, *, strict: bool = False, name: str | None = None) -> pl.Series:
    """Map municipality codes onto the 98 (Int16): aliases applied (411 → 400), anything else → null.

    ``codes`` may be integers or strings such as '0101' / '101'. With ``strict=True`` an
    :class:`~pendling.errors.InputError` lists the values that are not municipalities (abroad,
    unknown, or not a code at all) instead of returning nulls. Nulls stay null.
    """
    label = name or codes.name or "code"
    as_int = _to_int_codes(codes, label)
    known = pl.Series(sorted(valid_codes()), dtype=pl.Int16)
    aliases = code_aliases().filter(pl.col("status") == "alias")
    mapping = dict(zip(aliases["code"].to_list(), aliases["target"].to_list(), strict=True))
    mapped = as_int.replace(mapping) if mapping else as_int
    out = pl.Series(label, mapped).cast(pl.Int16)
    out = pl.select(pl.when(out.is_in(known.implode())).then(out).otherwise(None).alias(label)).to_series()
    if strict:
        bad = as_int.filter(out.is_null() & as_int.is_not_null()).unique().sort()
        if len(bad):
            raise InputError(
                f"{len(bad)} code(s) are not among Denmark's 98 municipalities",
                column=label,
                values=bad.to_list(),
                hint="codes 0, 950–960, 995 and 999 mean abroad/unknown; remove those rows or "
                "call normalize_code(..., strict=False) to map them to null",
            )
    return out


def _to_int_codes(codes: pl.Series, label: str) -> pl.Series:
    if codes.dtype == pl.String:
        stripped = codes.str.strip_chars()
        as_int = stripped.cast(pl.Int32, strict=False)
        bad = codes.filter(as_int.is_null() & stripped.is_not_null() & (stripped != ""))
        if len(bad):
            raise InputError(
                "municipality codes must be whole numbers such as 101 or '0101'",
                column=label,
                values=bad.unique().sort().to_list(),
                hint="check the column map: is this really the municipality column?",
            )
        return as_int
    if codes.dtype.is_float():
        frac = codes.filter(codes.is_not_null() & (codes != codes.floor()))
        if len(frac):
            raise InputError(
                "municipality codes must be whole numbers",
                column=label,
                values=frac.unique().sort().to_list(),
                hint="the column holds fractional numbers; check the column map",
            )
    return codes.cast(pl.Int32, strict=False)


# ---------------------------------------------------------------------------------------------
# Building from raw inputs
# ---------------------------------------------------------------------------------------------


def _read_kommunegrupper(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """DST's KOMGRP export: UTF-8 with BOM, CRLF, ';'-separated, NIVEAU 1 = groups, 2 = municipalities."""
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    groups: dict[int, str] = {}
    members: list[tuple[int, str, int]] = []
    current: int | None = None
    for row in rows:  # 103 rows: order defines membership (SEKVENS)
        level, code, title = int(row["NIVEAU"]), int(row["KODE"]), row["TITEL"].strip()
        if level == 1:
            current = code
            groups[code] = title
        elif level == 2:
            if current is None:
                raise InputError("municipality before any group", file=path, column="NIVEAU")
            members.append((code, title, current))
    grp = pl.DataFrame(
        {"kommunegruppe_code": list(groups), "kommunegruppe": list(groups.values())},
        schema={"kommunegruppe_code": pl.Int8, "kommunegruppe": pl.String},
    )
    mem = pl.DataFrame(
        members, schema={"code": pl.Int16, "name": pl.String, "kommunegruppe_code": pl.Int8}, orient="row"
    )
    return grp, mem


def _read_regions_iso(path: Path) -> pl.DataFrame:
    df = pl.read_csv(path, schema_overrides={"lau_1": pl.Int16})
    return df.select(
        pl.col("lau_1").alias("code"),
        (pl.col("iso_3166_2").str.strip_prefix("DK-").cast(pl.Int16) + 1000).alias("region_code"),
    )


def build(raw_dir: str | Path | None = None, out_dir: str | Path | None = None) -> pl.DataFrame:
    """Derive the municipality files from the raw inputs; returns the municipality table.

    Writes ``municipalities.parquet``/``.csv``, ``boundaries.parquet`` (GeoParquet, EPSG:4326, dissolved
    to one multipolygon per municipality, unsimplified 1:500 000 geometry) and ``code_aliases.csv``.
    Deterministic: the same raw files give the same bytes.
    """
    gpd = optional("geopandas", "build", "pendling geo build")
    shapely = optional("shapely", "build", "pendling geo build")

    out = Path(out_dir) if out_dir else paths.municipalities_dir()
    raw = Path(raw_dir) if raw_dir else out / "raw"
    files = {k: _require(raw / v) for k, v in RAW_FILES.items()}

    groups, members = _read_kommunegrupper(files["kommunegrupper"])
    regions_iso = _read_regions_iso(files["regions_iso"])
    reg_names = {
        int(f["properties"]["REGIONKODE"]): f["properties"]["REGIONNAVN"]
        for f in json.loads(files["regioner"].read_text(encoding="utf-8"))["features"]
    }

    parts = gpd.read_file(files["kommuner"])
    parts["geometry"] = shapely.force_2d(parts.geometry.values)  # DAGI carries Z = -999
    parts = parts.to_crs(METRIC_CRS)
    parts["code"] = parts["KOMKODE"].astype(int)
    aliases = {c: t for c, s, t, _ in _ALIASES if s == "alias"}
    dropped_parts = parts[parts["code"].isin(list(aliases))]
    parts = parts[~parts["code"].isin(list(aliases))]
    dissolved = parts[["code", "geometry"]].dissolve(by="code", sort=True)
    geoms = shapely.make_valid(dissolved.geometry.values)

    codes = dissolved.index.to_numpy()
    area_km2 = shapely.area(geoms) / 1e6
    centroids = shapely.centroid(geoms)
    shrunk = shapely.buffer(geoms, -INSIDE_MARGIN_M)
    inside_ok = shapely.contains(shrunk, centroids)
    # nearest point of the shrunk polygon to the centroid: inside, on land, and as close to the midpoint
    # as the shape allows
    nearest = shapely.get_point(shapely.shortest_line(shrunk, centroids), 0)
    inside = np.where(inside_ok, centroids, nearest)
    if not shapely.contains(geoms, inside).all():
        raise RuntimeError("an inside point fell outside its municipality; check the raw geometry")

    to_wgs = gpd.GeoSeries(np.concatenate([centroids, inside]), crs=METRIC_CRS).to_crs("EPSG:4326")
    n = len(codes)
    cx, cy = to_wgs.x.to_numpy()[:n], to_wgs.y.to_numpy()[:n]
    ix, iy = to_wgs.x.to_numpy()[n:], to_wgs.y.to_numpy()[n:]

    geo = pl.DataFrame(
        {
            "code": codes.astype("int16"),
            "area_km2": np.round(area_km2, 3),
            "centroid_lon": np.round(cx, COORD_DECIMALS),
            "centroid_lat": np.round(cy, COORD_DECIMALS),
            "inside_lon": np.round(ix, COORD_DECIMALS),
            "inside_lat": np.round(iy, COORD_DECIMALS),
            "centroid_inside": shapely.contains(geoms, centroids),
        }
    )
    table = (
        members.join(groups, on="kommunegruppe_code", how="left")
        .join(regions_iso, on="code", how="left")
        .join(geo, on="code", how="full", coalesce=True)
        .with_columns(
            pl.col("code").cast(pl.Utf8).str.zfill(4).alias("code4"),
            pl.col("region_code").replace_strict(reg_names, return_dtype=pl.String, default=None).alias("region_name"),
        )
        .select(list(MUNICIPALITY_SCHEMA))
        .cast(MUNICIPALITY_SCHEMA)
        .sort("code")
    )
    _check_complete(table, files)

    out.mkdir(parents=True, exist_ok=True)
    write_parquet(table, out / "municipalities.parquet")
    write_csv(table, out / "municipalities.csv", float_precision=None)
    _write_aliases(out / "code_aliases.csv")

    bounds = gpd.GeoDataFrame(
        table.select("code", "code4", "name", "region_code").to_pandas(),
        geometry=gpd.GeoSeries(geoms, crs=METRIC_CRS).to_crs("EPSG:4326").values,
        crs="EPSG:4326",
    )
    bounds["geometry"] = shapely.set_precision(bounds.geometry.values, 1e-7)
    _write_geoparquet(bounds, out / "boundaries.parquet")
    write_text(_build_note(len(dropped_parts)), out / "BUILD.md")
    _municipalities_cached.cache_clear()
    return table


def _check_complete(table: pl.DataFrame, files: dict[str, Path]) -> None:
    for col in table.columns:
        missing = table.filter(pl.col(col).is_null())["code"].to_list()
        if missing:
            raise InputError(
                f"municipalities without {col} after joining the raw sources",
                file=files["kommunegrupper"],
                column=col,
                values=missing,
                hint="the raw files disagree on the set of municipalities; check data/municipalities/raw/",
            )
    if table.height != 98:
        raise InputError(f"expected 98 municipalities, got {table.height}", file=files["kommuner"])


def _write_aliases(path: Path) -> None:
    df = pl.DataFrame(
        _ALIASES, schema={"code": pl.Int16, "status": pl.String, "target": pl.Int16, "note": pl.String}, orient="row"
    ).sort("code")
    write_csv(df, path)


def _write_geoparquet(gdf: gpd.GeoDataFrame, path: Path) -> None:
    from pendling.io import atomic_path

    with atomic_path(path, ".parquet") as tmp:
        gdf.to_parquet(tmp, index=False, compression="zstd", compression_level=9, geometry_encoding="WKB")


def _build_note(n_christianso_parts: int) -> str:
    return (
        "# How these files were built\n\n"
        "`pendling geo build` (src/pendling/geo.py) from the files in `raw/` (see SOURCES.md).\n\n"
        f"- Geometry: DAGI 1:500 000 parts dissolved per KOMKODE; Z dropped; {n_christianso_parts} part(s) of "
        "0411 Christiansø left out (not a municipality; code 411 is an alias of 400 Bornholm in code_aliases.csv).\n"
        "- Area and centroid computed in EPSG:25832; area in km² (3 decimals), coordinates WGS84 rounded to 6 "
        "decimals.\n"
        f"- `inside_lon/lat`: the centroid if it lies inside the municipality shrunk by {INSIDE_MARGIN_M:.0f} m, "
        "else the nearest point of that shrunk polygon to the centroid (always inside, on land).\n"
        "- Names: DST spelling from Kommunegrupper v1:2018 (e.g. 'Høje-Taastrup', 'Aarhus').\n"
        "- Region: ISO 3166-2 DK-81..85 → 1081..1085 from the code table; names from DAGI regions.\n"
        "- boundaries.parquet: GeoParquet (WKB), EPSG:4326, unsimplified, precision 1e-7 degrees.\n"
    )

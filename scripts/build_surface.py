"""Derive the population and jobs surface on the national 1 km grid into data/surface/.

Input: the OpenMapTiles vector tiles of Denmark (zoom 13; layers landuse, building, place) and the
municipality totals in data/reference/synth/municipality_targets.csv (FOLK1A, AFSTA3, AFSTB3), the
shipped municipality boundaries for point in polygon. Method: pendling.surface. Deterministic: the
same tiles give the same bytes (SOURCE_DATE_EPOCH pins the build date in provenance.json).

Usage: python scripts/build_surface.py [--tiles ../shared/data/roads/tiles] [--out data/surface] [--workers 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path

import polars as pl

from pendling import io, surface
from pendling.routing.build import display_path, tiles_manifest_sha256
from pendling.routing.landcover import read_landcover
from pendling.routing.tiles import tile_files

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiles", type=Path, default=REPO.parent / "shared" / "data" / "roads" / "tiles")
    ap.add_argument("--out", type=Path, default=REPO / "data" / "surface")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    cells, places = read_landcover(a.tiles, workers=a.workers)
    targets = surface.load_targets()
    grid, info = surface.build_surface(cells, places, targets)
    info["employed_by_residence_check"] = surface.employed_fit(grid, targets) | {
        "note": "persons scaled nationally to AFSTB3 employed by residence (Nov 2022); not fitted to it"
    }
    sums = grid.select(pl.col("persons").sum(), pl.col("jobs").sum()).row(0)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else dt.datetime.now(dt.UTC)
    prov = {
        "description": "Population and jobs weights on the DDKN 1 km grid (EPSG:25832), derived from OpenStreetMap vector tiles",
        "licence": "ODbL 1.0 — © OpenStreetMap contributors (grid weights); municipality totals © Statistics Denmark",
        "input": {
            "kind": "vector_tiles",
            "file": display_path(a.tiles),
            "sha256": tiles_manifest_sha256(tile_files(a.tiles), a.tiles),
            "sha256_of": "manifest of 'relative path<TAB>sha256' lines of the z13 tiles",
            "osm_date": "2021-08-05",
            "layers": ["landuse", "building", "place"],
            "targets": "data/reference/synth/municipality_targets.csv",
            "targets_sha256": io.sha256_file(REPO / "data" / "reference" / "synth" / "municipality_targets.csv"),
        },
        "units": {
            "persons": "modelled residents (sum over cells = Σ fitted municipality values)",
            "jobs": "modelled jobs by workplace",
            "*_m2": "square metres (landuse area or building footprint)",
            "land_km2": "1 per cell whose centre lies in a municipality",
            "villages, hamlets": "number of place points",
        },
        "totals": {"persons": round(sums[0]), "jobs": round(sums[1]), "cells": grid.height},
        **info,
        "build_date": when.date().isoformat(),
        "command": "python scripts/build_surface.py",
    }
    a.out.mkdir(parents=True, exist_ok=True)
    io.write_parquet(grid, a.out / "grid_1km.parquet")
    io.write_json(prov, a.out / "provenance.json")
    r, w = info["residential"]["fit"], info["workplace"]["fit"]
    print(f"wrote {grid.height:,} cells to {a.out / 'grid_1km.parquet'}")
    print(f"population fit: r {r['in_sample']['pearson_r']}, median |%| {r['in_sample']['median_abs_pct_error']} (leave-one-out {r['leave_one_out']['median_abs_pct_error']})")
    print(f"jobs fit: r {w['in_sample']['pearson_r']}, median |%| {w['in_sample']['median_abs_pct_error']} (leave-one-out {w['leave_one_out']['median_abs_pct_error']})")


if __name__ == "__main__":
    main()

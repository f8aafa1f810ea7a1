"""Fixtures for the report tests: hand-built results, attrition, a toy 98×98 matrix and toy boundaries."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import polars as pl
import pytest
from .report_data import make_results, toy_minutes
from shapely.geometry import box


@pytest.fixture
def results() -> pl.DataFrame:
    return make_results()


@pytest.fixture
def attrition() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "stage": ["panel", "panel", "flows", "flows", "flows"],
            "year": [None, None, 2016, 2016, 2016],
            "bucket": ["valid", "missing_work_muni", "mover", "job_changer", "stayer"],
            "n": [12_000, 40, 300, 410, 9_000],
            "description": ["rows kept", "no workplace municipality", "moved home, kept LBNR",
                            "new LBNR, same home", "neither changed"],
        },
        schema={"stage": pl.Utf8, "year": pl.Int16, "bucket": pl.Utf8, "n": pl.Int64, "description": pl.Utf8},
    )


@pytest.fixture(scope="session")
def municipality_codes() -> list[int]:
    from pendling import geo

    return geo.municipalities()["code"].to_list()


@pytest.fixture(scope="session")
def toy_matrix(municipality_codes: list[int]) -> pl.DataFrame:
    """A full 98×98 long matrix (minutes from :func:`toy_minutes`, km = minutes × 1.1)."""
    codes = np.array(municipality_codes, dtype=np.int64)
    o, d = np.meshgrid(codes, codes, indexing="ij")
    minutes = toy_minutes(o.ravel(), d.ravel())
    return pl.DataFrame({
        "origin": o.ravel(), "destination": d.ravel(), "minutes": minutes, "km": minutes * 1.1,
    }).with_columns(pl.col("origin").cast(pl.Int16), pl.col("destination").cast(pl.Int16))


@pytest.fixture(scope="session")
def toy_boundaries(municipality_codes: list[int]) -> gpd.GeoDataFrame:
    """98 squares of 10 km on a grid in EPSG:25832, shuffled so the map must align by code."""
    from pendling import geo

    m = geo.municipalities()
    rows = []
    for i, (code, name, region) in enumerate(zip(m["code"], m["name"], m["region_code"], strict=True)):
        x, y = 450_000 + (i % 10) * 10_000, 6_050_000 + (i // 10) * 10_000
        rows.append({"code": code, "name": name, "region_code": region, "geometry": box(x, y, x + 9_000, y + 9_000)})
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:25832").to_crs("EPSG:4326")
    return gdf.sample(frac=1.0, random_state=1).reset_index(drop=True)


@pytest.fixture
def ferries_csv(tmp_path):
    """Two ferry routes in the routing module's table format (data/reference/ferries.csv)."""
    path = tmp_path / "ferries.csv"
    path.write_text(
        "route,terminal_a,lon_a,lat_a,terminal_b,lon_b,lat_b,crossing_minutes,wait_minutes,extra_minutes,km,snap_class_b,source\n"
        "samsoe_kalundborg,Ballen,10.55,55.86,Kalundborg,11.08,55.68,75,20,0,,,test\n"
        "laesoe,Østerby,10.93,57.28,Frederikshavn,10.54,57.44,90,20,5,,,test\n",
        encoding="utf-8",
    )
    return path

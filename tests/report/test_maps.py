"""Maps: the coloured values equal the matrix; heatmap ordered by region; ferries and fixed links drawn."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import polars as pl
import pytest

from pendling import geo
from pendling.errors import InputError
from pendling.report import maps


def _collection(fig, gid: str):
    hits = [c for c in fig.axes[0].collections if c.get_gid() == gid]
    assert len(hits) == 1, f"expected one collection {gid!r}"
    return hits[0]


def test_travel_time_map_colours_equal_matrix(toy_matrix, toy_boundaries, ferries_csv) -> None:
    from .report_data import toy_minutes

    fr = maps.travel_time_map(
        751, toy_matrix, boundaries=toy_boundaries, ferries=maps.ferry_lines(ferries_csv),
        fixed_links=maps.load_fixed_links(),
    )
    codes = sorted(geo.valid_codes())
    assert fr.data["destination"].to_list() == codes
    expected = toy_minutes(np.full(len(codes), 751), np.array(codes))  # computed without the matrix
    np.testing.assert_allclose(fr.data["minutes"].to_numpy(), expected)
    colours = _collection(fr.figure, "municipalities").get_array()
    np.testing.assert_allclose(np.asarray(colours), expected)
    assert fr.data.filter(pl.col("destination") == 751)["name"].item() == "Aarhus"
    assert len(_collection(fr.figure, "ferries").get_paths()) == 2
    assert len(_collection(fr.figure, "fixed_links").get_paths()) == len(maps.load_fixed_links())
    assert "Aarhus (751)" in fr.figure.axes[0].get_title(loc="left")


def test_map_is_in_utm32(toy_matrix, toy_boundaries) -> None:
    empty = gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
    fr = maps.travel_time_map(101, toy_matrix, boundaries=toy_boundaries, ferries=empty, fixed_links=empty)
    x0, x1 = fr.figure.axes[0].get_xlim()
    # the toy squares lie at easting 450–550 km in EPSG:25832 (metres), not in degrees
    assert 400_000 < x0 < 460_000 and 530_000 < x1 < 600_000
    assert [c.get_gid() for c in fr.figure.axes[0].collections if c.get_gid()] == ["municipalities"]


def test_map_km_and_errors(toy_matrix, toy_boundaries) -> None:
    empty = gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
    fr = maps.travel_time_map(101, toy_matrix, boundaries=toy_boundaries, ferries=empty, fixed_links=empty, value="km")
    np.testing.assert_allclose(np.asarray(_collection(fr.figure, "municipalities").get_array()), fr.data["km"].to_numpy())
    with pytest.raises(InputError, match="not an origin"):
        maps.travel_time_map(999, toy_matrix, boundaries=toy_boundaries, ferries=empty, fixed_links=empty)
    with pytest.raises(InputError, match="do not match"):
        maps.travel_time_map(101, toy_matrix, boundaries=toy_boundaries.iloc[:50], ferries=empty, fixed_links=empty)


def test_heatmap_ordered_by_region(toy_matrix) -> None:
    munis = geo.municipalities()
    fr = maps.matrix_heatmap(toy_matrix, municipalities=munis)
    order = fr.data["origin"].to_list()
    assert fr.data.columns[1:] == [str(c) for c in order]
    region = dict(munis.select("code", "region_code").iter_rows())
    ranks = [maps.REGION_ORDER.index(region[c]) for c in order]
    assert ranks == sorted(ranks) and order[0] == 101 and region[order[-1]] == 1081
    image = fr.figure.axes[0].images[0]
    assert image.get_gid() == "matrix"
    arr = np.asarray(image.get_array())
    # cell (i, j) is origin order[i] → destination order[j]
    from .report_data import toy_minutes

    o, d = np.meshgrid(np.array(order), np.array(order), indexing="ij")
    np.testing.assert_allclose(arr, toy_minutes(o, d))
    labels = [t.get_text() for t in fr.figure.axes[0].get_yticklabels()]
    assert labels == ["Hovedstaden", "Sjælland", "Syddanmark", "Midtjylland", "Nordjylland"]


def test_fixed_links_shipped() -> None:
    links = maps.load_fixed_links()
    assert set(links["kind"]) == {"bridge", "tunnel"}
    # Storebælt: both bridges (West ≈ 6.6 km, East ≈ 6.8 km; carriageways drawn separately)
    lengths = sorted(links["length_m"], reverse=True)
    assert lengths[0] > 6_000 and lengths[2] > 5_000
    assert links.crs.to_epsg() == 4326


def test_ferry_lines(tmp_path, ferries_csv) -> None:
    lines = maps.ferry_lines(ferries_csv)
    by_route = lines.set_index("route")
    assert sorted(by_route.index) == ["laesoe", "samsoe_kalundborg"]
    assert by_route.loc["samsoe_kalundborg", "minutes"] == 95.0 and by_route.loc["laesoe", "minutes"] == 115.0
    assert by_route.loc["samsoe_kalundborg", "geometry"].coords[:] == [(10.55, 55.86), (11.08, 55.68)]
    bad = tmp_path / "f.csv"
    bad.write_text(ferries_csv.read_text(encoding="utf-8").replace("10.93,57.28", ",57.28"), encoding="utf-8")
    with pytest.raises(InputError, match="terminals"):
        maps.ferry_lines(bad)
    shipped = maps.ferry_lines()
    assert len(shipped) > 10 and shipped.crs.to_epsg() == 4326

"""The 98 municipalities: counts, codes and geometry checked against the official lists, held literally here."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest
import shapely

from pendling import geo, paths
from pendling.errors import InputError

# Official code lists (register-domain notes §3.1, DST Kommunegrupper v1:2018), held here independently of data/.
REGIONS = {
    1084: [101, 147, 151, 153, 155, 157, 159, 161, 163, 165, 167, 169, 173, 175, 183, 185, 187, 190, 201, 210,
           217, 219, 223, 230, 240, 250, 260, 270, 400],
    1085: [253, 259, 265, 269, 306, 316, 320, 326, 329, 330, 336, 340, 350, 360, 370, 376, 390],
    1083: [410, 420, 430, 440, 450, 461, 479, 480, 482, 492, 510, 530, 540, 550, 561, 563, 573, 575, 580, 607,
           621, 630],
    1082: [615, 657, 661, 665, 671, 706, 707, 710, 727, 730, 740, 741, 746, 751, 756, 760, 766, 779, 791],
    1081: [773, 787, 810, 813, 820, 825, 840, 846, 849, 851, 860],
}
KOMMUNEGRUPPER = {
    1: [101, 147, 151, 153, 155, 157, 159, 161, 163, 165, 167, 169, 173, 175, 183, 185, 187, 190, 201, 223, 230,
        240, 253, 269],
    2: [461, 751, 851],
    3: [217, 219, 259, 265, 330, 370, 561, 607, 615, 621, 630, 657, 661, 730, 740, 791],
    4: [210, 250, 260, 270, 316, 320, 329, 336, 340, 350, 410, 420, 430, 440, 450, 480, 575, 706, 710, 727, 746,
        756, 766, 840],
    5: [306, 326, 360, 376, 390, 400, 479, 482, 492, 510, 530, 540, 550, 563, 573, 580, 665, 671, 707, 741, 760,
        773, 779, 787, 810, 813, 820, 825, 846, 849, 860],
}


@pytest.fixture(scope="module")
def munis() -> pl.DataFrame:
    return geo.municipalities()


def test_exactly_the_official_98(munis: pl.DataFrame) -> None:
    official = sorted(c for codes in REGIONS.values() for c in codes)
    assert len(official) == 98
    assert munis["code"].to_list() == official
    assert munis["code4"].to_list() == [f"{c:04d}" for c in official]
    assert munis.schema["code"] == pl.Int16


def test_region_and_group_counts(munis: pl.DataFrame) -> None:
    counts = dict(munis.group_by("region_code").len().iter_rows())
    assert counts == {1081: 11, 1082: 19, 1083: 22, 1084: 29, 1085: 17}
    for region, codes in REGIONS.items():
        assert sorted(munis.filter(pl.col("region_code") == region)["code"].to_list()) == codes
    groups = dict(munis.group_by("kommunegruppe_code").len().iter_rows())
    assert groups == {1: 24, 2: 3, 3: 16, 4: 24, 5: 31}
    for group, codes in KOMMUNEGRUPPER.items():
        assert sorted(munis.filter(pl.col("kommunegruppe_code") == group)["code"].to_list()) == codes


def test_dst_spelling_and_no_nulls(munis: pl.DataFrame) -> None:
    names = dict(munis.select("code", "name").iter_rows())
    assert names[169] == "Høje-Taastrup"
    assert names[751] == "Aarhus"
    assert names[101] == "København"
    assert munis.null_count().sum_horizontal().item() == 0


def test_total_area_near_43000_km2(munis: pl.DataFrame) -> None:
    total = munis["area_km2"].sum()
    assert abs(total - 43_000) / 43_000 < 0.01
    # Bornholm ≈ 588 km², Frederiksberg ≈ 8.7 km² (DST figures) at 1:500 000
    areas = dict(munis.select("code", "area_km2").iter_rows())
    assert 560 < areas[400] < 620
    assert 7.5 < areas[147] < 10


def test_centroids_outside_are_flagged_and_inside_points_are_inside(munis: pl.DataFrame) -> None:
    outside = sorted(munis.filter(~pl.col("centroid_inside"))["code"].to_list())
    assert {101, 376} <= set(outside)
    b = geo.boundaries().set_index("code")
    pts = shapely.points(munis["inside_lon"].to_numpy(), munis["inside_lat"].to_numpy())
    polys = b.loc[munis["code"].to_list()].geometry.values
    assert shapely.contains(polys, pts).all()
    cpts = shapely.points(munis["centroid_lon"].to_numpy(), munis["centroid_lat"].to_numpy())
    assert (shapely.contains(polys, cpts) == munis["centroid_inside"].to_numpy()).all()
    # København's centroid lies in Frederiksberg (the enclave trap)
    kbh = munis.filter(pl.col("code") == 101).row(0, named=True)
    assert b.loc[147].geometry.contains(shapely.Point(kbh["centroid_lon"], kbh["centroid_lat"]))


def test_normalize_code_aliases_and_strict() -> None:
    s = pl.Series("KOM", [101, 411, 950, 0, None, 999, 860])
    out = geo.normalize_code(s)
    assert out.to_list() == [101, 400, None, None, None, None, 860]
    assert geo.normalize_code(pl.Series(["0101", "411", " 751"])).to_list() == [101, 400, 751]
    with pytest.raises(InputError) as exc:
        geo.normalize_code(s, strict=True)
    msg = str(exc.value)
    assert "[0, 950, 999]" in msg and "KOM" in msg
    with pytest.raises(InputError, match="whole numbers"):
        geo.normalize_code(pl.Series("KOM", ["101", "abc"]))
    assert geo.region_of(411) == 1084
    assert geo.region_of(751) == 1082


def test_alias_table() -> None:
    a = geo.code_aliases()
    assert a.filter(pl.col("code") == 411).row(0, named=True)["target"] == 400
    assert set(a.filter(pl.col("status") == "abroad")["code"].to_list()) == set(range(950, 961))
    assert {0, 995, 999} <= set(a.filter(pl.col("status") == "unknown")["code"].to_list())


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != "SOURCES.md"
    }


def test_build_reproduces_committed_files_byte_for_byte(tmp_path: Path) -> None:
    shipped = paths.municipalities_dir()
    geo.build(raw_dir=shipped / "raw", out_dir=tmp_path)
    assert _digest(tmp_path) == _digest(shipped)


def test_cli_geo_list_and_build(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pendling.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["geo", "list", "--region", "1081"])
    assert res.exit_code == 0, res.output
    assert "11 municipalities" in res.output and "Aalborg" in res.output
    res = runner.invoke(app, ["geo", "build", "--raw", str(paths.municipalities_dir() / "raw"), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "municipalities.parquet").is_file()
    res = runner.invoke(app, ["geo", "build", "--raw", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "pendling geo build" in res.output

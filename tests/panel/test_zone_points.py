"""Grid cells from x/y coordinates (EPSG:25832 m) in every reader format, integer cell codes, and
grid cells read only when asked: a municipality-level run of a grid extract is the run without cells."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from test_readers import _write

from pendling import zones as Z
from pendling.errors import InputError
from pendling.mobility.api import run
from pendling.panel import load_panel
from pendling.panel.buckets import ZONE_BUCKETS

FORMATS = ("parquet", "csv", "dta", "xpt")


@pytest.fixture(scope="module")
def matrix() -> pl.DataFrame:
    from pendling.odmatrix import load_matrix

    return load_matrix()
POINTS = {"home_x": "BOP_X", "home_y": "BOP_Y", "work_x": "ARB_X", "work_y": "ARB_Y"}

# (home x, home y, KOM, expected 1 km cell or bucket, expected 100 m cell) — cells worked out by hand:
# easting/northing floor-divided by the cell size; a point on a border is in the cell east/north of it
CASES = [
    (724500.0, 6176500.0, 101, "1km_6176_724", "100m_61765_7245"),
    (724000.0, 6176000.0, 101, "1km_6176_724", "100m_61760_7240"),  # exactly on the corner
    (723999.5, 6176500.0, 101, "1km_6176_723", "100m_61765_7239"),  # half a metre west of the border
    (724099.9, 6176099.9, 101, "1km_6176_724", "100m_61760_7240"),  # just inside the 100 m cell
    (float("nan"), 6176500.0, 101, "excluded_zone_malformed", None),
    (None, 6176500.0, 101, "excluded_zone_malformed", None),
    (-5.0, 6176500.0, 101, "excluded_zone_outside_denmark", None),  # negative: not in Denmark
    (724500.0, 9_000_000.0, 101, "excluded_zone_outside_denmark", None),
    (724500.0, 6176500.0, 751, "excluded_zone_outside_municipality", None),  # a København point for Aarhus
]


def _frame(cases=CASES) -> pl.DataFrame:
    n = len(cases)
    return pl.DataFrame({
        "PNR": list(range(1, n + 1)), "AAR": [2020] * n, "KOM": [c[2] for c in cases], "ARBKOM": [101] * n,
        "LBNR": [5] * n, "DISCO_KODE": ["2512"] * n,
        "BOP_X": pl.Series([c[0] for c in cases], dtype=pl.Float64),
        "BOP_Y": pl.Series([c[1] for c in cases], dtype=pl.Float64),
        "ARB_X": [724500.0] * n, "ARB_Y": [6176500.0] * n,
    })


def _buckets(p) -> dict[str, int]:
    return {b: n for b, n in p.attrition.select("bucket", "n").iter_rows() if n}


@pytest.mark.parametrize("fmt", FORMATS)
def test_points_become_cells_in_every_format(tmp_path: Path, fmt: str) -> None:
    f = _write(fmt, _frame(), tmp_path / f"ras2020.{fmt}")
    p = load_panel(f, column_map=POINTS, zones="grid1km", cache=False)
    kept = [c for c in CASES if c[3].startswith("1km")]
    assert p.frame["pnr"].to_list() == [i + 1 for i, c in enumerate(CASES) if c[3].startswith("1km")]
    assert p.frame.schema["home_zone"] == pl.Int64
    assert Z.cell_text(p.frame["home_zone"]).to_list() == [c[3] for c in kept]
    assert Z.cell_text(p.frame["work_zone"]).to_list() == ["1km_6176_724"] * len(kept)
    got = _buckets(p)
    for bucket in ZONE_BUCKETS:
        assert got.get(bucket, 0) == sum(c[3] == bucket for c in CASES), bucket
    assert p.provenance["zones"]["sources"]["home"]["coordinates"] == ["BOP_X/BOP_Y"]
    # 100 m when no size is asked for (compute coarsens); the same rows kept
    fine = load_panel(f, column_map=POINTS, zones=True, cache=False)
    assert Z.cell_text(fine.frame["home_zone"]).to_list() == [c[4] for c in kept]


@pytest.mark.parametrize("fmt", FORMATS)
def test_text_coordinates(tmp_path: Path, fmt: str) -> None:
    df = _frame(CASES[:4]).with_columns(
        pl.Series("BOP_X", ["724500", " 724000.0 ", "abc", ""]), pl.Series("BOP_Y", ["6176500"] * 4))
    f = _write(fmt, df, tmp_path / f"ras2020.{fmt}")
    p = load_panel(f, column_map=POINTS, zones="grid1km", cache=False)
    assert Z.cell_text(p.frame["home_zone"]).to_list() == ["1km_6176_724", "1km_6176_724"]
    assert _buckets(p)["excluded_zone_malformed"] == 2  # 'abc' and ''


def test_id_column_wins_over_coordinates_and_half_points_are_errors(tmp_path: Path) -> None:
    df = _frame(CASES[:1]).with_columns(pl.lit("1km_6176_723").alias("BOP_DDKN"))
    p = load_panel(df, column_map=POINTS, zones="grid1km")
    assert Z.cell_text(p.frame["home_zone"]).to_list() == ["1km_6176_723"]  # the id, not the point's 724
    assert any("BOP_DDKN" in w and "BOP_X/BOP_Y" in w and "not used" in w for w in p.warnings)
    with pytest.raises(InputError, match="need both x and y") as err:
        load_panel(_frame(CASES[:1]).drop("BOP_Y"), column_map=POINTS, zones=True)
    assert err.value.column == "BOP_X"
    with pytest.raises(InputError, match="no input has a home or workplace cell"):
        load_panel(_frame(CASES[:1]).drop("BOP_X", "BOP_Y", "ARB_X", "ARB_Y"), zones=True)


def test_codes_round_trip_and_coarsen() -> None:
    rng = np.random.default_rng(3)
    ids = []
    for res, (nd, ed) in Z.GRID_DIGITS.items():
        n = rng.integers(Z.DK_NORTH_M[0] // res, Z.DK_NORTH_M[1] // res, 200)
        e = rng.integers(Z.DK_EAST_M[0] // res, Z.DK_EAST_M[1] // res, 200)
        ids += [f"{Z.GRID_PREFIX[res]}_{a:0{nd}d}_{b:0{ed}d}" for a, b in zip(n, e, strict=True)]
    codes = Z.cell_codes(pl.Series("z", ids))
    assert codes.dtype == pl.Int64 and codes.null_count() == 0 and codes.n_unique() == len(set(ids))
    assert Z.cell_text(codes).to_list() == ids
    assert Z.cell_codes(pl.Series(["1km_6170_720"])).item() == 1000 * 10**13 + 6_170_000 * 10**6 + 720_000
    parts = Z.code_cells(codes)
    ref = Z.parse_cells(pl.Series(ids))
    assert parts.select("resolution_m", "north_m", "east_m").equals(ref.select("resolution_m", "north_m", "east_m"))
    assert Z.code_cells(pl.Series([5, -1, None, 1000 * 10**13 + 6_170_500 * 10**6], dtype=pl.Int64))["error"].to_list() == [
        "not a cell code"] * 4  # 6,170,500 is not a whole km
    # coarsening = the coarse cell holding the corner (independently: cell_ids of the corner point)
    fine = parts.filter(pl.col("resolution_m") == 100)
    coarse = pl.select(Z.coarsen_codes(pl.lit(codes.filter(parts["resolution_m"] == 100)), 1000)).to_series()
    assert Z.cell_text(coarse).to_list() == Z.cell_ids(fine["east_m"].to_numpy(), fine["north_m"].to_numpy(), 1000).to_list()
    # points → codes agree with cell_ids (NumPy floor) on random points
    x, y = rng.uniform(430_000, 900_000, 500), rng.uniform(6_040_000, 6_410_000, 500)
    pts = pl.DataFrame({"x": x, "y": y})
    for res in (100, 1000, 10_000):
        got = Z.cell_text(pts.select(Z.xy_codes(pl.col("x"), pl.col("y"), res)).to_series())
        assert got.to_list() == Z.cell_ids(x, y, res).to_list()


@pytest.fixture(scope="module")
def grid_src(tmp_path_factory: pytest.TempPathFactory, matrix: pl.DataFrame) -> Path:
    """A small synthetic grid extract with a few bad cells (so reading the cells would change the panel)."""
    from pendling.synth import generate

    src = tmp_path_factory.mktemp("zone-points") / "grid"
    generate(src, persons=3000, years="2020-2021", seed=4, matrix=matrix, zones="grid1km")
    f = src / "ras2021.parquet"
    df = pl.read_parquet(f)
    df.with_columns(pl.when(pl.int_range(pl.len()) % 50 == 0).then(pl.lit("junk")).otherwise(pl.col("BOP_DDKN"))
                    .alias("BOP_DDKN")).write_parquet(f)
    return src


def test_municipality_run_of_a_grid_extract_is_the_run_without_cells(
        tmp_path: Path, matrix: pl.DataFrame, grid_src: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PENDLING_CACHE_DIR", str(tmp_path / "cache"))
    src = grid_src
    plain = tmp_path / "plain"
    plain.mkdir()
    for f in sorted(src.glob("ras*.parquet")):
        pl.read_parquet(f).drop("BOP_DDKN", "ARB_DDKN").write_parquet(plain / f.name)
    a, b = load_panel(src), load_panel(plain)
    assert a.frame.equals(b.frame) and a.attrition.equals(b.attrition) and a.flags.equals(b.flags)
    assert a.provenance["zones"] == b.provenance["zones"] == {
        "read": False, "columns": [], "points_resolution_m": 100, "sources": {}}
    ra, rb = run(a, matrix, disclosure=False), run(b, matrix, disclosure=False)
    assert ra.results.equals(rb.results) and ra.attrition.equals(rb.attrition)
    # from paths too (compute loads the panel itself, without the cells at municipality level)
    assert run(src, matrix, disclosure=False).results.equals(rb.results)
    # the test can fail: read with its cells, the same extract is another panel
    cells = load_panel(src, zones="auto")
    assert dict(cells.attrition.select("bucket", "n").iter_rows())["excluded_zone_malformed"] == 60
    assert not run(cells, matrix, disclosure=False).results.equals(rb.results)


def test_cache_keeps_panels_with_and_without_cells_apart(tmp_path: Path, grid_src: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PENDLING_CACHE_DIR", str(tmp_path / "cache"))
    src = grid_src
    without = load_panel(src)
    with_cells = load_panel(src, zones="auto")
    assert "home_zone" not in without.frame.columns and "home_zone" in with_cells.frame.columns
    again = load_panel(src, zones="auto")  # from the cache, with the cells as codes
    assert again.frame.equals(with_cells.frame) and again.frame.schema["home_zone"] == pl.Int64
    assert "home_zone" not in load_panel(src).frame.columns


def test_cli_municipality_run_ignores_cells_and_export_writes_ids(tmp_path: Path, grid_src: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from pendling.cli import app

    monkeypatch.setenv("PENDLING_CACHE_DIR", str(tmp_path / "cache"))
    plain = tmp_path / "plain"
    plain.mkdir()
    for f in sorted(grid_src.glob("ras*.parquet")):
        pl.read_parquet(f).drop("BOP_DDKN", "ARB_DDKN").write_parquet(plain / f.name)
    outs = []
    for name, src in (("grid", grid_src), ("plain", plain)):
        res = CliRunner().invoke(app, ["compute", "--panel", str(src), "--no-disclosure", "--max-rows", "0",
                                       "--out", str(tmp_path / f"{name}.parquet")])
        assert res.exit_code == 0, res.output
        outs.append(pl.read_parquet(tmp_path / f"{name}.parquet"))
    assert outs[0].equals(outs[1])
    # panel export reads the cells ('auto') and writes them as DDKN ids, not codes
    res = CliRunner().invoke(app, ["panel", "export", str(grid_src), "--out", str(tmp_path / "p.parquet")])
    assert res.exit_code == 0, res.output
    table = pl.read_parquet(tmp_path / "p.parquet")
    assert table.schema["home_zone"] == pl.String
    assert table["home_zone"].str.contains(r"^1km_\d{4}_\d{3}$").all()
    panel = load_panel(grid_src, zones="auto")
    assert table["work_zone"].to_list() == Z.cell_text(panel.frame["work_zone"]).to_list()

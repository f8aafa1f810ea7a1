"""The `pendling roads` / `pendling matrix` commands on the fixtures (thin wrappers over the API)."""

from __future__ import annotations

import polars as pl
from typer.testing import CliRunner

from pendling.cli import app

runner = CliRunner()


def test_roads_and_matrix_build_on_a_fixture(tmp_path, osm_dir):
    out = tmp_path / "roads"
    r = runner.invoke(app, ["roads", "build", "--osm", str(osm_dir / "roenne.osm"), "--no-ferries", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "edges.parquet").is_file() and "Dropped" in r.output
    pts = tmp_path / "pts.csv"
    pl.DataFrame({"code": [1, 2, 3], "lon": [14.70, 14.71, 14.72], "lat": [55.10, 55.105, 55.095], "area_km2": [2.0, 3.0, 1.0]}).write_csv(pts)
    r = runner.invoke(app, ["matrix", "build", "--graph", str(out), "--points", str(pts), "--out", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    m = pl.read_parquet(tmp_path / "m" / "od_matrix.parquet")
    assert m.height == 9 and (m["minutes"] > 0).all()
    first = (tmp_path / "m" / "od_matrix.parquet").read_bytes()
    runner.invoke(app, ["matrix", "build", "--graph", str(out), "--points", str(pts), "--out", str(tmp_path / "m")])
    assert (tmp_path / "m" / "od_matrix.parquet").read_bytes() == first  # deterministic


def test_bad_input_exits_2_with_a_message(tmp_path):
    r = runner.invoke(app, ["roads", "build", "--osm", str(tmp_path / "nope.osm")])
    assert r.exit_code == 2 and "not found" in r.output
    r = runner.invoke(app, ["matrix", "build", "--graph", str(tmp_path), "--out", str(tmp_path / "m")])
    assert r.exit_code == 2 and "road graph file missing" in r.output


def test_show_and_check_on_the_shipped_matrix():
    r = runner.invoke(app, ["matrix", "show", "--from", "101", "--to", "751"])
    assert r.exit_code == 0, r.output
    assert "751" in r.output
    r = runner.invoke(app, ["matrix", "check"])
    assert r.exit_code == 0, r.output
    assert "unreachable pairs: 0" in r.output and "triangle" in r.output

"""`paths.roads_dir()`: where the stored national road graph lives, in a checkout and in the wheel."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import polars as pl

from pendling import paths
from pendling.cli.roads import default_graph_dir

REPO = Path(__file__).resolve().parents[2]


def test_roads_dir_is_under_the_data_dir(monkeypatch, tmp_path) -> None:
    assert paths.roads_dir() == paths.data_dir() / "roads"
    monkeypatch.setenv("PENDLING_DATA_DIR", str(tmp_path))
    assert paths.roads_dir() == tmp_path / "roads"
    assert default_graph_dir() == tmp_path / "roads"  # the CLI default follows it


def test_stored_graph_is_there() -> None:
    d = paths.roads_dir()
    for name in ("nodes.parquet", "edges.parquet", "graph.json", "ATTRIBUTION.md"):
        assert (d / name).is_file(), name
    info = json.loads((d / "graph.json").read_text(encoding="utf-8"))
    # the counts recorded at build time match the stored tables (read without the engine)
    assert pl.scan_parquet(d / "nodes.parquet").select(pl.len()).collect().item() == info["graph"]["nodes"]
    assert info["graph"]["directed_edges"] > info["graph"]["nodes"] > 100_000  # national, not a fixture


def test_wheel_ships_every_data_directory_paths_names() -> None:
    """Each data sub-directory paths.py resolves must be force-included at pendling/_data/<name>,
    so an installed wheel finds it (paths.data_dir() falls back to pendling/_data)."""
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    include = cfg["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    for fn in (paths.municipalities_dir, paths.od_matrix_dir, paths.reference_dir, paths.roads_dir):
        name = fn().relative_to(paths.data_dir()).as_posix()
        assert include.get(f"data/{name}") == f"pendling/_data/{name}", name

"""A pendling.synth extract reads without warnings about its own side files (truth.parquet,
manifest.json); any other stray file in the folder is still reported."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from pendling.panel import load_panel
from pendling.panel.readers import discover, synth_side_files
from pendling.synth import generate


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth-side") / "extract"
    generate(out, persons=2_000, years="2018-2020", seed=5)
    return out


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_synth_extract_loads_without_side_file_warnings(synth_dir: Path) -> None:
    assert {"truth.parquet", "manifest.json"} <= {p.name for p in synth_dir.iterdir()}
    panel = load_panel(synth_dir)
    assert [Path(s).name for s in panel.sources] == ["ras2018.parquet", "ras2019.parquet", "ras2020.parquet"]
    assert not [w for w in panel.warnings if "truth" in w or "manifest" in w or "ignored" in w]
    assert synth_side_files(synth_dir) == {"truth.parquet", "manifest.json"}


def test_other_unknown_files_in_a_synth_extract_are_still_reported(synth_dir: Path, tmp_path: Path) -> None:
    d = _copy(synth_dir, tmp_path / "extract")
    pl.DataFrame({"x": [1]}).write_parquet(d / "notes.parquet")
    files, warnings = discover(d)
    assert [f.name for f in files] == ["ras2018.parquet", "ras2019.parquet", "ras2020.parquet"]
    assert warnings == [f"ignored in {d} (no year in the file name): notes.parquet"]


def test_truth_file_is_reported_unless_a_synth_manifest_names_it(synth_dir: Path, tmp_path: Path) -> None:
    d = _copy(synth_dir, tmp_path / "extract")
    meta = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    # a manifest from some other tool: truth.parquet is an unknown file like any other
    (d / "manifest.json").write_text(json.dumps({**meta, "generator": "someone-else"}), encoding="utf-8")
    assert synth_side_files(d) == frozenset()
    assert discover(d)[1] == [f"ignored in {d} (no year in the file name): truth.parquet"]
    # no manifest at all (e.g. copied without it): reported as well
    (d / "manifest.json").unlink()
    assert discover(d)[1] == [f"ignored in {d} (no year in the file name): truth.parquet"]
    # a manifest that is not JSON does not break reading
    (d / "manifest.json").write_text("not json", encoding="utf-8")
    assert discover(d)[1] == [f"ignored in {d} (no year in the file name): truth.parquet"]


def test_side_file_named_by_the_manifest(synth_dir: Path, tmp_path: Path) -> None:
    d = _copy(synth_dir, tmp_path / "extract")
    meta = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    (d / "truth.parquet").rename(d / "planted.parquet")
    (d / "manifest.json").write_text(json.dumps({**meta, "truth": {**meta["truth"], "file": "planted.parquet"}}))
    pl.DataFrame({"x": [1]}).write_parquet(d / "truth.parquet")  # now a stranger: reported
    files, warnings = discover(d)
    assert len(files) == 3
    assert warnings == [f"ignored in {d} (no year in the file name): truth.parquet"]

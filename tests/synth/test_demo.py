"""The demo extract in the user cache: built once, reused, rebuilt when the generator or matrix changes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import pendling.synth.api as gen
from pendling.panel import load_panel
from pendling.synth import GENERATOR_VERSION, demo_dir, demo_extract


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PENDLING_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_demo_builds_fast_then_is_reused(cache: Path) -> None:
    t0 = time.perf_counter()
    path = demo_extract()
    built = time.perf_counter() - t0
    assert built < 60
    assert path == demo_dir() and path.parent == cache
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["generator_version"] == GENERATOR_VERSION
    assert manifest["persons"] == gen.DEMO_PERSONS and manifest["years"] == list(range(gen.DEMO_YEARS[0], gen.DEMO_YEARS[1] + 1))
    panel = load_panel(path, years=[2020, 2021])
    assert panel.frame.height == 2 * gen.DEMO_PERSONS
    stamp = (path / "manifest.json").stat().st_mtime_ns
    assert demo_extract() == path
    assert (path / "manifest.json").stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert not [p for p in cache.iterdir() if p.name.startswith(".demo-")]  # no temp dirs left


def test_demo_rebuilt_when_stale(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gen, "DEMO_PERSONS", 5_000)
    path = demo_extract()
    manifest = path / "manifest.json"
    meta = json.loads(manifest.read_text())
    meta["matrix_sha256"] = "0" * 64  # as if the shipped matrix had changed
    manifest.write_text(json.dumps(meta))
    demo_extract()
    assert json.loads(manifest.read_text())["matrix_sha256"] != "0" * 64
    (path / "ras2018.parquet").unlink()  # a missing year file also triggers a rebuild
    demo_extract()
    assert (path / "ras2018.parquet").is_file()

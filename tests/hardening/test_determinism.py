"""Two runs on the same inputs write byte-identical files, whatever the thread count."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hardening_helpers import national_like_panel
from typer.testing import CliRunner

from pendling.cli import app
from pendling.io import write_parquet


@pytest.fixture(scope="module")
def extract(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A canonical panel file over the 98 municipalities (3,000 persons, 2019-2021)."""
    path = tmp_path_factory.mktemp("extract") / "panel.parquet"
    write_parquet(national_like_panel(3000), path)
    return path


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _compute(extract: Path, out: Path, *extra: str) -> dict[str, str]:
    out.parent.mkdir(parents=True, exist_ok=True)
    result = CliRunner().invoke(app, ["compute", "--panel", str(extract), "--years", "2020-2021", "--by", "region",
                                      "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return _digests(out.parent)


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".xlsx", ".dta", ".xpt"])
def test_compute_twice_gives_identical_bytes(extract: Path, tmp_path: Path, suffix: str) -> None:
    first = _compute(extract, tmp_path / "a" / f"results{suffix}")
    second = _compute(extract, tmp_path / "b" / f"results{suffix}")
    assert first == second
    assert len(first) == (1 if suffix == ".xlsx" else 3)  # results, attrition, method notes


def test_thread_count_does_not_change_a_byte(extract: Path, tmp_path: Path) -> None:
    one = _compute(extract, tmp_path / "t1" / "results.parquet", "--threads", "1")
    two = _compute(extract, tmp_path / "t2" / "results.parquet", "--threads", "2", "--memory-limit", "2GB")
    assert one == two


def test_panel_export_twice_gives_identical_bytes(extract: Path, tmp_path: Path) -> None:
    digests = []
    for run in ("a", "b"):
        out = tmp_path / run / "canonical.parquet"
        out.parent.mkdir()
        result = CliRunner().invoke(app, ["panel", "export", str(extract), "--out", str(out)])
        assert result.exit_code == 0, result.output
        digests.append(_digests(out.parent))
    assert digests[0] == digests[1]
    assert set(digests[0]) == {"canonical.parquet", "canonical.attrition.csv", "canonical.flags.csv",
                               "canonical.panel.json"}

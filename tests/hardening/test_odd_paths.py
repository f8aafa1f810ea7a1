"""Paths with spaces and Danish letters, and output files another program holds open.

Researchers keep projects in folders like ``C:\\Projekter\\Pendling Ærø\\``: every command must read
and write there. On Windows, replacing a file that another program has open (Excel with the results
workbook) fails with PermissionError: pendling must then say which file, keep the earlier output and
leave no temporary file. Windows itself is not available in CI: the lock is simulated by making
os.replace raise what Windows raises (see docs/install.md for what was verified where).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from pendling import io
from pendling.cli import app
from pendling.errors import OutputError

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def _ok(args: list[str]) -> str:
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, f"{args}\n{res.output}\n{res.exception!r}"
    return res.output


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("odd") / "Projekter" / "Pendling Ærø"
    root.mkdir(parents=True)
    return root


def test_every_command_reads_and_writes_under_a_danish_path_with_spaces(project: Path) -> None:
    ext = project / "udtræk år 2019-2021"
    _ok(["synth", "--persons", "1000", "--years", "2019-2021", "--out", ext])
    dta = project / "Stata udtræk ø"
    _ok(["synth", "--persons", "1000", "--years", "2020-2021", "--format", "dta", "--out", dta])
    cmap = project / "kolonner æøå.toml"
    shutil.copy(ROOT / "data" / "reference" / "column_map_default.toml", cmap)

    out = _ok(["panel", "check", ext, "--column-map", cmap])
    assert "3 source(s)" in out
    _ok(["panel", "export", ext, "--out", project / "panel ø.parquet"])
    assert pl.read_parquet(project / "panel ø.parquet").height > 0

    results = [project / "resultater æøå.parquet", project / "resultater æøå.xlsx",
               project / "resultater æøå.csv", project / "resultater æøå.dta"]
    _ok(["compute", "--panel", ext, "--year", "2021", "--column-map", cmap,
         *[x for r in results for x in ("--out", r)]])
    for r in results:
        assert r.is_file() and r.stat().st_size > 0, r
    assert (project / "resultater æøå.attrition.parquet").is_file()
    # the same numbers from the Stata extracts in the other folder
    _ok(["compute", "--panel", dta, "--year", "2021", "--out", project / "fra stata ø.parquet"])
    a = pl.read_parquet(results[0])
    assert a.height > 0 and pl.read_parquet(project / "fra stata ø.parquet").height == a.height

    _ok(["plot", "--figure", "movers", "--results", results[0], "--out", project / "figur ø.png",
         "--data-out", project / "figur ø.csv"])
    assert (project / "figur ø.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    _ok(["plot", "--figure", "movers", "--results", results[1], "--out", project / "figur fra xlsx.svg"])
    _ok(["map", "--from", "101", "--out", project / "kort Ærø.png"])
    assert (project / "kort Ærø.png").is_file()
    assert io.temp_files(project / "resultater æøå.xlsx") == []


@pytest.fixture
def locked(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """os.replace raises what Windows raises while another process has the target open."""
    real = io.os.replace
    attempts: list[Path] = []
    monkeypatch.setattr(io, "REPLACE_WAIT_S", 0.0)

    def replace(src: str | Path, dst: str | Path) -> None:
        if Path(dst).name.startswith("låst"):
            attempts.append(Path(dst))
            raise PermissionError(13, "The process cannot access the file because it is being used by "
                                      "another process", str(dst))
        real(src, dst)

    monkeypatch.setattr(io.os, "replace", replace)
    return attempts


def test_a_locked_target_gives_a_clear_error_and_keeps_the_earlier_file(tmp_path: Path, locked: list[Path]) -> None:
    target = tmp_path / "Pendling Ærø" / "låst resultat.parquet"
    target.parent.mkdir()
    before = pl.DataFrame({"a": [1, 2]})
    before.write_parquet(target)
    earlier = target.read_bytes()
    with pytest.raises(OutputError) as err:
        io.write_parquet(pl.DataFrame({"a": [3]}), target)
    msg = str(err.value)
    assert str(target) in msg and "in use" in msg and "earlier file is unchanged" in msg
    assert len(locked) == io.REPLACE_RETRIES
    assert target.read_bytes() == earlier
    assert io.temp_files(target) == []  # the temporary file is gone
    assert sorted(p.name for p in target.parent.iterdir()) == ["låst resultat.parquet"]


def test_compute_into_a_locked_workbook_exits_2_naming_it(tmp_path: Path, locked: list[Path]) -> None:
    target = tmp_path / "låst resultater.xlsx"
    target.write_bytes(b"the workbook Excel has open")
    res = runner.invoke(app, ["compute", "--year", "2021", "--out", str(target)])
    assert res.exit_code == 2, res.output
    assert "låst resultater.xlsx" in res.output and "close the program" in res.output
    assert target.read_bytes() == b"the workbook Excel has open"
    assert io.temp_files(target) == []


def test_a_lock_that_goes_away_is_ridden_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A virus scanner holds a new file for a moment: the retry succeeds and nothing is reported."""
    real = io.os.replace
    fails = iter([True, True, False])
    monkeypatch.setattr(io, "REPLACE_WAIT_S", 0.0)

    def replace(src: str | Path, dst: str | Path) -> None:
        if next(fails):
            raise PermissionError(13, "Access is denied", str(dst))
        real(src, dst)

    monkeypatch.setattr(io.os, "replace", replace)
    target = tmp_path / "ø.csv"
    io.write_csv(pl.DataFrame({"a": [1]}), target)
    assert pl.read_csv(target)["a"].to_list() == [1]
    assert io.temp_files(target) == []

"""`pendling synth`: writing, reporting, and the sas7bdat refusal."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pendling.cli import app

runner = CliRunner()


def test_synth_writes_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "ex"
    res = runner.invoke(app, ["synth", "--out", str(out), "--persons", "3000", "--years", "2019-2020",
                              "--seed", "4", "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "ras2019.csv", "ras2020.csv", "truth.parquet"]
    rep = runner.invoke(app, ["synth", "--report", str(out)])
    assert rep.exit_code == 0, rep.output
    assert "cross_border_share" in rep.output and "By year" in rep.output


def test_synth_refuses_sas7bdat_clearly(tmp_path: Path) -> None:
    res = runner.invoke(app, ["synth", "--out", str(tmp_path / "x"), "--persons", "2000", "--format", "sas7bdat"])
    assert res.exit_code == 2
    assert "sas7bdat output is not available" in res.output and "xpt" in res.output
    assert not (tmp_path / "x").exists()


def test_synth_needs_out(tmp_path: Path) -> None:
    res = runner.invoke(app, ["synth", "--persons", "2000"])
    assert res.exit_code == 2 and "--out" in res.output

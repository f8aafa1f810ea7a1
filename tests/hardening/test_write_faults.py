"""Output that cannot be written — a folder that cannot exist or is read-only, a file size limit hit
mid-write — ends in exit 2 with a message, and an earlier output at that path stays as it was."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from pendling import io
from pendling.cli import app
from pendling.errors import InputError


@pytest.fixture(scope="module")
def extract(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 person-years in two years: a panel export of it is ~100 KB of CSV."""
    folder = tmp_path_factory.mktemp("extract")
    for year in (2020, 2021):
        n = 1500
        pl.DataFrame({
            "PNR": range(1, n + 1), "KOM": [101, 147, 751] * (n // 3), "ADRESSE_ID": range(10**6, 10**6 + n),
            "LBNR": [year * 10 + i % 7 for i in range(n)], "ARBKOM": [751, 101, 147] * (n // 3),
            "DISCO08_ALLE_INDK_13": ["251200", "4110", "7112"] * (n // 3),
        }).write_parquet(folder / f"ras{year}.parquet")
    return folder


def test_a_path_through_a_file_is_an_input_error(extract: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "results"
    blocker.write_text("a file where a folder should be\n")
    out = blocker / "sub" / "panel.csv"
    result = CliRunner().invoke(app, ["panel", "export", str(extract), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "cannot write the output" in result.output and "part of the output path is a file" in result.output
    assert blocker.read_text() == "a file where a folder should be\n"
    with pytest.raises(InputError, match="cannot write the output"):
        io.write_parquet(pl.DataFrame({"a": [1]}), out)


def _read_only_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write into: chmod 555, or for root (who ignores modes) /sys."""
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    sysfs = Path("/sys/pendling-write-test")
    try:
        sysfs.mkdir()
    except OSError:
        return sysfs / "inner"  # cannot be created: the writer must say so
    sysfs.rmdir()
    pytest.skip("no read-only location for root on this machine")


def test_a_read_only_folder_is_an_input_error(extract: Path, tmp_path: Path) -> None:
    folder = _read_only_folder(tmp_path)
    try:
        result = CliRunner().invoke(app, ["compute", "--panel", str(extract), "--out", str(folder / "r.parquet")])
        assert result.exit_code == 2, result.output
        assert "cannot write the output" in result.output and "Traceback" not in result.output
        assert "what to do:" in result.output
    finally:
        if folder.parent == tmp_path:
            folder.chmod(0o755)


CHILD = """
import resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from pendling.cli import main
main(sys.argv[2:])
"""


@pytest.mark.parametrize(("command", "name"), [("export", "panel.csv"), ("export", "panel.parquet"),
                                               ("compute", "results.csv"), ("check", "attrition.csv")])
def test_file_size_limit_mid_write_keeps_the_earlier_output(extract: Path, tmp_path: Path, command: str,
                                                            name: str) -> None:
    out = tmp_path / name
    earlier = b"an earlier complete output\n"
    out.write_bytes(earlier)
    limit = 1000  # bytes: every output here is larger
    if command == "export":
        args = ["panel", "export", str(extract), "--out", str(out)]
    elif command == "compute":
        args = ["compute", "--panel", str(extract), "--out", str(out), "--no-disclosure", "--by", "region"]
    else:
        args = ["panel", "check", str(extract), "--attrition-out", str(out)]
    proc = subprocess.run([sys.executable, "-c", CHILD, str(limit), *args], capture_output=True, text=True,
                          timeout=180, env={**os.environ, "PENDLING_CRASH_DIR": str(tmp_path / "crash")})
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "cannot write the output" in proc.stderr and "file size limit" in proc.stderr, proc.stderr
    assert out.read_bytes() == earlier  # untouched
    assert io.temp_files(out) == []  # and no half-written temporary file beside it
    # without the limit the same command succeeds (the limit, not the data, made it fail)
    ok = subprocess.run([sys.executable, "-c", CHILD, str(1 << 30), *args], capture_output=True, text=True,
                        timeout=180)
    assert ok.returncode == 0, ok.stderr
    assert out.read_bytes() != earlier and out.stat().st_size > limit

"""A run killed mid-write leaves the old file or none, never a partial one; its leftover temporary
file is hidden, never read as an extract, and removed by the next write of the same target.

The kill is deterministic: a child process writes through pendling.io with the underlying writer
patched to write the temporary file half-way, print its path and wait; the test then SIGKILLs it.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from pendling import io
from pendling.panel import load_panel

CHILD = textwrap.dedent(
    """
    import os, sys, time
    import polars as pl
    from pendling import io

    target, kind = sys.argv[1], sys.argv[2]

    def stall(path):
        # the temporary file now holds half of what it should: announce it and wait to be killed
        size = os.path.getsize(path)
        with open(path, "r+b") as fh:
            fh.truncate(max(size // 2, 1))
        print(path, flush=True)
        time.sleep(120)

    df = pl.DataFrame({"PNR": list(range(2000)), "KOM": [101] * 2000, "ADRESSE_ID": list(range(2000)),
                       "LBNR": [7] * 2000, "ARBKOM": [101] * 2000, "DISCO08_ALLE_INDK_13": ["2512"] * 2000})
    if kind == "parquet":
        real = pl.DataFrame.write_parquet
        pl.DataFrame.write_parquet = lambda self, f, **kw: (real(self, f, **kw), stall(f))
        io.write_parquet(df, target)
    elif kind == "csv":
        real = pl.DataFrame.write_csv
        pl.DataFrame.write_csv = lambda self, f, **kw: (real(self, f, **kw), stall(f))
        io.write_csv(df, target)
    elif kind == "json":
        real = io.Path.write_text
        io.Path.write_text = lambda self, text, **kw: (real(self, text, **kw), stall(self))
        io.write_json({"rows": list(range(2000))}, target)
    elif kind == "xlsx":
        import xlsxwriter
        from pendling.report.excel import write_results_xlsx
        real = xlsxwriter.Workbook.close
        def close(self):
            real(self)
            stall(self.filename)
        xlsxwriter.Workbook.close = close
        results = pl.DataFrame({"year": [2021], "flow": ["movers"], "job_group": ["all"], "region": ["all"],
                                "n": [0], "mean_rel_change": [None], "suppressed": [False]})
        write_results_xlsx(results, None, target)
    """
)
WRITERS = {"parquet": "ras2015.parquet", "csv": "ras2015.csv", "json": "summary.json", "xlsx": "results.xlsx"}


def _kill_mid_write(tmp_path: Path, target: Path, kind: str) -> Path:
    """Start the child, wait until its temporary file is half-written, SIGKILL it; return the temp path."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    proc = subprocess.Popen([sys.executable, str(script), str(target), kind], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        line = proc.stdout.readline().strip() if ready else ""
        assert line, f"child never reached the write: {proc.stderr.read() if proc.poll() is not None else 'timeout'}"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    return Path(line)


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_killed_write_leaves_the_old_file(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "out" / WRITERS[kind]
    target.parent.mkdir()
    target.write_bytes(b"the previous complete result\n")
    temp = _kill_mid_write(tmp_path, target, kind)
    assert target.read_bytes() == b"the previous complete result\n"
    # the half-written file is hidden, beside the target, and named after it and its (dead) writer
    assert temp.parent == target.parent and temp.exists()
    assert temp.name.startswith(f".{target.name}.") and temp.suffix in (".tmp", target.suffix)
    assert io.temp_files(target) == [temp]
    # the next write of the same target cleans it up
    io.write_text("new\n", target)
    assert target.read_text() == "new\n"
    assert io.temp_files(target) == []
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_killed_first_write_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "results.parquet"
    temp = _kill_mid_write(tmp_path, target, "parquet")
    assert not target.exists()
    assert temp.exists() and temp.name.startswith(".")
    pl.DataFrame({"a": [1]}).pipe(io.write_parquet, target)
    assert pl.read_parquet(target)["a"].to_list() == [1]
    assert io.temp_files(target) == []


def test_leftover_temp_file_is_not_read_as_an_extract(tmp_path: Path) -> None:
    """A killed `panel export`/`synth` into an extract folder must not leave a file the reader takes
    for ras2015 (its name carries the year and ends in .parquet)."""
    folder = tmp_path / "extract"
    folder.mkdir()
    old = pl.DataFrame({"PNR": [1, 2], "KOM": [101, 147], "ADRESSE_ID": [1, 2], "LBNR": [7, 8],
                        "ARBKOM": [101, 101], "DISCO08_ALLE_INDK_13": ["2512", "4110"]})
    io.write_parquet(old, folder / "ras2015.parquet")
    temp = _kill_mid_write(tmp_path, folder / "ras2015.parquet", "parquet")
    panel = load_panel(folder)
    assert panel.n_input == 2  # the complete old file only; the 2,000-row partial one is ignored
    assert any("hidden files" in w and temp.name in w for w in panel.warnings)


def test_a_live_writers_temp_file_is_left_alone(tmp_path: Path) -> None:
    """Cleanup removes only files of dead writers on this host: a concurrent run keeps its file."""
    target = tmp_path / "results.csv"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".{target.name}.{io._HOST}-{sleeper.pid}.abcd1234.csv"
        other_host = tmp_path / f".{target.name}.elsewhere-{sleeper.pid + 1}.abcd1234.csv"
        live.write_text("half")
        other_host.write_text("half")
        io.write_csv(pl.DataFrame({"a": [1]}), target)
        assert live.exists() and other_host.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    io.write_csv(pl.DataFrame({"a": [2]}), target)  # now its writer is gone: removed
    assert not live.exists() and other_host.exists()
    assert pl.read_csv(target)["a"].to_list() == [2]

"""--memory-limit / --threads / --spill-dir reach DuckDB (and Polars via POLARS_MAX_THREADS); a limit
too small for the work fails with a clear message, never a crash or a silent OOM kill."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hardening_helpers import national_like_panel
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

import pendling.mobility as mob
from pendling.cli import app
from pendling.cli._threads import polars_threads_from_argv
from pendling.errors import InputError
from pendling.io import write_parquet
from pendling.mobility import flows, limits


@pytest.fixture(scope="module")
def panel():
    return national_like_panel(5000)


def test_an_absurdly_small_memory_limit_fails_with_advice(panel) -> None:
    with pytest.raises(InputError) as info:
        mob.compute(panel, years=[2020, 2021], memory_limit="1MB", threads=2)
    message = str(info.value)
    for text in ("DuckDB ran out of memory", "memory_limit=1MB", "threads=2", "raise --memory-limit",
                 "lower --threads"):
        assert text in message, message


def test_the_cli_says_the_same_and_exits_2(panel, tmp_path: Path) -> None:
    extract = tmp_path / "panel.parquet"
    write_parquet(panel, extract)
    result = CliRunner().invoke(app, ["compute", "--panel", str(extract), "--memory-limit", "1MB", "--threads", "1",
                                      "--out", str(tmp_path / "r.parquet")])
    assert result.exit_code == 2, result.output
    assert "DuckDB ran out of memory" in result.output and "raise --memory-limit" in result.output
    assert not (tmp_path / "r.parquet").exists()  # nothing half-written


def test_a_workable_limit_gives_the_same_results(panel, tmp_path: Path) -> None:
    free = mob.run(panel, by="region")
    bounded = mob.run(panel, by="region", memory_limit="256MB", threads=1, temp_directory=tmp_path / "spill")
    assert_frame_equal(free.results, bounded.results)
    assert_frame_equal(free.attrition, bounded.attrition)
    assert list((tmp_path / "spill").iterdir()) == []  # the private spill folder is removed afterwards


def test_the_settings_reach_duckdb(tmp_path: Path) -> None:
    lim = limits.Limits.checked("512MB", 3, tmp_path)
    with limits.connect(lim) as con:
        memory, threads, spill = con.sql(
            "SELECT current_setting('memory_limit'), current_setting('threads'), current_setting('temp_directory')"
        ).fetchall()[0]
        assert memory in ("488.2 MiB", "488.2MiB") and threads == 3
        assert Path(spill).parent == tmp_path and Path(spill).name.startswith("pendling-spill-")
        assert Path(spill).is_dir()
    assert not Path(spill).exists()


def test_run_passes_the_limits_down(panel, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    real = flows.connect

    def spy(lim=None):
        seen.append(lim)
        return real(lim)

    monkeypatch.setattr(flows, "connect", spy)
    mob.run(panel, years=2021, memory_limit="3GB", threads=1)
    mob.run(panel, years=2021, memory_limit="3 GiB", threads=2, by="region")
    assert [(x.memory_limit, x.threads) for x in seen] == [("3GB", 1), ("3GiB", 2)]
    # transitions and attrition are pairing, classification and lookups only: Polars, no DuckDB
    mob.transitions(panel, years=2021)
    mob.attrition(panel, years=2021)
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("memory", "threads", "text"),
    [("2 gigs", None, "cannot read the memory limit"), ("-1GB", None, "cannot read the memory limit"),
     ("0MB", None, "cannot read the memory limit"), ("1e3MB", None, "cannot read the memory limit"),
     (None, 0, "threads must be a whole number of at least 1"), (None, True, "threads must be"),
     (None, 1.5, "threads must be")],
)
def test_bad_limits_are_input_errors(panel, memory, threads, text) -> None:
    with pytest.raises(InputError, match=text):
        mob.compute(panel, years=2021, memory_limit=memory, threads=threads)


def test_cli_threads_option_is_checked() -> None:
    result = CliRunner().invoke(app, ["compute", "--threads", "0"])
    assert result.exit_code == 2 and "--threads" in result.output


def test_threads_reach_polars_when_given_before_it_is_imported(tmp_path: Path) -> None:
    code = ("import sys; sys.argv = ['pendling', 'compute', '--threads', '1']; import pendling.cli, polars; "
            "print(polars.thread_pool_size())")
    env = {k: v for k, v in os.environ.items() if k != "POLARS_MAX_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "1"
    # the user's own POLARS_MAX_THREADS wins
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**env, "POLARS_MAX_THREADS": "2"})
    assert out.stdout.strip() == "2"


def test_argv_scan_ignores_what_it_cannot_use(monkeypatch: pytest.MonkeyPatch) -> None:
    # polars is imported in this process: too late, nothing is set
    assert polars_threads_from_argv(["compute", "--threads", "2"]) is None
    monkeypatch.delitem(sys.modules, "polars")  # pretend it is not (restored by monkeypatch)
    monkeypatch.delenv("POLARS_MAX_THREADS", raising=False)
    assert polars_threads_from_argv(["compute", "--threads=3"]) == 3
    assert os.environ["POLARS_MAX_THREADS"] == "3"
    monkeypatch.delenv("POLARS_MAX_THREADS")
    assert polars_threads_from_argv(["compute", "--threads", "x"]) is None
    assert polars_threads_from_argv(["compute", "--", "--threads", "4"]) is None
    assert "POLARS_MAX_THREADS" not in os.environ

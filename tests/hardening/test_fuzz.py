"""Generated malformed extracts (fuzz_extracts.py, fixed seed) through the real command line.

Every case ends in exit 0 with every input row in the attrition table, or exit 2 with a message;
never a traceback, never an output or temporary file left behind by a failed run. The in-process
cases run ``pendling.cli.main`` (with its crash handler) under click's output capture; a few
subprocess cases show that nothing reaches stderr as a traceback and that a run stays within
:data:`MEMORY_BOUND_MIB` of resident memory under an address-space limit of :data:`ADDRESS_LIMIT_GIB`.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from fuzz_extracts import SEED, cases

from pendling.cli import main

N_CASES = 520
MEMORY_BOUND_MIB = 600  # peak resident memory of one `pendling` run on a fuzz case
ADDRESS_LIMIT_GIB = 4  # RLIMIT_AS of the subprocess cases (Polars, DuckDB and pyarrow map ~1.5 GiB)
MIN_DISTINCT_MESSAGES = 30


def _run(args: list[str]) -> tuple[int, str, str]:
    runner = CliRunner()
    with runner.isolation() as streams:
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        return code, streams[0].getvalue().decode(), streams[1].getvalue().decode()


def _message_kind(stderr: str) -> str:
    """The first line of an error with the particulars (numbers, quoted values) taken out."""
    first = stderr.split("error:", 1)[1].strip().splitlines()[0]
    return re.sub(r"\d[\d,.]*", "N", re.sub(r"'[^']*'|`[^`]*`", "'…'", first))


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_generated_extracts_never_crash(tmp_path: Path) -> None:
    generated = cases(N_CASES, SEED)
    assert len(generated) >= 500
    messages: dict[str, int] = {}
    outcomes = {0: 0, 2: 0}
    checked_rows = 0
    short_cases = {False: 0, True: 0}
    for case in generated:
        folder = case.write(tmp_path / "in")
        out = tmp_path / "out" / case.id
        args = ["panel", "check", str(folder), "--attrition-out", str(out / "attrition.csv")]
        code, stdout, stderr = _run(args + (["--lenient"] if case.lenient else []))
        where = f"{case.id} {case.mutations}:\n{stdout}\n{stderr}"
        assert code in (0, 2), where
        assert "Traceback" not in stdout + stderr, where
        outcomes[code] += 1
        if case.mutations == ["short_rows"]:  # rows cut short: an error naming them, or counted with --lenient
            short_cases[case.lenient] += 1
            if case.lenient:
                assert code == 0 and "excluded_short_row" in stdout and "fewer fields" in stdout, where
            else:
                assert code == 2 and "fewer fields than the header" in stderr and "--lenient" in stderr, where
        if code == 2:
            assert "error:" in stderr and "file:" in stderr + stdout or "years" in stderr, where
            messages[_message_kind(stderr)] = messages.get(_message_kind(stderr), 0) + 1
            assert _files(out) == [], where  # nothing written, not even a hidden temporary file
        else:
            assert _files(out) == ["attrition.csv"], where
            # the file is disclosure-controlled (counts below --min-n hidden), the terminal table is not
            attrition = pl.read_csv(out / "attrition.csv", infer_schema=False)
            read = int(re.search(r"of ([\d,]+) rows kept", stdout).group(1).replace(",", ""))
            assert int(attrition["n"].cast(pl.Int64).sum()) <= read, where
            line = re.search(r"total \(input rows\)[^\n]*?([\d,]+)\s*\S?\s*$", stdout, re.M)
            total = int(line.group(1).replace(",", "")) if line else 0  # no rows: no table
            assert total == read, where  # every row read is in exactly one bucket
            if case.rows is not None:
                assert total == case.rows, where  # ... and every row written was read
                checked_rows += 1
        if case.compute:
            res = tmp_path / "res" / case.id
            code, stdout, stderr = _run(["compute", "--panel", str(folder), "--out", str(res / "results.parquet"),
                                         "--no-disclosure", "--max-rows", "3"])
            where = f"{case.id} compute {case.mutations}:\n{stdout}\n{stderr}"
            assert code in (0, 2) and "Traceback" not in stdout + stderr, where
            if code == 2:
                messages[_message_kind(stderr)] = messages.get(_message_kind(stderr), 0) + 1
                assert _files(res) == [], where
            else:
                assert _files(res) == ["results.attrition.parquet", "results.method.csv", "results.parquet"], where
    print(f"\nfuzz: {len(generated)} cases (seed {SEED}), exit 0: {outcomes[0]}, exit 2: {outcomes[2]}, "
          f"row counts checked: {checked_rows}, distinct failure messages: {len(messages)}")
    for kind, n in sorted(messages.items(), key=lambda kv: -kv[1]):
        print(f"  {n:4d}  {kind[:150]}")
    assert outcomes[0] >= 100 and outcomes[2] >= 100  # both outcomes exercised, the test can fail
    assert checked_rows >= 100
    assert min(short_cases.values()) >= 3, short_cases  # both ways of reading short rows exercised
    assert len(messages) >= MIN_DISTINCT_MESSAGES
    # the whole run stayed small (this process: the test runner plus every in-process case)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 2 * 1024 * 1024  # KiB → 2 GiB


def _limit_address_space() -> None:
    limit = ADDRESS_LIMIT_GIB * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


SUBPROCESS_MUTATIONS = ("random_bytes", "truncated", "ragged", "text_keys", "sas7bdat", "huge_numbers")


@pytest.mark.parametrize("mutation", SUBPROCESS_MUTATIONS)
def test_no_traceback_reaches_stderr_in_a_real_process(tmp_path: Path, mutation: str) -> None:
    case = next(c for c in cases(N_CASES, SEED) if mutation in c.mutations)
    folder = case.write(tmp_path)
    env = {**os.environ, "POLARS_MAX_THREADS": "2", "PENDLING_CRASH_DIR": str(tmp_path / "crash")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run([sys.executable, "-m", "pendling", "panel", "check", str(folder)], capture_output=True,
                          text=True, env=env, preexec_fn=_limit_address_space, timeout=120)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert proc.returncode in (0, 2), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    if proc.returncode == 2:
        assert proc.stderr.startswith("error:"), proc.stderr
    assert not (tmp_path / "crash").exists()
    if peak_kib > before:  # the largest child so far is this one
        assert peak_kib < MEMORY_BOUND_MIB * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"


def test_an_unforeseen_error_gives_a_log_file_and_exit_3(tmp_path: Path) -> None:
    """A bug (here: finding the input files patched to fail) → short message, the traceback in a log file, exit 3."""
    script = (
        "import pendling.panel.load as load\n"
        "def boom(*a, **k):\n    raise ZeroDivisionError('simulated bug')\n"
        "load.discover = boom\n"
        "from pendling.cli import main\n"
        f"main(['panel', 'check', {str(tmp_path)!r}])\n"
    )
    env = {**os.environ, "PENDLING_CRASH_DIR": str(tmp_path / "crash")}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "internal error (a bug in pendling" in proc.stderr and "ZeroDivisionError: simulated bug" in proc.stderr
    logs = list((tmp_path / "crash").glob("pendling-crash-*.log"))
    assert len(logs) == 1 and str(logs[0]) in proc.stderr.replace("\n", "")
    text = logs[0].read_text()
    assert "Traceback (most recent call last)" in text and "ZeroDivisionError: simulated bug" in text


def test_interrupt_is_quiet(tmp_path: Path) -> None:
    script = (
        "import pendling.panel.load as load\n"
        "def stop(*a, **k):\n    raise KeyboardInterrupt\n"
        "load.discover = stop\n"
        "from pendling.cli import main\n"
        f"main(['panel', 'check', {str(tmp_path)!r}])\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PENDLING_CRASH_DIR": str(tmp_path / "crash")})
    assert proc.returncode == 130 and "Traceback" not in proc.stderr and "interrupted" in proc.stderr


def test_exit_and_usage_errors_pass_through_the_crash_handler() -> None:
    import typer

    from pendling.cli._common import friendly_errors

    @friendly_errors
    def leaves(code: int) -> None:
        raise typer.Exit(code=code)

    with pytest.raises(typer.Exit) as info:
        leaves(5)
    assert info.value.exit_code == 5  # not turned into a crash report (exit 3)
    usage = _run(["panel", "check", "--no-such-option"])
    assert usage[0] == 2 and "No such option" in usage[2] and "internal error" not in usage[2]

"""The README's commands, run in order as written, on the demo extract and on a dirty synthetic extract.

The commands are parsed from README.md's code blocks (quick-start command 1, the register-data
block, the Python API block), so the README and this test cannot drift apart: a command that stops
working, or an output the README names that is not written, fails here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import pendling
from pendling.cli import app
from pendling.paths import repo_root

ROOT = repo_root() or Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
runner = CliRunner()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def _register_block() -> str:
    (block,) = [b for b in _blocks("bash") if "/path/to/extracts/" in b and "$P compute" in b]
    return block


def _commands(block: str) -> list[list[str]]:
    """The `$P ...` lines of a block as argument lists (continuation lines joined, comments dropped)."""
    joined = block.replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in joined.splitlines() if line.startswith("$P ")]


def _run(words: list[str], extract: Path, reading: str) -> object:
    args: list[str] = []
    for w in words[1:]:  # words[0] is $P
        if w == "$R":
            args += shlex.split(reading)
        else:
            args.append(w.replace("/path/to/extracts/", str(extract)))
    return runner.invoke(app, args)


def _check_outputs(cwd: Path, commands: list[list[str]]) -> None:
    """Every file a command was told to write exists, with the side files the README names."""
    for words in commands:
        for flag in ("--out", "-o"):
            for i, w in enumerate(words):
                if w == flag and words[0:2] != ["$P", "panel"]:
                    assert (cwd / words[i + 1]).is_file(), words[i + 1]
    assert (cwd / "results.attrition.parquet").is_file() and (cwd / "results.method.csv").is_file()
    assert set(pl.read_excel(cwd / "results.xlsx", sheet_name="results", engine="openpyxl")["region"]) >= {
        "hovedstaden", "sjaelland", "landkommuner"}


@pytest.fixture(scope="module")
def dirty_extract(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dirty")
    pendling.synthesize(out, persons=1_500, years="2015-2022", seed=5, scenario="dirty")
    return out


def test_register_block_on_the_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    block = _register_block()
    reading = re.search(r'^R="(.*)"', block, flags=re.M)
    assert reading is not None, "the README block sets the reading options R"
    commands = _commands(block)
    assert [c[1] for c in commands][:3] == ["panel", "compute", "plot"]
    for words in commands:
        res = _run(words, pendling.demo_extract(), reading.group(1))
        assert res.exit_code == 0, f"{shlex.join(words)}\n{res.output}"
    _check_outputs(tmp_path, commands)


def test_register_block_on_a_dirty_extract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           dirty_extract: Path) -> None:
    """As the README says: the check stops and names the option; with it in R every command runs."""
    monkeypatch.chdir(tmp_path)
    commands = _commands(_register_block())
    first = _run(commands[0], dirty_extract, "")
    assert first.exit_code == 2 and "--on-duplicate drop" in first.output, first.output
    for words in commands:
        res = _run(words, dirty_extract, "--on-duplicate drop")
        assert res.exit_code == 0, f"{shlex.join(words)}\n{res.output}"
    _check_outputs(tmp_path, commands)
    # the attrition of compute reaches back to the raw rows: duplicates and abroad rows are counted
    att = pl.read_parquet(tmp_path / "results.attrition.parquet").filter(pl.col("stage") == "panel")
    dup = att.filter(pl.col("bucket") == "excluded_duplicate")["n"]  # one row per year
    # present (suppressed in a year where it is small: null, not a sum of nulls), never 0 everywhere
    assert dup.null_count() > 0 or int(dup.sum()) > 0


def test_quick_start_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (line,) = [x for b in _blocks("bash") for x in b.splitlines() if ".venv/bin/pendling compute" in x]
    words = shlex.split(line.split("&&")[-1], comments=True)
    res = runner.invoke(app, words[1:])
    assert res.exit_code == 0, res.output
    for name in re.findall(r"`(pendling-results/[^`]+|results_2021\.[a-z.]+)`", README):
        path = tmp_path / (name if name.startswith("pendling-results/") else f"pendling-results/{name}")
        assert path.is_file(), name


def test_python_block_on_the_demo() -> None:
    (block,) = [b for b in _blocks("python") if "load_panel" in b]
    scope: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), scope)  # noqa: S102 (our own README)
    assert scope["figure"].data.height > 0  # type: ignore[attr-defined]
    assert set(scope["run"].results["year"].unique()) == set(range(2016, 2023))  # type: ignore[attr-defined]


def test_version() -> None:
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"pendling {pendling.__version__}"


def test_matrix_synth_and_map_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The other README commands that run in seconds: matrix show/check, the map one-liners, and the
    synth block at 2,000 persons instead of 3,000,000 (national scale belongs in benchmarks/).
    `matrix build` and scripts/build_matrix.sh rebuild the matrix (≈15 s, tiles) and are tested in
    tests/routing."""
    monkeypatch.chdir(tmp_path)
    # `matrix pairs` reads a pair file: two 1 km cells (central København → Aarhus, and within the cell)
    pl.DataFrame({"origin": ["1km_6176_723"] * 2, "destination": ["1km_6224_575", "1km_6176_723"]}).write_parquet("PAIRS.parquet")
    lines = [w for b in _blocks("bash") for w in _commands(b) if w[1] in ("matrix", "synth") and w[2] != "build"]
    lines += [shlex.split(c) for c in re.findall(r"`(pendling map [^`]+)`", README)]
    assert len(lines) >= 6
    for words in lines:
        args = [str(tmp_path / "national") if w == "/tmp/national" else "2000" if w == "3000000" else w
                for w in words[1:]]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, f"{shlex.join(words)}\n{res.output}"
    assert (tmp_path / "kbh.png").is_file() and (tmp_path / "matrix.png").is_file()
    if any("pairs" in w for w in lines):
        times = pl.read_parquet(tmp_path / "TIMES.parquet")
        assert times["status"].to_list() == ["ok", "same_zone"] and (times["minutes"] > 0).all()

"""The malformed-input corpus (tests/data/bad): every case gives its specific error text or its
exact attrition buckets, through the Python API and through the `pendling` command line."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hardening_helpers import CORPUS, corpus_cases
from typer.testing import CliRunner

import pendling.mobility as mob
from pendling.cli import app
from pendling.errors import PendlingError
from pendling.odmatrix import load_matrix
from pendling.panel import check_attrition, load_panel

CASES = corpus_cases()


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [c["id"] for c in cases]


def _source(case: dict[str, Any]) -> Path | list[Path]:
    paths = [CORPUS / p for p in case["inputs"]]
    return paths[0] if len(paths) == 1 else paths


def _run_api(case: dict[str, Any]) -> Any:
    opts = dict(case.get("options", {}))
    if case["kind"] == "panel":
        if "column_map" in opts:
            opts["column_map"] = CORPUS / opts["column_map"]
        return load_panel(_source(case), **opts)
    if case["kind"] == "matrix":
        return load_matrix(_source(case), **opts)
    if "matrix" in opts:
        opts["matrix"] = CORPUS / opts["matrix"]
    return mob.run(_source(case), **opts)


def _nonzero(attrition: pl.DataFrame, stage: str) -> dict[str, dict[str, int]]:
    part = attrition.filter((pl.col("stage") == stage) & (pl.col("n") > 0))
    out: dict[str, dict[str, int]] = {}
    for year, bucket, n in part.select("year", "bucket", "n").iter_rows():
        out.setdefault("none" if year is None else str(year), {})[bucket] = n
    return out


def test_corpus_is_large_enough_and_every_case_has_an_outcome() -> None:
    assert len(CASES) >= 40
    kinds = {c["kind"] for c in CASES}
    assert kinds == {"panel", "matrix", "compute"}
    for c in CASES:
        expect = c["expect"]
        assert expect["outcome"] in ("error", "attrition", "valid"), c["id"]
        if expect["outcome"] == "error":
            assert len(expect["contains"]) >= 2, c["id"]  # the what, plus where/which values/what to do
        for rel in c["inputs"]:
            assert (CORPUS / rel).exists(), f"{c['id']}: {rel} missing; run tests/data/bad/make_corpus.py"
    size = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".py")
    assert size < 300_000, f"corpus grew to {size:,} bytes: keep the files tiny"


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_case_through_the_api(case: dict[str, Any]) -> None:
    expect = case["expect"]
    if expect["outcome"] == "error":
        with pytest.raises(PendlingError) as info:
            _run_api(case)
        message = str(info.value)
        missing = [s for s in expect["contains"] if s not in message]
        assert not missing, f"{case['id']}: message lacks {missing}:\n{message}"
        return
    got = _run_api(case)
    if expect["outcome"] == "valid":
        assert got.height == expect["rows"]
        assert sorted(set(got["origin"].to_list())) == expect["codes"]
        assert got.schema["origin"] == pl.Int16 and got.schema["minutes"] == pl.Float64
        return
    for stage, per_year in expect["attrition"].items():
        assert _nonzero(got.attrition, stage) == per_year, f"{case['id']}: stage {stage}"
    if "input_rows" in expect:
        check_attrition(got.attrition, expect["input_rows"])  # every row read is in exactly one bucket
        assert got.n_input == expect["input_rows"]
        kept = sum(n for year in expect["attrition"]["panel"].values() for b, n in year.items() if b.startswith("kept"))
        assert got.frame.height == kept
    for flag, n in expect.get("flags", {}).items():
        assert int(got.flags.filter(pl.col("flag") == flag)["n"].sum()) == n, f"{case['id']}: flag {flag}"
    for text in expect.get("warnings", []):
        assert any(text in w for w in got.warnings), f"{case['id']}: no warning with {text!r}: {got.warnings}"
    for want in expect.get("results", []):
        keys = {k: want[k] for k in ("flow", "job_group", "region")}
        row = got.results.filter(**keys)
        assert row.height == len(row["year"].unique()) >= 1, f"{case['id']}: no cell {keys}"
        assert row["n"].to_list() == [want["n"]] * row.height
        if "mean_rel_change" in want:
            assert math.isclose(row["mean_rel_change"][0], want["mean_rel_change"], rel_tol=0, abs_tol=1e-9)


def _cli_args(case: dict[str, Any], tmp_path: Path) -> list[str]:
    opts = case.get("options", {})
    inputs = [str(CORPUS / p) for p in case["inputs"]]
    if case["kind"] == "panel":
        args = ["panel", "check", *inputs]
        if "column_map" in opts:
            args += ["--column-map", str(CORPUS / opts["column_map"])]
        if opts.get("strict") is False:
            args.append("--lenient")
        if "on_duplicate" in opts:
            args += ["--on-duplicate", opts["on_duplicate"]]
        if "years" in opts:
            args += ["--years", ",".join(map(str, opts["years"]))]
        return args
    if case["kind"] == "matrix":
        return ["matrix", "check", "--matrix", inputs[0]]
    args = ["compute", "--panel", inputs[0], "--out", str(tmp_path / "results.parquet")]
    if "matrix" in opts:
        args += ["--matrix", str(CORPUS / opts["matrix"])]
    if "years" in opts:
        args += ["--years", str(opts["years"])]
    if opts.get("disclosure") is False:
        args.append("--no-disclosure")
    if "memory_limit" in opts:
        args += ["--memory-limit", opts["memory_limit"]]
    return args


CLI_CASES = [c for c in CASES if c["cli"]]


@pytest.mark.parametrize("case", CLI_CASES, ids=_ids(CLI_CASES))
def test_case_through_the_cli(case: dict[str, Any], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, _cli_args(case, tmp_path))
    output = result.output
    assert "Traceback" not in output, output
    if case["expect"]["outcome"] == "error":
        assert result.exit_code == 2, output
        assert "error:" in output
        missing = [s for s in case["expect"]["contains"] if s not in output]
        assert not missing, f"{case['id']}: CLI output lacks {missing}:\n{output}"
    else:
        assert result.exit_code == 0, output
        assert result.exception is None
        if case["kind"] == "compute":
            written = pl.read_parquet(tmp_path / "results.attrition.parquet")
            for stage, per_year in case["expect"]["attrition"].items():
                assert _nonzero(written, stage) == per_year


def test_regenerating_the_corpus_gives_identical_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "make_corpus", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    module.build(tmp_path)

    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
                if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts}

    committed, fresh = files(CORPUS), files(tmp_path)
    assert sorted(committed) == sorted(fresh), "the case files differ: run python tests/data/bad/make_corpus.py"
    changed = [name for name in committed if committed[name] != fresh[name]]
    assert not changed, (
        f"regenerated bytes differ for {changed[:5]}: run python tests/data/bad/make_corpus.py "
        "(after a Polars upgrade the Parquet footer changes) and commit the result"
    )

"""The benchmark harness end to end at its small scale (well under a minute): every stage runs in its
own process, every baseline equals pendling, and the results files are complete and sensible."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "benchmarks" / "run.py"
STAGES = {
    "synth", "panel_load", "mobility", "duckdb_bare", "pandas_idiomatic", "pandas_groupby_shift",
    "pandas_per_person", "mobility_breakdowns", "routing_graph_build", "routing_matrix", "routing_networkx",
    "routing_osrm",
}  # fmt: skip
CELL_BASELINES = ("duckdb_bare", "pandas_idiomatic", "pandas_groupby_shift", "pandas_per_person")


def _osrm_runs() -> bool:
    from pendling.routing import osrm

    return osrm.osrm_available()[0]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> tuple[dict, str, subprocess.CompletedProcess]:
    base = tmp_path_factory.mktemp("bench")
    out = base / "results"
    proc = subprocess.run(
        [sys.executable, str(RUN), "--scale", "small", "--out", str(out), "--cache", str(base / "cache")],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    files = sorted(out.glob("*-small.json"))
    assert files, f"no results written:\n{proc.stdout}\n{proc.stderr}"
    md = (out / "latest-small.md").read_text(encoding="utf-8")
    return json.loads(files[-1].read_text(encoding="utf-8")), md, proc


def test_every_stage_ran_and_the_run_succeeded(small_run):
    doc, _, proc = small_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert set(doc["stages"]) == STAGES
    must_run = STAGES - ({"routing_osrm"} if not _osrm_runs() else set())
    for name in must_run - {"pandas_per_person"}:
        assert doc["stages"][name]["status"] in ("ok", "cached"), (name, doc["stages"][name])
    # 20,000 persons are more than the per-person loop's 2,000: it runs on a subset, extrapolated
    assert doc["stages"]["pandas_per_person"]["status"] == "extrapolated", doc["stages"]["pandas_per_person"]


def test_numbers_are_positive_and_memory_is_per_process(small_run):
    doc, _, _ = small_run
    for name, r in doc["stages"].items():
        if r["status"] == "skipped":
            continue
        assert r["seconds"] > 0, name
        assert r["peak_rss_mib"] > 0 and r["process_maxrss_mib"] > 0, name
        assert r["cpu_seconds"] >= 0 and r["process_seconds"] > 0, name
        # the peak of the timed work lies within the whole child process's peak (os.wait4)
        assert r["peak_rss_mib"] <= r["process_maxrss_mib"] + 1, name
    mob = doc["stages"]["mobility"]["details"]
    assert mob["movers"] > 0 and mob["job_changers"] > 0
    assert doc["stages"]["panel_load"]["details"]["rows_read"] == 20_000 * 9


def test_baselines_equal_pendling(small_run):
    doc, _, _ = small_run
    assert doc["checks_passed"] is True
    for name in CELL_BASELINES:
        c = doc["checks"][name]
        assert c["passed"] is True, c
        assert c["cells"] >= 2 * 8 * 3 * 3  # 2 flows × 8 years × 3 job groups × 3 regions at least
        assert c["cells_only_in_one"] == 0 and c["n"] == 0
        assert c["mean_rel_change"] <= 1e-9 and c["ratio_of_means"] <= 1e-9
    nx = doc["checks"]["routing_networkx"]
    assert nx["passed"] is True and nx["pairs_compared"] == 17 * 16


def test_osrm_agreement_is_reported(small_run):
    if not _osrm_runs():
        pytest.skip("OSRM binaries not installed here (scripts/fetch_osrm.sh)")
    doc, _, _ = small_run
    a = doc["checks"]["routing_osrm"]["agreement"]
    assert a["minutes"]["pairs"] == 17 * 16
    assert 0 <= a["km"]["median_abs_rel_diff"] < 0.5  # same roads, OSRM's own speeds: km agree closely


def test_markdown_table_lists_every_stage_and_the_targets(small_run):
    doc, md, _ = small_run
    assert "| stage | seconds | CPU s | peak MiB | ratio to baseline |" in md
    assert md.count("\n| ") >= len(STAGES) + 2 + len(doc["targets"])
    assert "≤ 1.3 × the bare DuckDB lower bound" in md
    assert {t["target"] for t in doc["targets"]} >= {"synth national ≤ 90 s",
                                                       "98×98 matrix from the stored national graph ≤ 20 s"}
    assert all(t["applies"] is False for t in doc["targets"])  # targets are for the national scale


def test_the_ratio_to_baseline_is_computed_from_the_stage_times(small_run):
    doc, _, _ = small_run
    s = doc["stages"]
    ratio = next(t for t in doc["targets"] if t["target"].startswith("mobility compute ≤"))["value"]
    assert ratio == pytest.approx(s["mobility"]["seconds"] / s["duckdb_bare"]["seconds"])


def test_a_baseline_that_differs_fails_the_check_and_withholds_every_time(tmp_path, monkeypatch):
    import polars as pl

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))  # report.py and baselines.py live there
    import bench_report as report

    cells = pl.DataFrame({
        "year": [2021, 2021, 2021], "flow": ["movers"] * 3, "job_group": ["digital"] * 3,
        "region": ["hovedstaden", "rest", "all"], "n": [4, 6, 10],
        "mean_rel_change": [0.25, 0.5, 0.4], "ratio_of_means": [0.2, 0.3, 0.26],
    })  # fmt: skip
    engine = pl.concat([cells, cells.head(1).with_columns(pl.lit("all").alias("job_group"))])
    engine.write_parquet(tmp_path / "mobility_open.parquet")
    cells.write_parquet(tmp_path / "baseline_duckdb.parquet")
    off = cells.with_columns(pl.col("mean_rel_change") + pl.Series([0.0, 2e-9, 0.0]))  # one cell 2e-9 away
    off.write_parquet(tmp_path / "baseline_pandas.parquet")
    stage = {"status": "ok", "seconds": 1.0, "details": {}}
    checks = report.checks({"duckdb_bare": stage, "pandas_idiomatic": dict(stage)}, tmp_path)
    assert checks["duckdb_bare"]["passed"] is True  # job group 'all' rows are pendling's extra margin
    assert checks["pandas_idiomatic"]["passed"] is False
    assert checks["pandas_idiomatic"]["mean_rel_change"] == pytest.approx(2e-9)

    doc = {"scale": "small", "started_utc": "2026-01-01T00:00:00Z", "finished_utc": "2026-01-01T00:01:00Z",
           "machine": {"cpus": 2, "cpu_model": "x", "memory_gib": 1, "python": "3", "git_commit": None,
                       "git_dirty": None},
           "parameters": {"persons": 1, "years": "2020-2021", "seed": 1, "scenario": "default"},
           "loadavg_start": [0, 0, 0], "loadavg_end": [0, 0, 0], "checks": checks, "checks_passed": False,
           "stages": {"mobility": {"status": "ok", "seconds": 3.0, "details": {"load_seconds": 1.0, "cells": 3}}},
           "targets": [{"target": "t"}]}
    report.withhold_timings(doc)
    assert "seconds" not in json.dumps(doc["stages"]) and doc["targets"] == []
    md = report.markdown(doc)
    assert "**FAILED**" in md and "withheld" in md and "| stage |" not in md


def test_the_per_person_baseline_is_measured_on_a_subset_and_extrapolated_in_persons(small_run):
    doc, md, _ = small_run
    r = doc["stages"]["pandas_per_person"]
    d = r["details"]
    k = d["every_kth_pnr"]
    assert k > 1 and 1_000 < d["persons"] < 3_000 < d["total_persons"]  # about 2,000 of all persons
    assert d["extrapolated_by"] == "persons"
    assert d["extrapolation_factor"] == pytest.approx(d["total_persons"] / d["persons"])
    assert r["seconds"] == pytest.approx(d["measured_seconds"] * d["extrapolation_factor"])
    assert d["measured_seconds_per_1000_persons"] == pytest.approx(d["measured_seconds"] / d["persons"] * 1000)
    # checked against pendling on exactly these persons, not on all of them
    assert d["reference"] == f"mobility_open_every{k}.parquet"
    assert f"every-{k}th-PNR subset" in doc["checks"]["pandas_per_person"]["against"]
    assert doc["checks"]["pandas_per_person"]["passed"] is True
    # labelled everywhere: the stage row, its note and the target row
    row = next(ln for ln in md.splitlines() if ln.startswith("| ↳ baseline (b3)"))
    assert "*(extrapolated)*" in row and "extrapolated linearly in persons" in row
    target = next(t for t in doc["targets"] if t["target"].endswith("(b3) a function per person"))
    assert "extrapolated" in target["note"]
    assert target["value"] == pytest.approx(r["seconds"] / doc["stages"]["mobility"]["seconds"])


def test_the_pandas_target_is_reported_against_each_pandas_baseline(small_run):
    doc, md, _ = small_run
    rows = [t for t in doc["targets"] if t["target"].startswith("mobility compute ≥ 30 × faster than pandas")]
    assert [t["target"].rsplit("pandas ", 1)[1] for t in rows] == [
        "(b1) vectorised self-merge", "(b2) groupby().shift()", "(b3) a function per person"]
    mob = doc["stages"]["mobility"]["seconds"]
    for t, stage in zip(rows, ("pandas_idiomatic", "pandas_groupby_shift", "pandas_per_person"), strict=True):
        assert t["value"] == pytest.approx(doc["stages"][stage]["seconds"] / mob)
        assert t["met"] == (t["value"] >= 30)
        assert t["target"] in md
    assert "Which pandas is which: (b1) `pandas_idiomatic`" in md

"""Notebook manners: the objects a statistician meets print a short summary (text and HTML) with the
numbers that matter, and never dump the provenance, manifest or info dicts behind them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

import pendling
from pendling import routing
from pendling.mobility import run
from pendling.synth import generate


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory):
    # 'dirty' plants unknown municipalities, 411 Christiansø, missing DISCO and duplicate rows
    return generate(tmp_path_factory.mktemp("synth") / "dirty", persons=1500, years="2019-2021", seed=4,
                    scenario="dirty")


@pytest.fixture(scope="module")
def panel(synth):
    return pendling.load_panel(synth.directory, on_duplicate="drop")


def _short(text: str, max_lines: int = 10, width: int = 140) -> None:
    lines = text.splitlines()
    assert len(lines) <= max_lines, text
    assert max(map(len, lines)) <= width, text


def test_panel_summary_has_the_counts_and_no_provenance(panel) -> None:
    text, page = repr(panel), panel._repr_html_()
    _short(text)
    kept, read = panel.frame.height, panel.n_input
    assert kept < read  # the dirty scenario excludes rows, so the share below is not trivially 100 %
    assert f"{kept:,} kept of {read:,} read ({100 * kept / read:.1f} %)" in text
    assert "2019–2021 (3 years)" in text
    dup = int(panel.attrition.filter(pl.col("bucket") == "excluded_duplicate")["n"].sum())
    assert f"duplicate {dup:,}" in text
    assert "ras2019.parquet" in text and ".provenance" in text
    assert "column_map" not in text and "column_map" not in page  # the provenance dict stays put
    assert f"{kept:,} kept of {read:,} read" in page and page.startswith("<div>")
    assert "column_map" in json.dumps(panel.provenance, default=str)  # ... one attribute away


def test_panel_summary_lists_warnings_briefly() -> None:
    frame = pl.DataFrame({"pnr": [1, 1], "year": [2015, 2018], "home_muni": [101, 101], "home_addr": [1, 1],
                          "work_id": [5, 5], "work_muni": [101, 101], "disco": ["2511", "2511"]})
    p = pendling.load_panel(frame)
    assert p.warnings  # a gap of years
    text = repr(p)
    assert f"warnings: {len(p.warnings)}:" in re.sub(r"\s+", " ", text)
    assert "a frame passed in" in text and "2015–2018 (2 years; no 2016, 2017)" in text


def test_mobility_result_summary(panel) -> None:
    res = run(panel, years="2020-2021", by="region")
    text = repr(res)
    _short(text)
    flows = res.attrition.filter(pl.col("stage") == "flows")
    used = int(flows.filter(pl.col("bucket").is_in(["mover", "job_changer"]))["n"].sum())
    assert f"{used:,} of {int(flows['n'].sum()):,} person-years" in text
    hidden = int(res.results["suppressed"].sum())
    assert f"min n 5; {hidden} of {res.results.height} cells suppressed" in text
    assert "nordjylland" in text and ".results" in text and "2020–2021" in text
    assert "OFF: unsuppressed" in repr(run(panel, years=2021, disclosure=False))
    assert "<th" in res._repr_html_() and "person-years" in res._repr_html_()


def test_synth_summary_has_no_manifest_dump(synth) -> None:
    text = repr(synth)
    _short(text)
    rows = sum(f["rows"] for f in synth.manifest["files"])
    assert f"{rows:,} in 3 parquet files" in text
    assert "1,500 employed per year, seed 4" in text and "duplicate_rows" in text
    assert "sha256" not in text and "calibration" not in text and "beta" not in text
    assert f"{synth.truth.height:,} cells" in synth._repr_html_()


def test_matrix_check_and_road_graph_summaries() -> None:
    matrix = pendling.load_matrix()
    check = routing.check_matrix(matrix, top=3)
    assert isinstance(check, dict) and len(check["slowest"]) == 3  # still the documented dict
    text = repr(check)
    _short(text)
    slow = check["slowest"][0]
    assert "9,604 over 98 municipalities, 0 unreachable" in text
    assert f"{slow['origin']} → {slow['destination']}: {slow['minutes']:.1f} min" in text
    assert json.loads(json.dumps(check))["pairs"] == 9604

    nodes = pl.DataFrame({"node": [0, 1, 2], "lon": [10.0, 10.5, 11.0], "lat": [55.0, 55.2, 55.4]})
    edges = pl.DataFrame({"u": [0, 1, 1, 2], "v": [1, 0, 2, 1], "length_m": [1e3, 1e3, 5e3, 5e3],
                          "minutes": [1.0, 1.0, 30.0, 30.0], "highway": ["primary", "primary", "ferry", "ferry"],
                          "ferry": [None, None, "Sund", "Sund"]})
    g = routing.RoadGraph(nodes, edges, {"contraction": {"huge": list(range(100))}})
    text = repr(g)
    assert "3" in text and "4 directed" in text and "1 routes (2 directed edges)" in text
    assert "lon 10.00–11.00" in text and "huge" not in text and "huge" not in g._repr_html_()


def test_html_escapes_values(tmp_path: Path) -> None:
    frame = pl.DataFrame({"pnr": [1], "year": [2015], "home_muni": [101], "home_addr": [1], "work_id": [5],
                          "work_muni": [101], "disco": ["2511"]})
    path = tmp_path / "<b>ras2015.parquet"
    frame.rename({"pnr": "PNR", "home_muni": "KOM", "home_addr": "ADRESSE_ID", "work_id": "LBNR",
                  "work_muni": "ARBKOM", "disco": "DISCO08_ALLE_INDK_13"}).drop("year").write_parquet(path)
    page = pendling.load_panel(path)._repr_html_()
    assert "&lt;b&gt;ras2015.parquet" in page and "<b>ras2015" not in page

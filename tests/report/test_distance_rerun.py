"""`distance_by_year` gives the same bits on every rerun, at a size where Polars aggregates in parallel."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from pendling.report import figures


@pytest.fixture(scope="module")
def big_panel(municipality_codes: list[int]) -> pl.DataFrame:
    rng = np.random.default_rng(11)
    n = 150_000
    return pl.DataFrame(
        {
            "year": rng.integers(2016, 2022, n).astype(np.int16),
            "home_muni": rng.choice(municipality_codes, n).astype(np.int16),
            "work_muni": rng.choice(municipality_codes, n).astype(np.int16),
        }
    )


def test_reruns_are_bit_identical(big_panel: pl.DataFrame, toy_matrix: pl.DataFrame) -> None:
    # a float sum split over threads in varying order differed in the last bits about one run in ten
    outs = {figures.distance_by_year(big_panel, toy_matrix, region=r).write_csv() for r in ("all", "rest") for _ in range(12)}
    assert len(outs) == 2


def test_means_and_sd_against_exact_sums(big_panel: pl.DataFrame, toy_matrix: pl.DataFrame) -> None:
    km = {(o, d): k for o, d, k in toy_matrix.select("origin", "destination", "km").iter_rows()}
    out = figures.distance_by_year(big_panel, toy_matrix)
    for year in (2016, 2019):
        part = big_panel.filter(pl.col("year") == year)
        vals = [km[(h, w)] for h, w in part.select("home_muni", "work_muni").iter_rows()]
        mean = math.fsum(vals) / len(vals)  # correctly rounded sum, computed without the engine
        sd = math.sqrt(math.fsum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
        row = out.filter(pl.col("year") == year).row(0, named=True)
        assert row["n"] == len(vals)
        assert row["mean_km"] == pytest.approx(mean, rel=1e-12)
        assert row["ci_high"] - row["mean_km"] == pytest.approx(1.959963984540054 * sd / math.sqrt(len(vals)), rel=1e-9)

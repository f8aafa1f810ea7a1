"""load_panel's in-place (pnr, year) sort: a stable sort, rows with a missing key last in file order."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pendling.panel.validate import sort_person_year


def _frame(rng: np.random.Generator, n: int, pnr_scale: int) -> pl.DataFrame:
    pnr = rng.integers(0, 40, n) * pnr_scale
    year = rng.integers(2014, 2023, n)
    return pl.DataFrame(
        {
            "pnr": pl.Series(pnr, dtype=pl.Int64).scatter(rng.choice(n, 5, replace=False), None),
            "year": pl.Series(year, dtype=pl.Int64).scatter(rng.choice(n, 5, replace=False), None),
            "disco": [f"{i:04d}" for i in range(n)],  # the input order, to see that ties keep it
            "_file": pl.Series(rng.integers(0, 3, n), dtype=pl.UInt32),
        }
    )


@pytest.mark.parametrize("pnr_scale", [1, 2**55], ids=["one-int64-key", "two-keys-for-huge-pnr"])
def test_same_order_as_a_stable_two_key_sort(pnr_scale: int) -> None:
    rng = np.random.default_rng(7)
    frame = _frame(rng, 400, pnr_scale)  # 40 persons × 9 years in 400 rows: many repeated person-years
    missing = pl.col("pnr").is_null() | pl.col("year").is_null()
    expected = pl.concat([
        frame.filter(~missing).sort("pnr", "year", maintain_order=True),  # independent of the engine's key
        frame.filter(missing),
    ])
    original = frame.clone()

    sort_person_year(frame)  # returns nothing: the caller's own frame is sorted

    assert frame.equals(expected)
    assert not original.equals(expected)  # the input really was out of order
    ties = frame.filter(pl.col("pnr").is_not_null() & pl.col("year").is_not_null())
    assert ties.select(pl.struct("pnr", "year").is_duplicated().any()).item()  # there are ties to keep in order
    # within a repeated (pnr, year) the file order survives: the row numbers in disco increase
    within = ties.with_columns(pl.col("disco").cast(pl.Int64).alias("row"))
    assert within.group_by("pnr", "year").agg((pl.col("row").diff().drop_nulls() > 0).all().alias("ok"))["ok"].all()


def test_empty_frame_is_left_alone() -> None:
    frame = pl.DataFrame({"pnr": [], "year": []}, schema={"pnr": pl.Int64, "year": pl.Int64})
    sort_person_year(frame)
    assert frame.height == 0

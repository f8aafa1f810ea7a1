"""A zero-diagonal matrix (what a web map gives from a midpoint to itself): counted, never averaged."""

from __future__ import annotations

import math

import polars as pl
import pytest

import pendling.mobility as mob
from pendling.odmatrix import validate_matrix


@pytest.fixture
def zero(matrix):
    return matrix.with_columns(
        pl.when(pl.col("origin") == pl.col("destination")).then(0.0).otherwise(pl.col("minutes")).alias("minutes")
    )


def _row(res, flow, group, region="all"):
    return res.filter((pl.col("flow") == flow) & (pl.col("job_group") == group) & (pl.col("region") == region)).row(
        0, named=True)


def test_zero_before_is_its_own_bucket_and_zero_after_is_minus_one(panel, zero, municipalities):
    t = mob.transitions(panel, zero, 2021, municipalities=municipalities)
    b = dict(zip(t["pnr"].to_list(), t["bucket"].to_list(), strict=True))
    r = dict(zip(t["pnr"].to_list(), t["rel_change"].to_list(), strict=True))
    assert b[3] == "job_changer_zero_time_before" and r[3] is None  # 751→751 is 0 minutes at t-1
    assert b[8] == "mover" and r[8] == -1.0  # 101→147, works in 147: 12 → 0 minutes
    assert b[2] == "mover" and r[2] == 0.0  # inside 101, works in 147: 12 → 12
    res = mob.compute(panel, zero, 2021, municipalities=municipalities, disclosure=False, min_n=3)
    movers = _row(res, "movers", "all")
    # 'all' = the three classified groups: movers 1 (12→180), 2 (r 0), 10 (180→12), by hand;
    # mover 8 (r -1) is unclassified and has a row of its own
    expect = [180 / 12 - 1, 0.0, 12 / 180 - 1]
    assert movers["n"] == 3 and movers["mean_rel_change"] == pytest.approx(sum(expect) / 3, abs=1e-12)
    unclassified = _row(res, "movers", "unclassified")
    assert unclassified["n"] == 1 and unclassified["mean_rel_change"] == -1.0
    assert unclassified["mean_log_ratio"] == -math.inf and unclassified["geo_mean_rel_change"] == -1.0
    assert _row(res, "job_changers", "all")["n"] == 0  # persons 3 and 11 (0 minutes at t-1) reach no mean
    att = mob.attrition(panel, zero, 2021, municipalities=municipalities, disclosure=False)
    n = dict(zip(att["bucket"].to_list(), att["n"].to_list(), strict=True))
    assert n["job_changer_zero_time_before"] == 2 and n["mover_zero_time_before"] == 0
    assert sum(att.filter(pl.col("stage") == "flows")["n"]) == panel.filter(pl.col("year") == 2021).height


def test_zero_diagonal_is_read_from_a_file_by_compute_but_not_by_default_validation(zero, tmp_path):
    from pendling.odmatrix import load_matrix

    p = tmp_path / "zero.parquet"
    zero.write_parquet(p)
    from pendling.errors import InputError

    with pytest.raises(InputError, match="on the diagonal"):
        load_matrix(p, require_all=False)
    assert load_matrix(p, require_all=False, zero_diagonal=True)["minutes"].min() == 0.0
    off = zero.with_columns(pl.when(pl.col("origin") == 101).then(0.0).otherwise(pl.col("minutes")).alias("minutes"))
    with pytest.raises(InputError, match="zero or negative"):  # 0 off the diagonal stays an error
        validate_matrix(off, require_all=False, zero_diagonal=True)

"""``--method report``: the zero-diagonal matrix, built once and cached, and its method notes."""

from __future__ import annotations

import polars as pl
import pytest
from typer.testing import CliRunner

import pendling.mobility as mob
from pendling import paths
from pendling.cli import app
from pendling.errors import InputError
from pendling.mobility import variants
from test_compute_cli import extract  # noqa: F401  (module fixture: DST-named extract, real codes)


def test_report_method_equals_a_zero_diagonal_run(panel, matrix, municipalities):
    zero = matrix.with_columns(
        pl.when(pl.col("origin") == pl.col("destination")).then(0.0).otherwise(pl.col("minutes")).alias("minutes"),
        pl.when(pl.col("origin") == pl.col("destination")).then(0.0).otherwise(pl.col("km")).alias("km"))
    rep = mob.run(panel, matrix, 2021, municipalities=municipalities, disclosure=False, method="report")
    by_hand = mob.run(panel, zero, 2021, municipalities=municipalities, disclosure=False)
    assert rep.results.equals(by_hand.results)
    assert rep.attrition.equals(by_hand.attrition)
    notes = dict(rep.method.rows())
    assert notes["method"].startswith("report:") and "zero_time_before" in notes["commute_time"]
    assert str(paths.cache_dir() / "matrices") in notes["matrix"]  # the cached variant, named in the notes
    assert dict(by_hand.method.rows())["method"].startswith("default:")


def test_variant_matrix_is_cached_and_changes_only_the_diagonal(matrix):
    first = variants.variant_matrix_path("zero", matrix)
    mtime = first.stat().st_mtime_ns
    assert variants.variant_matrix_path("zero", matrix) == first and first.stat().st_mtime_ns == mtime
    z = pl.read_parquet(first)
    off = pl.col("origin") != pl.col("destination")
    assert z.filter(off).equals(matrix.filter(off).select(z.columns))
    assert z.filter(~off)["minutes"].to_list() == [0.0, 0.0, 0.0]


def test_report_method_fixes_the_mover_definition(panel, matrix, municipalities):
    with pytest.raises(InputError, match="fixes the mover definition"):
        mob.run(panel, matrix, 2021, municipalities=municipalities, method="report", mover_definition="municipality")
    with pytest.raises(InputError, match="unknown method"):
        mob.run(panel, matrix, 2021, municipalities=municipalities, method="web")


def test_cli_method_report_counts_zero_time_before(extract, tmp_path):  # noqa: F811
    out = tmp_path / "rep.csv"
    r = CliRunner().invoke(app, ["compute", "--panel", str(extract), "--year", "2021", "--method", "report",
                                 "--out", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    att = pl.read_csv(tmp_path / "rep.attrition.csv")
    zero = att.filter(pl.col("bucket").str.ends_with("zero_time_before"))
    assert zero.height == 2 and zero["n"].fill_null(0).sum() > 0
    assert "method report" in r.output
    method = dict(pl.read_csv(tmp_path / "rep.method.csv").rows())
    assert method["method"].startswith("report:")

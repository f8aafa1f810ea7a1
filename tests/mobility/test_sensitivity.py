"""``pendling sensitivity``: every number equals a separate compute run with the same settings."""

from __future__ import annotations

import polars as pl
import pytest
from typer.testing import CliRunner

import pendling.mobility as mob
from pendling import load_panel
from pendling.cli import app
from pendling.mobility.contrast import contrast
from pendling.mobility.sensitivity import TABLE_COLUMNS, plot_sensitivity, sensitivity, summary
from pendling.mobility.variants import variant_matrix
from test_compute_cli import extract  # noqa: F401  (module fixture: DST-named extract, real codes)

INTERNAL = ("area", "zero")  # 'network' routes on the national graph (a minute): benchmarks, not tests


@pytest.fixture(scope="module")
def table(extract):  # noqa: F811
    return sensitivity(load_panel(extract), None, "2020:2021", internal=INTERNAL, disclosure=False)


def test_levels_equal_separate_compute_runs(extract, table):  # noqa: F811
    panel = load_panel(extract)
    lv = table.filter(pl.col("quantity") == "level")
    assert lv.height == 2 * 2 * 4 * 2 * 2 * 4 * 3  # internal × mover def × estimator × years × flows × groups × regions
    for inner in INTERNAL:
        for md in ("address", "municipality"):
            res = mob.compute(panel, variant_matrix(inner), [2020, 2021], mover_definition=md, disclosure=False)
            for est in ("mean_rel_change", "ratio_of_means", "median_rel_change", "geo_mean_rel_change"):
                got = lv.filter((pl.col("internal") == inner) & (pl.col("mover_definition") == md)
                                & (pl.col("estimator") == est)).select("year", "flow", "job_group", "region", "value")
                want = res.select("year", pl.col("flow").cast(pl.Utf8), pl.col("job_group").cast(pl.Utf8),
                                  pl.col("region").cast(pl.Utf8), pl.col(est).alias("value"))
                joined = got.join(want, on=["year", "flow", "job_group", "region"], how="left", nulls_equal=True)
                assert joined.height == got.height
                a, b = joined["value"], joined["value_right"]
                assert (a.is_null() == b.is_null()).all()
                assert (a.fill_null(0) == b.fill_null(0)).all()  # the same run: identical bits


def test_contrasts_equal_separate_contrast_runs(extract, table):  # noqa: F811
    panel = load_panel(extract)
    ct = table.filter(pl.col("quantity") == "contrast")
    for inner, md, est in (("zero", "address", "mean_rel_change"), ("area", "municipality", "ratio_of_means")):
        want = contrast(panel, variant_matrix(inner), "2020:2021", mover_definition=md, estimator=est,
                        disclosure=False)
        got = ct.filter((pl.col("internal") == inner) & (pl.col("mover_definition") == md)
                        & (pl.col("estimator") == est))
        # same estimator on the same rows; Polars float sums may differ in the last bit with row chunking
        assert got["value"].to_list() == pytest.approx(want["contrast"].to_list(), rel=1e-12, abs=1e-15)
        assert got["ci_low"].to_list() == pytest.approx(want["ci_low"].to_list(), rel=1e-12, abs=1e-15)


def test_robustness_verdicts_by_hand(table):
    ct = table.filter(pl.col("quantity") == "contrast")
    for (flow, region, group), part in ct.group_by(["flow", "region", "job_group"]):
        d = part.filter(pl.col("is_default"))["value"][0]
        opposite = part.filter(pl.col("value") * d < 0).height > 0 or part["value"].null_count() > 0
        assert part["sign_holds"][0] == (not opposite)
    assert summary(table).height == ct.filter(pl.col("is_default")).height
    assert list(table.columns) == list(TABLE_COLUMNS)
    fig = plot_sensitivity(table)
    assert fig.data.height == ct.height


def test_cli_writes_table_and_figure(extract, tmp_path):  # noqa: F811
    r = CliRunner().invoke(app, ["sensitivity", "--panel", str(extract), "--contrast", "2020:2021", "--internal",
                                 "area", "--internal", "zero", "--out", str(tmp_path)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    written = pl.read_csv(tmp_path / "sensitivity.csv")
    assert written.height > 0 and set(written["internal"]) == set(INTERNAL)
    assert (tmp_path / "sensitivity.png").stat().st_size > 10_000

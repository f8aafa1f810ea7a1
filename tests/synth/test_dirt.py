"""The dirty scenario exercises validation: every kind of dirt is counted by the panel, and the truth
(which leaves out transitions touching an excluded row) still holds."""

from __future__ import annotations

import polars as pl
import pytest

from pendling import mobility
from pendling.errors import InputError
from pendling.panel import load_panel
from pendling.synth import generate


def test_dirty_extract_is_counted_and_truth_holds(tmp_path, matrix) -> None:
    res = generate(tmp_path, persons=60_000, years="2019-2021", seed=8, scenario="dirty", matrix=matrix)
    raw = pl.read_parquet(tmp_path / "ras2020.parquet")
    assert raw.height > 60_000  # duplicated rows
    assert (raw["KOM"] == 999).sum() > 0 and (raw["ARBKOM"] == 999).sum() > 0
    assert (raw["KOM"] == 411).sum() > 0 and raw["DISCO08_ALLE_INDK_13"].null_count() > 0
    with pytest.raises(InputError, match="more than once"):
        load_panel(tmp_path)
    panel = load_panel(tmp_path, on_duplicate="drop")
    buckets = set(panel.attrition.filter(pl.col("n") > 0)["bucket"])
    assert {"excluded_duplicate", "excluded_home_abroad_or_unknown", "excluded_work_abroad_or_unknown",
            "kept_code_alias"} <= buckets
    out = mobility.compute(panel, matrix=matrix, disclosure=False)
    j = res.truth.join(out, on=["year", "flow", "job_group", "region"], how="left", suffix="_engine")
    assert (j["n"] == j["n_engine"]).all()
    assert "unclassified" in set(j["job_group"])  # missing DISCO at t-1
    dev = (j["mean_rel_change"] - j["expected_mean_rel_change"]).abs()
    assert (dev <= j["tolerance"] + 1e-12).all()

"""The committed calibration tables and the gravity fit on the shipped travel-time matrix."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pendling.synth import calibration as cal


def test_municipality_targets_match_dst_totals() -> None:
    t = cal.municipality_targets()
    assert t.height == 98 and t["code"].dtype == pl.Int16 and t["code"].is_sorted()
    # DST AFSTB3/AFSTA3 2022 totals (README of the source data), 411 Christiansø folded into 400
    assert t["employed_residence_2022"].sum() == 3_090_211
    assert t["employed_workplace_2022"].sum() == 3_084_230
    assert t["population_2022q1"].sum() == 5_873_420
    band_cols = [c for c in t.columns if c.startswith("residence_")]
    assert (t.select(pl.sum_horizontal(band_cols)).to_series() == t["employed_residence_2022"]).all()
    km = t.filter(pl.col("code") == 390)["afstb4_km_2022"].item()
    assert km == pytest.approx(36.1)  # Vordingborg, the highest


def test_isco_unit_groups_follow_the_ilo_structure() -> None:
    ug = pl.read_csv(cal.synth_reference_dir() / "isco08_unit_groups.csv", schema_overrides={"isco4": pl.String})
    assert ug.height == 436
    assert ug["isco4"].str.slice(0, 3).n_unique() == 130
    assert ug["isco4"].str.slice(0, 2).n_unique() == 43
    assert ug["isco4"].str.contains(r"^\d{4}$").all()


def test_gravity_fit_meets_marginals_and_cross_border_share(matrix: pl.DataFrame) -> None:
    g = cal.fit_gravity(matrix)
    t = cal.municipality_targets()
    res = t["employed_residence_2022"].to_numpy() / t["employed_residence_2022"].sum()
    work = t["employed_workplace_2022"].to_numpy() / t["employed_workplace_2022"].sum()
    np.testing.assert_allclose(g.joint.sum(axis=1), res, atol=1e-9)
    np.testing.assert_allclose(g.joint.sum(axis=0), work, atol=1e-9)
    assert 1 - np.trace(g.joint) == pytest.approx(cal.CROSS_BORDER_SHARE, abs=1e-6)
    # km: computed here from the joint and the matrix, not taken from the fit's own diagnostics
    model_km = (g.joint * g.km).sum(axis=1) / g.joint.sum(axis=1)
    assert np.corrcoef(model_km, t["afstb4_km_2022"].to_numpy())[0, 1] > 0.9
    assert abs(float((g.joint * g.km).sum()) - 22.27) < 1.5
    lo, hi = cal.BETA_BOUNDS
    assert (g.beta >= lo - 1e-12).all() and (g.beta <= hi + 1e-12).all()


def test_gravity_fit_is_deterministic_and_hash_tracks_content(matrix: pl.DataFrame) -> None:
    a, b = cal.fit_gravity(matrix), cal.fit_gravity(matrix)
    assert a.joint.tobytes() == b.joint.tobytes()
    changed = matrix.with_columns(
        pl.when((pl.col("origin") == 101) & (pl.col("destination") == 147))
        .then(pl.col("minutes") + 1).otherwise(pl.col("minutes")).alias("minutes")
    )
    assert cal.matrix_hash(matrix) == a.matrix_sha256
    assert cal.matrix_hash(changed) != cal.matrix_hash(matrix)


def test_choice_matrices_are_conditionals_of_the_joint(matrix: pl.DataFrame) -> None:
    g = cal.fit_gravity(matrix)
    K = g.home_choice(1.0)  # [w, h]
    Q = g.job_choice(1.0)  # [h, w]
    np.testing.assert_allclose(K, (g.joint / g.joint.sum(axis=0, keepdims=True)).T, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(Q, g.joint / g.joint.sum(axis=1, keepdims=True), rtol=1e-9, atol=1e-15)
    # a weaker decay moves mass to longer trips (on average over workplaces; a single row can go the
    # other way when a near home has a much steeper decay than a far one)
    T = g.minutes
    work_share = g.joint.sum(axis=0)
    mean_minutes = [float(work_share @ (g.home_choice(m) * T.T).sum(axis=1)) for m in (1.0, 0.85, 0.7)]
    assert mean_minutes[0] < mean_minutes[1] < mean_minutes[2]

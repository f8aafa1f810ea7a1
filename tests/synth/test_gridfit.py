"""Gravity of grid extracts fitted on expected cell-level times (pendling.synth.gridfit): the estimator on
a toy time source checked by hand, the grid synth choosing with it while the truth keeps the matrix's
times, and the municipality-level synth unchanged bit for bit."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl
import pytest

from pendling.errors import InputError
from pendling.io import sha256_file
from pendling.odmatrix import load_matrix
from pendling.synth import generate
from pendling.synth import gridfit as G
from pendling.synth.api import build_world
from pendling.synth.calibration import fitted_gravity, matrix_arrays
from pendling.synth.model import build_kernels
from pendling.synth.scenario import load_scenario

# Toy: municipality 1 has home cells a (weight 3) and b (weight 1); municipality 2 has work cells c and d
# (weight 1 each) and home cell e; municipality 1's only work cell is a.
WEIGHTS = pl.DataFrame({
    "municipality": pl.Series([1, 1, 2, 2, 2], dtype=pl.Int16),
    "zone": ["a", "b", "c", "d", "e"],
    "w_home": [3.0, 1.0, 0.0, 0.0, 1.0],
    "w_work": [1.0, 0.0, 1.0, 1.0, 0.0],
})
TOY = {("a", "a"): 1.0, ("b", "a"): 5.0, ("a", "c"): 10.0, ("a", "d"): 20.0, ("b", "c"): 30.0, ("b", "d"): 40.0,
       ("e", "a"): 12.0, ("e", "c"): 2.0, ("e", "d"): 4.0}


def _toy_times(pairs: pl.DataFrame) -> pl.DataFrame:
    """Minutes from TOY (null where absent: not routable); km = minutes / 2."""
    t = [TOY.get(k) for k in zip(pairs["origin"], pairs["destination"], strict=True)]
    return pairs.with_columns(pl.Series("minutes", t, pl.Float64), (pl.Series("km", t, pl.Float64) / 2))


def test_sample_sizes_by_hand():
    minutes = np.array([[5.0, 10.0, 30.0], [10.0, 4.0, 20.0], [30.0, 25.0, 6.0]])
    s = G.sample_sizes(minutes, diagonal=100, near=10, far=2, near_k=1)
    # nearest other municipality: 0 → 1 (10 min), 1 → 0 (10 < 20), 2 → 1 (25 < 30)
    assert s.tolist() == [[100, 10, 2], [10, 100, 2], [2, 10, 100]]


def test_expected_cell_matrix_by_hand():
    n = 20_000
    out = G.expected_cell_matrix(WEIGHTS, np.array([1, 2]), np.full((2, 2), n), _toy_times, seed=3)
    got = {(o, d): r for o, d, *r in out.select("origin", "destination", "minutes", "minutes_se", "km", "pairs",
                                                 "pairs_routed").iter_rows()}
    # (1 → 1): home a w.p. 3/4 (a→a 1 min), b w.p. 1/4 (b→a 5 min): 0.75·1 + 0.25·5 = 2.0, sd = sqrt(3)
    # (1 → 2): 0.75·(10 + 20)/2 + 0.25·(30 + 40)/2 = 11.25 + 8.75 = 20.0
    # (2 → 1): e → a = 12 always (sd 0); (2 → 2): (2 + 4)/2 = 3
    for key, exact in {(1, 1): 2.0, (1, 2): 20.0, (2, 1): 12.0, (2, 2): 3.0}.items():
        minutes, se, km, pairs, routed = got[key]
        assert pairs == routed == n
        assert abs(minutes - exact) < 4 * se + 1e-12
        assert km == pytest.approx(minutes / 2)
    assert got[(1, 1)][1] == pytest.approx(np.sqrt(3 / n), rel=0.05)
    assert got[(2, 1)][1] == 0.0
    # second moment of (1 → 2): 0.375·(100 + 400) + 0.125·(900 + 1600) = 500; sd = sqrt(500 - 400) = 10
    assert got[(1, 2)][1] == pytest.approx(10 / np.sqrt(n), rel=0.05)
    assert out.schema["origin"] == pl.Int16 and out.height == 4
    # deterministic per seed
    assert out.equals(G.expected_cell_matrix(WEIGHTS, np.array([1, 2]), np.full((2, 2), n), _toy_times, seed=3))


def test_unroutable_draws_counted_and_left_out():
    def times(pairs: pl.DataFrame) -> pl.DataFrame:  # b → a does not route
        t = _toy_times(pairs)
        return t.with_columns(pl.when((pl.col("origin") == "b") & (pl.col("destination") == "a")).then(None)
                              .otherwise(pl.col(c)).alias(c) for c in ("minutes", "km"))

    out = G.expected_cell_matrix(WEIGHTS, np.array([1, 2]), np.full((2, 2), 400), times, seed=1)
    r = out.filter((pl.col("origin") == 1) & (pl.col("destination") == 1)).row(0, named=True)
    assert r["pairs"] == 400 and 50 < r["pairs"] - r["pairs_routed"] < 150  # about a quarter draws b
    assert r["minutes"] == 1.0 and r["km"] == 0.5 and r["minutes_se"] == 0.0  # only a → a left


def test_municipality_without_pairs_is_an_error():
    with pytest.raises(InputError, match="without a single routable"):
        G.expected_cell_matrix(WEIGHTS, np.array([1, 2]), np.full((2, 2), 5),
                               lambda p: p.with_columns(pl.lit(None, pl.Float64).alias("minutes"),
                                                        pl.lit(None, pl.Float64).alias("km")))
    with pytest.raises(InputError, match="without a cell"):
        G.expected_cell_matrix(WEIGHTS, np.array([1, 3]), np.full((2, 2), 5), _toy_times)


def _toy_cell_matrix(matrix: pl.DataFrame) -> pl.DataFrame:
    """A cell-level matrix unlike the engine's: diagonal at 60 %, the rest 10 % longer."""
    same = pl.col("origin") == pl.col("destination")
    return matrix.with_columns(
        pl.when(same).then(pl.col(c) * 0.6).otherwise(pl.col(c) * 1.1).alias(c) for c in ("minutes", "km"))


def test_grid_gravity_chooses_on_cells_truth_on_matrix(matrix):
    cells = _toy_cell_matrix(matrix)
    g = G.grid_gravity(matrix, cells)
    _, minutes, km = matrix_arrays(matrix)
    _, cmin, _ = matrix_arrays(cells)
    assert np.array_equal(g.minutes, minutes) and np.array_equal(g.km, km)  # the engine's times
    assert np.array_equal(g.choice_minutes, cmin)
    plain = fitted_gravity(matrix)
    assert not np.allclose(g.beta, plain.beta)  # fitted again, on the cell minutes
    # the fit reaches the cross-border target on the cell matrix and reports its bounds
    assert g.diagnostics["cross_border_share"] == pytest.approx(0.41, abs=1e-6)
    assert g.diagnostics["beta_upper_bound"] == G.GRID_BETA_BOUNDS[1]
    # choices: exp(-beta·cell minutes + delta·[h == w]); moments for the truth: engine minutes
    imp = np.exp(-g.beta[:, None] * cmin + g.delta * np.eye(cmin.shape[0]))
    assert np.allclose(g.impedance(), imp)
    w = build_world(1_000, 1, load_scenario("null"), gravity=g)
    k = build_kernels(w, 2021)
    n = g.codes.size
    Q = g.job_choice(1.0)
    # null scenario (multipliers 1): first job group's rows are Q; their moments are of the engine minutes
    assert np.allclose(k.job_m1[:n], (Q * minutes).sum(axis=1))
    assert not np.allclose(k.job_m1[:n], (Q * cmin).sum(axis=1))
    assert not np.allclose(k.job_m1[:n], (plain.job_choice(1.0) * minutes).sum(axis=1))


def test_grid_synth_uses_the_grid_fit(matrix, tmp_path, monkeypatch):
    cells = _toy_cell_matrix(matrix)
    monkeypatch.setattr(G, "load_cell_expected", lambda path=None: cells)
    r = generate(tmp_path / "g", persons=3_000, years="2020-2021", seed=7, scenario="default", matrix=matrix,
                 zones="grid1km")
    want = G.grid_gravity(matrix, cells)
    cal = r.manifest["calibration"]
    assert cal["delta"] == want.delta and cal["beta_upper_bound"] == G.GRID_BETA_BOUNDS[1]
    assert want.choice_sha256 in r.manifest["zones"]["placement"]
    default = load_scenario("default")
    w = build_world(3_000, 7, default, matrix=matrix, zones="grid1km")
    assert w.gravity is want
    # the scenario's first-year multiplier, translated to the grid fit, is the one used and reported
    m0 = G.grid_initial_multiplier(want, fitted_gravity(matrix), default.initial_job_choice)
    assert m0 != default.initial_job_choice and w.scenario.initial_job_choice == m0 == cal["initial_job_choice"]
    assert r.manifest["scenario"]["sha256"] == hashlib.sha256(default.text.encode()).hexdigest()


def test_grid_initial_multiplier_keeps_the_relative_shortening(matrix):
    plain = fitted_gravity(matrix)
    assert G.grid_initial_multiplier(plain, plain, 1.3) == pytest.approx(1.3, rel=1e-5)  # same fit: same m
    g = G.grid_gravity(matrix, _toy_cell_matrix(matrix))
    assert G.grid_initial_multiplier(g, plain, 1.0) == 1.0
    m = G.grid_initial_multiplier(g, plain, 1.2)

    def km(gr, k, x):
        return float((gr.residence[:, None] * gr.job_choice(x) * k).sum())

    assert km(g, g.choice_km, m) / km(g, g.choice_km, 1.0) == pytest.approx(
        km(plain, plain.km, 1.2) / km(plain, plain.km, 1.0), rel=1e-5)


# sha256 of a municipality-level extract written by the code before grid fitting existed (commit 6de4997):
# the default synth must stay bit-identical.
MUNICIPALITY_SHA256 = {
    "ras2020.parquet": "e5ad49efa94f320b3e9f571d57cacfd96b3b1e232aeac9838c7b6bb0643e43f7",
    "ras2021.parquet": "193435be27577e606974fbd9456979ffb58db716677701448b6c6047fd36dfb5",
}


def test_municipality_synth_unchanged(matrix, tmp_path):
    r = generate(tmp_path / "m", persons=3_000, years="2020-2021", seed=7, scenario="default", matrix=matrix)
    assert {f.name: sha256_file(f) for f in r.files} == MUNICIPALITY_SHA256
    assert "zones" not in r.manifest
    assert r.manifest["calibration"]["delta"] == fitted_gravity(matrix).delta


def test_cli_reports_the_grid_fit(tmp_path):
    from typer.testing import CliRunner

    from pendling.cli import app

    res = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "g"), "--persons", "2000", "--years", "2021",
                                   "--zones", "grid1km"], env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    fit = G.grid_gravity(load_matrix())
    assert "gravity fitted on the expected cell-level times" in res.output
    assert f"r {fit.diagnostics['municipal_km_correlation']:.3f} with AFSTB4 2022" in res.output

"""The gravity of grid synthetic extracts (``pendling synth --zones grid1km``), fitted on cell-level times.

A grid extract places each dwelling and workplace in a 1 km cell of its municipality
(:mod:`pendling.synth.cells`), so the home–work distance a person actually has is the road distance
between two cells, not the 98 × 98 matrix entry: within a large municipality the cells are closer than
the matrix diagonal (Viborg 16.7 vs 25.0 km), and the commute into a neighbour's town is longer than
centroid to centroid (Hjørring → Aalborg). A gravity fitted on the matrix therefore misses AFSTB4 at
grid level (benchmarks/synth_realism_grid.md).

:func:`expected_cell_matrix` estimates, for every (home municipality i, work municipality j), the
*expected* cell-to-cell road minutes and km under the synth's placement: the mean of
``t(a, b)`` over home cells ``a`` of i drawn with weight ``w_home`` and work cells ``b`` of j with
``w_work``, which is what a person living in i and working in j gets on average. It is a Monte Carlo
mean over independent weighted draws (unbiased; standard error = sd / sqrt(pairs routed)), stratified
by where it matters: :data:`PAIRS_DIAGONAL` pairs for i = j, :data:`PAIRS_NEAR` for the
:data:`NEAR_K` nearest other municipalities of i (matrix minutes), :data:`PAIRS_FAR` for the rest.
Pairs that do not route (a placed cell that does not snap to the road graph) are counted and left out
of the mean, as the grid realism report leaves them out. ``scripts/derive_cell_expected.py`` writes the
result to ``data/od_matrix/cell_expected_1km.parquet``.

:func:`grid_gravity` fits :func:`pendling.synth.calibration.fit_gravity` on that matrix (same targets:
AFSTB3/AFSTA3 marginals, AFSTB4 2022 km by residence, 41 % cross-border) and returns a
:class:`~pendling.synth.calibration.Gravity` whose *choices* (``choice_minutes``) use the cell-level
minutes while ``minutes``/``km`` stay the engine's matrix: the planted truth is an expectation of the
times the engine computes with, not of the times the choice model saw.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from pendling import paths
from pendling.errors import DataMissingError, InputError
from pendling.synth.calibration import Gravity, fit_gravity, matrix_arrays, matrix_hash

PAIRS_DIAGONAL = 3000  # cell pairs per municipality with itself: 60 % of commutes, the largest misfit
PAIRS_NEAR = 400  # per pair with one of the NEAR_K nearest other municipalities
PAIRS_FAR = 40  # per other pair: few commutes, long times (a small relative error)
NEAR_K = 12
SEED = 18
GRID_BETA_BOUNDS = (0.001, 0.60)  # per minute, wider than the matrix fit's (0.02, 0.30): Bornholm needs 0.001 (its
# decay only trades the island against the mainland), Ringkøbing-Skjern 0.60 (its cells lie far apart)
CELL_EXPECTED_NAME = "cell_expected_1km.parquet"
COLUMNS = ("origin", "destination", "minutes", "km", "minutes_se", "km_se", "pairs", "pairs_routed")

PairTimes = Callable[[pl.DataFrame], pl.DataFrame]
"""pair_times(pairs: origin, destination cell ids) → origin, destination, minutes, km (null: not routable)."""


def cell_expected_path() -> Path:
    """``data/od_matrix/cell_expected_1km.parquet``."""
    return paths.od_matrix_dir() / CELL_EXPECTED_NAME


def sample_sizes(minutes: np.ndarray, *, diagonal: int = PAIRS_DIAGONAL, near: int = PAIRS_NEAR,
                 far: int = PAIRS_FAR, near_k: int = NEAR_K) -> np.ndarray:
    """``[i, j]`` cell pairs to draw (Int64): ``diagonal`` on i = j, ``near`` for the ``near_k`` other
    municipalities nearest to i by ``minutes`` (ties by code order), ``far`` elsewhere."""
    n = minutes.shape[0]
    order = np.argsort(minutes + np.diag(np.full(n, np.inf)), axis=1, kind="stable")[:, : min(near_k, n - 1)]
    sizes = np.full((n, n), far, dtype=np.int64)
    sizes[np.repeat(np.arange(n), order.shape[1]), order.ravel()] = near
    np.fill_diagonal(sizes, diagonal)
    return sizes


def _draw(weights: pl.DataFrame, column: str, munis: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The cell (zone id) of each draw: inverse CDF of ``column`` within municipality ``munis[k]`` at ``u[k]``."""
    w = weights.filter(pl.col(column) > 0).sort("municipality", "zone")
    m = w["municipality"].to_numpy().astype(np.int64)
    cum = w.select(pl.col(column).cum_sum().over("municipality") / pl.col(column).sum().over("municipality")).to_series().to_numpy()
    axis = m * 2.0 + np.minimum(cum, 1.0)  # municipality m occupies (2m, 2m + 1], as cells.place
    pos = np.minimum(np.searchsorted(axis, munis * 2.0 + u, side="left"), len(axis) - 1)
    if (m[pos] != munis).any():
        raise InputError(f"municipalities without a cell weighted by {column}", column=column,
                         values=np.unique(munis[m[pos] != munis]).tolist()[:10],
                         hint="every municipality of the matrix needs weighted cells (pendling.synth.cells.cell_weights)")
    return w["zone"].to_numpy()[pos]


def expected_cell_matrix(
    weights: pl.DataFrame,
    codes: np.ndarray,
    sizes: np.ndarray,
    times: PairTimes,
    seed: int = SEED,
) -> pl.DataFrame:
    """Expected cell-to-cell minutes and km per (home municipality, work municipality).

    ``weights``: ``municipality``, ``zone``, ``w_home``, ``w_work`` (as
    :func:`pendling.synth.cells.cell_weights`); ``codes``: the municipalities (Int16, sorted);
    ``sizes[i, j]``: cell pairs to draw (:func:`sample_sizes`); ``times``: the cell-pair time source.
    Returns one row per (i, j) in code order with :data:`COLUMNS`: ``minutes``/``km`` (Float64) the mean
    over the routed draws, ``minutes_se``/``km_se`` their standard errors (sd / sqrt(pairs_routed);
    null with fewer than two), ``pairs`` drawn and ``pairs_routed`` (Int64). Deterministic for a seed.
    """
    codes = np.asarray(codes, dtype=np.int64)
    n = codes.size
    if sizes.shape != (n, n) or (sizes < 1).any():
        raise InputError("sample sizes must be a positive n × n array over the codes", values=[sizes.shape, n])
    idx = np.repeat(np.arange(n * n), sizes.ravel())
    rng = np.random.default_rng(seed)
    u_home, u_work = rng.random(idx.size), rng.random(idx.size)
    home = _draw(weights, "w_home", codes[idx // n], u_home)
    work = _draw(weights, "w_work", codes[idx % n], u_work)
    draws = pl.DataFrame({"cell": idx, "origin": home, "destination": work})
    distinct = draws.select("origin", "destination").unique().sort("origin", "destination")
    got = times(distinct)
    missing = {"origin", "destination", "minutes", "km"} - set(got.columns)
    if missing:
        raise InputError("the cell-pair time source returned no times", column=", ".join(sorted(missing)),
                         hint="return origin, destination, minutes, km for every pair given")
    got = got.select(pl.col("origin").cast(pl.Utf8), pl.col("destination").cast(pl.Utf8),
                     pl.col("minutes").cast(pl.Float64), pl.col("km").cast(pl.Float64)).unique(subset=["origin", "destination"])
    out = draws.join(got, on=["origin", "destination"], how="left").group_by("cell").agg(
        pl.len().cast(pl.Int64).alias("pairs"),
        pl.col("minutes").count().cast(pl.Int64).alias("pairs_routed"),
        pl.col("minutes").mean(), pl.col("km").filter(pl.col("minutes").is_not_null()).mean(),
        (pl.col("minutes").std() / pl.col("minutes").count().sqrt()).alias("minutes_se"),
        (pl.col("km").filter(pl.col("minutes").is_not_null()).std() / pl.col("minutes").count().sqrt()).alias("km_se"),
    ).sort("cell")
    if out.height != n * n or out["pairs_routed"].min() == 0:
        bad = out.filter(pl.col("pairs_routed") == 0)["cell"].to_numpy()
        raise InputError("municipality pairs without a single routable cell pair",
                         values=[(int(codes[c // n]), int(codes[c % n])) for c in bad[:10]],
                         hint="raise the sample size or check the cell weights")
    cell = out["cell"].to_numpy()
    return out.select(
        pl.Series("origin", codes[cell // n], pl.Int16), pl.Series("destination", codes[cell % n], pl.Int16),
        "minutes", "km", "minutes_se", "km_se", "pairs", "pairs_routed")


def load_cell_expected(path: str | Path | None = None) -> pl.DataFrame:
    """The shipped expected cell-level matrix (``data/od_matrix/cell_expected_1km.parquet``)."""
    path = Path(path) if path is not None else cell_expected_path()
    if not path.is_file():
        raise DataMissingError(
            f"expected cell-level matrix missing: {path}. What to do: restore it from the repository "
            "(developers: python scripts/derive_cell_expected.py)")
    m = pl.read_parquet(path)
    missing = {"origin", "destination", "minutes", "km"} - set(m.columns)
    if missing or m.select(pl.col("minutes", "km").null_count()).sum_horizontal().item():
        raise InputError("the expected cell-level matrix lacks columns or has empty times", file=path,
                         column=", ".join(sorted(missing)) or "minutes, km",
                         hint="rebuild it: python scripts/derive_cell_expected.py")
    return m.with_columns(pl.col("origin", "destination").cast(pl.Int16))


_FIT_CACHE: dict[tuple[str, str], Gravity] = {}


def grid_gravity(matrix: pl.DataFrame, cell_matrix: pl.DataFrame | None = None,
                 beta_bounds: tuple[float, float] = GRID_BETA_BOUNDS) -> Gravity:
    """The gravity a grid extract chooses with: fitted on ``cell_matrix`` (default: the shipped
    :func:`load_cell_expected`), with ``choice_minutes`` = its minutes, and ``minutes``/``km`` =
    ``matrix`` (the engine's times, for the truth). Remembered per content in this process."""
    cell_matrix = cell_matrix if cell_matrix is not None else load_cell_expected()
    key = (matrix_hash(matrix), matrix_hash(cell_matrix), *beta_bounds)
    if key not in _FIT_CACHE:
        codes, minutes, km = matrix_arrays(matrix)
        ccodes, cmin, ckm = matrix_arrays(cell_matrix.select("origin", "destination", "minutes", "km"))
        if not np.array_equal(codes, ccodes):
            raise InputError("the cell-level matrix and the travel-time matrix cover different municipalities",
                             column="origin", values=sorted(set(codes.tolist()) ^ set(ccodes.tolist())))
        fit = fit_gravity(cell_matrix.select("origin", "destination", "minutes", "km"), beta_bounds=beta_bounds)
        diagnostics = {**fit.diagnostics, "beta_lower_bound": beta_bounds[0], "beta_upper_bound": beta_bounds[1]}
        _FIT_CACHE[key] = dataclasses.replace(
            fit, minutes=minutes, km=km, choice_minutes=cmin, choice_km=ckm,
            matrix_sha256=matrix_hash(matrix), choice_sha256=fit.matrix_sha256, diagnostics=diagnostics)
    return _FIT_CACHE[key]


def grid_initial_multiplier(grid: Gravity, plain: Gravity, multiplier: float) -> float:
    """The first-year decay multiplier on ``grid`` that shortens the national mean commute as much, relative
    to its fit, as ``multiplier`` does on ``plain`` (the matrix fit the scenario's ``[initial] job_choice``
    was tuned on): ``km_grid(m) / km_grid(1) = km_plain(multiplier) / km_plain(1)``, with km the expected
    national mean of the first-year workplace draw (``choice_km`` on the grid, matrix km on the plain fit).
    1 stays 1. Bisection on log m in [0.25, 8] (the km falls monotonically with m)."""
    if multiplier == 1.0:
        return 1.0

    def km(g: Gravity, km_of: np.ndarray, m: float) -> float:
        return float((g.residence[:, None] * g.job_choice(m) * km_of).sum())

    grid_km = grid.choice_km if grid.choice_km is not None else grid.km
    target = km(plain, plain.km, multiplier) / km(plain, plain.km, 1.0) * km(grid, grid_km, 1.0)
    a, b = np.log(0.25), np.log(8.0)
    for _ in range(50):
        mid = 0.5 * (a + b)
        if km(grid, grid_km, float(np.exp(mid))) > target:
            a = mid
        else:
            b = mid
    return round(float(np.exp(0.5 * (a + b))), 6)

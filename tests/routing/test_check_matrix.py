"""`routing.check_matrix`: the sanity report on hand-made matrices, against values worked out by hand
and against a plain triple loop."""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
import pytest

from pendling import routing


def _matrix(t: dict[tuple[int, int], float], codes=(1, 2, 3, 4), default: float = 10.0) -> pl.DataFrame:
    rows = [(o, d, t.get((o, d), 7.0 if o == d else default)) for o in codes for d in codes]
    df = pl.DataFrame(rows, schema={"origin": pl.Int16, "destination": pl.Int16, "minutes": pl.Float64}, orient="row")
    return df.with_columns(km=pl.col("minutes") * 1.1)


def test_planted_violation_by_hand() -> None:
    # 1 → 3 takes 100 minutes, but 1 → 2 → 3 and 1 → 4 → 3 take 20: excess 80 via either
    rep = routing.check_matrix(_matrix({(1, 3): 100.0}))
    assert rep["municipalities"] == 4 and rep["pairs"] == 16 and rep["unreachable_pairs"] == 0
    assert rep["triangle_violations"] == 2
    assert rep["triangle_worst_excess_minutes"] == 80.0
    # ratios: 10 (1→3 / 3→1), 0.1 (back), 1 for the other ten ordered pairs
    assert rep["symmetry_ratio_median"] == 1.0 and rep["symmetry_ratio_max"] == 10.0
    assert (rep["slowest"][0]["origin"], rep["slowest"][0]["destination"], rep["slowest"][0]["minutes"]) == (1, 3, 100.0)
    assert len(rep["slowest"]) == 10 and all(s["origin"] != s["destination"] for s in rep["slowest"])
    # the tolerance is in minutes and strict: an excess of exactly 80 is not above 80
    assert routing.check_matrix(_matrix({(1, 3): 100.0}), tolerance_min=80.0)["triangle_violations"] == 0


def test_unreachable_pairs_count_and_do_not_hide_the_worst_excess() -> None:
    # 2 → 3 unreachable (NaN); 1 → 3 slow as above. 1 → 2 → 3 has a missing leg, so only 1 → 4 → 3
    # shows the 80-minute excess; 2 → 3 is reachable via 1 and via 4: two more violations (infinite).
    df = _matrix({(1, 3): 100.0, (2, 3): math.nan})
    rep = routing.check_matrix(df)
    assert rep["unreachable_pairs"] == 1
    assert rep["triangle_violations"] == 3
    assert rep["triangle_worst_excess_minutes"] == 80.0  # the finite worst, not hidden by the infinite ones
    # null minutes and a pair absent altogether are unreachable too
    gone = df.with_columns(pl.when((pl.col("origin") == 4) & (pl.col("destination") == 1)).then(None)
                           .otherwise(pl.col("minutes")).alias("minutes"))  # fmt: skip
    gone = gone.filter(~((pl.col("origin") == 1) & (pl.col("destination") == 2)))
    assert routing.check_matrix(gone)["unreachable_pairs"] == 3


def test_symmetric_and_metric_matrix_is_clean() -> None:
    rng = np.random.default_rng(4)
    xy = rng.uniform(0, 50, (6, 2))
    codes = list(range(101, 107))
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))  # Euclidean: a metric
    t = {(o, d): float(dist[i, j]) + 5.0 for (i, o), (j, d) in itertools.product(enumerate(codes), repeat=2) if i != j}
    rep = routing.check_matrix(_matrix(t, codes=codes))
    assert rep["triangle_violations"] == 0 and rep["triangle_worst_excess_minutes"] == 0.0
    assert rep["symmetry_ratio_median"] == pytest.approx(1.0) and rep["symmetry_ratio_max"] == pytest.approx(1.0)


def _by_loops(df: pl.DataFrame, tol: float) -> tuple[int, float, int]:
    """The same checks written as plain loops over every triple (tiny matrices only)."""
    t = {(o, d): m for o, d, m in df.select("origin", "destination", "minutes").iter_rows()}
    codes = sorted({c for pair in t for c in pair})

    def ok(x: float | None) -> bool:
        return x is not None and math.isfinite(x)

    viol, worst = 0, 0.0
    for a, b, c in itertools.permutations(codes, 3):
        ab, bc, ac = t.get((a, b)), t.get((b, c)), t.get((a, c))
        if ok(ab) and ok(bc):
            excess = (ac if ok(ac) else math.inf) - (ab + bc)
            viol += excess > tol
            if math.isfinite(excess):
                worst = max(worst, excess)
    unreachable = sum(1 for a, c in itertools.permutations(codes, 2) if not ok(t.get((a, c))))
    return viol, round(worst, 3), unreachable


@pytest.mark.parametrize("seed", range(6))
def test_agrees_with_a_triple_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 9))
    codes = sorted(rng.choice(np.arange(101, 900), n, replace=False).tolist())
    t = {(o, d): float(rng.uniform(5, 60)) for o, d in itertools.permutations(codes, 2)}
    for key in rng.choice(len(t), int(rng.integers(0, 3)), replace=False):
        t[list(t)[key]] = [math.nan, math.inf][int(key) % 2]
    df = _matrix(t, codes=codes)
    for tol in (0.0, 0.5, 10.0):
        rep = routing.check_matrix(df, tolerance_min=tol)
        assert (rep["triangle_violations"], rep["triangle_worst_excess_minutes"], rep["unreachable_pairs"]) == _by_loops(df, tol)

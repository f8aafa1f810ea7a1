"""The vectorised categorical sampler and id scrambling."""

from __future__ import annotations

import numpy as np
from scipy import stats

from pendling.synth import sampling as S


def test_draw_rows_follows_each_row_and_skips_zero_probabilities() -> None:
    prob = np.array([[0.5, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 1.0], [0.1, 0.2, 0.3, 0.4]])
    flat = S.row_offsets(S.cumulative(prob))
    rng = S.stream(1, 2020, 0)
    rows = np.repeat(np.arange(3), 40_000)
    got = S.draw_rows(flat, 4, rows, rng.random(rows.size))
    for r in range(3):
        counts = np.bincount(got[rows == r], minlength=4)
        assert (counts[prob[r] == 0] == 0).all()
        keep = prob[r] > 0
        if keep.sum() > 1:
            chi = stats.chisquare(counts[keep], 40_000 * prob[r][keep])
            assert chi.pvalue > 1e-4


def test_draw_rows_edge_uniforms_stay_in_row() -> None:
    prob = np.array([[0.3, 0.7], [1.0, 0.0]])
    flat = S.row_offsets(S.cumulative(prob))
    u = np.array([0.0, 1 - 1e-16, 0.3, 0.0, 1 - 1e-16])
    rows = np.array([0, 0, 0, 1, 1])
    assert S.draw_rows(flat, 2, rows, u).tolist() == [0, 1, 1, 0, 0]


def test_scramble_is_a_bijection_into_the_id_range() -> None:
    k = np.arange(200_000)
    ids = S.scramble(k, 2_654_435_761, 9_000_000_000, 1_000_000_000)
    assert np.unique(ids).size == k.size
    assert ids.min() >= 1_000_000_000 and ids.max() < 10_000_000_000


def test_streams_are_independent_of_each_other() -> None:
    a = S.stream(7, 2020, S.MOVE).random(5)
    b = S.stream(7, 2020, S.MOVE).random(5)
    c = S.stream(7, 2021, S.MOVE).random(5)
    assert (a == b).all() and not (a == c).any()

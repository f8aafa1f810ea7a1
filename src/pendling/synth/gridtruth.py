"""The planted truth at cell level, for grid synthetic extracts (``pendling synth --zones grid1km``).

At grid level a person's commute time is T(home cell, workplace cell) from a *cell time source*; the
generator chooses municipalities by the gravity kernels and then cells by hashes that act as draws
from the cells' weight shares (:func:`pendling.synth.cells.place_positions`). For every person the
engine classifies, the expectation of r = T_t / T_{t-1} - 1 over the model's random choices is a sum
over cells:

* **mover** (workplace cell ``wc`` fixed, old home cell ``c0``): a local move (share ``a``) draws a
  new home cell in the old municipality h0 by the home shares ``p(c | h0)``; otherwise a municipality h
  by the kernel row ``K[g, r, w0, h]``, then a cell by ``p(c | h)``. So
  ``E[T_t] = a·Σ_c p(c|h0)·T(c, wc) + (1-a)·Σ_c K[row, h(c)]·p(c|h(c))·T(c, wc)``;
* **job changer** (home cell ``hc`` fixed): a municipality w by the kernel row ``Q[g, h, w]``, then a
  workplace there by size (never the old job: when it is drawn, the next workplace in the
  municipality's order is taken), whose cell is the hash of its LBNR. With ``D(c)`` the size share of
  the workplaces in cell c of their municipality, ``E[T_t] = Σ_c Q[row, w(c)]·D(c)·T(hc, c) +
  Q[row, w_x]·s_old·(T(hc, c_next) - T(hc, c_old))`` (``s_old``: the old job's size share in its
  municipality ``w_x``).

Second moments are the same sums over T², so E[r] and Var[r] are exact per person. The work is done
per distinct (distribution row, fixed cell) key, never per person: keys are expanded against the
row's support (a long, chunked table), the distinct cell pairs are timed once (cached across chunks
and years) and the sums are ``bincount``s.

**Scaling: the support threshold ``min_prob``.** A kernel row spreads over ~30 municipalities and
their ~360 cells each (≈10 000 cells), so the exact sum over all (cell, fixed cell) pairs is too big
for routed times at national scale (~32 000 home × 15 000 work cells). With ``min_prob > 0`` a cell
whose probability in the row is below ``min_prob`` is not timed: its mass is moved onto the most
likely cell of its municipality (every municipality the row reaches keeps that cell). The expectation
is then exact for the truncated distribution; the moved mass is reported per truth cell
(``tail_mass``, mean over persons) and bounds the approximation: |error in E[r]| ≤ tail_mass ×
(the spread of T within a municipality) / T_{t-1}. ``min_prob = 0`` is exact. Pairs without a time
(cells the router cannot reach) are left out of the sum and the rest renormalised, since the engine
excludes a person whose pair has no time; persons whose own t-1 pair has no time are not in the truth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

TimeSource = Callable[[pl.DataFrame], pl.DataFrame]
"""times(pairs): ``pairs`` has ``origin``, ``destination`` (Utf8 zone ids); returns a frame with a
Float64 ``minutes`` column, one row per input row in input order (null: no time). The toy straight-line
times of the tests and :func:`routed_times` both fit."""

Progress = Callable[[int, int], None]
"""progress(pairs_done, pairs_total) over the expanded (key, cell) rows of one call."""

CHUNK_ROWS = 4_000_000  # expanded (key, cell) rows per chunk: ~100 MB of working arrays
DIST_CHUNK = 32  # distribution rows densified at once ([32, ~36 000] floats)


def routed_times(zones: str = "grid1km", **kwargs) -> TimeSource:
    """A time source that routes the pairs on the stored road graph (:func:`pendling.routing.pair_times`,
    ``on_invalid='null'``; road results cached per graph): the times ``pendling compute --zones`` uses.
    The graph is loaded once, on the first call; ``kwargs`` go to ``pair_times`` (e.g. ``engine``)."""
    state: dict = {}

    def times(pairs: pl.DataFrame) -> pl.DataFrame:
        from pendling import paths
        from pendling.routing import load_graph
        from pendling.routing.pairs import pair_times

        if "graph" not in state:
            state["graph"] = kwargs.pop("graph", None) or load_graph(paths.roads_dir())
        return pair_times(pairs, zones, graph=state["graph"], on_invalid="null", **kwargs)

    return times


class PairTimes:
    """Cell-pair minutes from a :class:`TimeSource`. Each call asks the source only for its distinct
    pairs; up to ``cache_pairs`` pairs are kept across calls (a sorted array of pair codes
    ``origin * n_cells + destination``) so that later keys and years do not ask again."""

    def __init__(self, zone: pl.Series, times: TimeSource, cache_pairs: int = 50_000_000) -> None:
        self.zone = zone.cast(pl.Utf8)
        self.n = zone.len()
        self.times = times
        self.cache_pairs = cache_pairs
        self.codes = np.empty(0, np.int64)
        self.minutes = np.empty(0, np.float64)
        self.asked = 0  # pairs passed to the time source (a pair asked twice after the cache filled counts twice)

    def __call__(self, origin: np.ndarray, destination: np.ndarray) -> np.ndarray:
        """Minutes (NaN: no time) for cell positions ``origin``, ``destination`` (equal-length int arrays)."""
        code = origin.astype(np.int64) * self.n + destination.astype(np.int64)
        uniq, inverse = np.unique(code, return_inverse=True)
        pos = np.searchsorted(self.codes, uniq)
        known = np.zeros(uniq.size, bool)
        if self.codes.size:
            known = self.codes[np.minimum(pos, self.codes.size - 1)] == uniq
        out = np.empty(uniq.size)
        out[known] = self.minutes[pos[known]]
        new = uniq[~known]
        if new.size:
            pairs = pl.DataFrame({"origin": self.zone.gather(new // self.n), "destination": self.zone.gather(new % self.n)})
            got = self.times(pairs)
            if got.height != pairs.height or "minutes" not in got.columns:
                from pendling.errors import InputError

                raise InputError("the cell time source must return one row with 'minutes' per pair asked",
                                 values=[pairs.height, got.height], hint="return pairs.with_columns(minutes=...)")
            mins = got["minutes"].cast(pl.Float64).fill_null(np.nan).to_numpy()
            self.asked += int(new.size)
            out[~known] = mins
            if self.codes.size + new.size <= self.cache_pairs:  # a linear merge of two sorted arrays
                at = pos[~known]
                self.codes = np.insert(self.codes, at, new)
                self.minutes = np.insert(self.minutes, at, mins)
        return out[inverse]


@dataclass(frozen=True)
class Support:
    """The (possibly truncated) distributions over cells of a set of rows, as long arrays sorted by row:
    row ``r`` holds cells ``cell[start[r]:start[r+1]]`` with probabilities ``prob[...]``; ``tail[r]``:
    mass moved onto municipalities' most likely cells."""

    start: np.ndarray
    cell: np.ndarray
    prob: np.ndarray
    tail: np.ndarray


def support(R: np.ndarray, within: np.ndarray, cell_muni: np.ndarray, min_prob: float = 0.0) -> Support:
    """Rows of P[d, c] = R[d, muni(c)] · within[c].

    ``R`` [k, n_muni]: municipality probabilities per row; ``within`` [n_cells]: cell shares inside
    their municipality (sum 1 per municipality that has any); ``cell_muni`` [n_cells]: municipality
    index per cell, non-decreasing (cells sorted by municipality). Cells with P < ``min_prob`` are
    dropped and their mass added to the most likely cell of their municipality (module docstring).
    """
    n_muni = R.shape[1]
    starts = np.searchsorted(cell_muni, np.arange(n_muni))
    has = np.bincount(cell_muni, weights=within, minlength=n_muni) > 0
    # most likely cell of each municipality (first of equals): the fold target
    order = np.lexsort((-within, cell_muni))
    first = np.r_[True, cell_muni[order][1:] != cell_muni[order][:-1]]
    top = np.full(n_muni, -1, np.int64)
    top[cell_muni[order][first]] = order[first]
    is_top = np.zeros(within.size, bool)
    is_top[top[top >= 0]] = True
    cells, probs, counts, tails = [], [], [], []
    for lo in range(0, R.shape[0], DIST_CHUNK):
        r = R[lo:lo + DIST_CHUNK] * has  # a municipality without cells cannot be reached
        P = r[:, cell_muni] * within
        keep = (P > 0) & ((P >= min_prob) | is_top)
        dropped = np.where(keep, 0.0, P)
        tails.append(dropped.sum(axis=1))
        if dropped.any():
            per_muni = np.add.reduceat(dropped, starts, axis=1) if starts.size else dropped[:, :0]
            ok = top >= 0
            P = np.where(keep, P, 0.0)
            P[:, top[ok]] += per_muni[:, ok]
        rows, cols = np.nonzero(keep)
        cells.append(cols)
        probs.append(P[rows, cols])
        counts.append(np.bincount(rows, minlength=r.shape[0]))
    count = np.concatenate(counts) if counts else np.empty(0, np.int64)
    return Support(
        start=np.concatenate([[0], np.cumsum(count)]).astype(np.int64),
        cell=np.concatenate(cells).astype(np.int64) if cells else np.empty(0, np.int64),
        prob=np.concatenate(probs) if probs else np.empty(0),
        tail=np.concatenate(tails) if tails else np.empty(0),
    )


def expected_times(sup: Support, key_row: np.ndarray, key_fixed: np.ndarray, fixed_is_origin: bool,
                   times: PairTimes, progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(E[T], E[T²]) in minutes per key: T(cell, fixed) (or T(fixed, cell) when ``fixed_is_origin``)
    under row ``key_row``'s distribution of ``sup``. Each distinct (row, fixed) is summed once, in
    chunks of about :data:`CHUNK_ROWS` expanded rows; pairs without a time are left out and the
    rest renormalised (NaN when no pair of the key has a time)."""
    k = key_row.size
    m1, m2 = np.full(k, np.nan), np.full(k, np.nan)
    if k == 0:
        return m1, m2
    # keys ordered by fixed cell, so one chunk holds every row of its fixed cells: their shared
    # (cell, fixed) pairs are timed once
    n_rows = sup.start.size - 1
    code = key_fixed.astype(np.int64) * n_rows + key_row.astype(np.int64)
    uniq, inverse = np.unique(code, return_inverse=True)
    rows, fixed = uniq % n_rows, uniq // n_rows
    size = sup.start[rows + 1] - sup.start[rows]
    ends = np.cumsum(size)
    total = int(ends[-1])
    s1, s2 = np.full(uniq.size, np.nan), np.full(uniq.size, np.nan)
    lo, done = 0, 0
    while lo < uniq.size:
        hi = max(lo + 1, int(np.searchsorted(ends, done + CHUNK_ROWS, side="right")))
        hi = min(hi, uniq.size)
        per = size[lo:hi]
        local = np.repeat(np.arange(hi - lo), per)
        offset = np.arange(local.size) - np.repeat(np.cumsum(per) - per, per)
        at = np.repeat(sup.start[rows[lo:hi]], per) + offset
        cell, p = sup.cell[at], sup.prob[at]
        fx = np.repeat(fixed[lo:hi], per)
        t = times(fx, cell) if fixed_is_origin else times(cell, fx)
        ok = ~np.isnan(t)
        p = np.where(ok, p, 0.0)
        t = np.where(ok, t, 0.0)
        mass = np.bincount(local, weights=p, minlength=hi - lo)
        with np.errstate(invalid="ignore", divide="ignore"):
            s1[lo:hi] = np.bincount(local, weights=p * t, minlength=hi - lo) / mass
            s2[lo:hi] = np.bincount(local, weights=p * t * t, minlength=hi - lo) / mass
        done = int(ends[hi - 1])
        lo = hi
        if progress is not None:
            progress(done, total)
    return s1[inverse], s2[inverse]


def relative_moments(m1: np.ndarray, m2: np.ndarray, t0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(E[r], Var[r]) of r = T/t0 - 1 from E[T], E[T²] (minutes)."""
    e = m1 / t0 - 1
    e2 = m2 / t0**2 - 2 * m1 / t0 + 1
    return e, np.maximum(e2 - e**2, 0.0)


@dataclass
class GridTruth:
    """What the cell-level truth of a run needs: the cells (rows of :func:`pendling.synth.cells.cell_weights`,
    sorted by municipality), their municipality index in the gravity model's code order, the home
    shares, the placement seed, the timed pairs and the support threshold."""

    zones: str
    seed: int
    cell_muni: np.ndarray
    p_home: np.ndarray
    times: PairTimes
    min_prob: float = 0.0
    progress: Progress | None = None
    seconds: float = 0.0  # wall-clock spent on the cell-level truth (timed apart from the simulation)

    @classmethod
    def build(cls, codes: np.ndarray, times: TimeSource, zones: str = "grid1km", seed: int = 0,
              min_prob: float = 0.0, progress: Progress | None = None) -> GridTruth:
        from pendling.errors import InputError
        from pendling.synth.cells import cell_weights

        if min_prob < 0 or min_prob >= 1:
            raise InputError("the support threshold of the cell-level truth must lie in [0, 1)", values=[min_prob],
                             hint="0 is exact; e.g. 1e-5 for national runs with routed times")
        cw = cell_weights(zones)
        muni_code = cw["municipality"].to_numpy().astype(np.int64)
        cell_muni = np.searchsorted(codes.astype(np.int64), muni_code)
        if (cell_muni >= codes.size).any() or (codes[np.minimum(cell_muni, codes.size - 1)] != muni_code).any():
            raise InputError("cells of municipalities the travel-time matrix does not have",
                             values=sorted(set(muni_code.tolist()) - set(codes.astype(int).tolist()))[:10])
        w = cw["w_home"].to_numpy().astype(np.float64)
        total = np.bincount(cell_muni, weights=w, minlength=codes.size)
        p_home = np.divide(w, total[cell_muni], out=np.zeros_like(w), where=total[cell_muni] > 0)
        return cls(zones=zones, seed=seed, cell_muni=cell_muni, p_home=p_home,
                   times=PairTimes(cw["zone"], times), min_prob=min_prob, progress=progress)


def grid_truth_sums(world, year: int, prev: dict[str, np.ndarray], cur: dict[str, np.ndarray],
                    group_prev: np.ndarray, kern, prev_dirt: dict[str, np.ndarray],
                    cur_dirt: dict[str, np.ndarray], wp, grid: GridTruth) -> pl.DataFrame:
    """Per cell (flow × job group at t-1 × home region at t-1): n, Σ E[r], Σ Var[r] and Σ tail mass at
    cell level, over the persons the engine classifies (the rules of :func:`pendling.synth.model.truth_sums`)."""
    from pendling.synth.cells import place_positions
    from pendling.synth.model import cell_sums, truth_rows

    codes = world.gravity.codes
    n = world.n_muni
    a = world.local_move_share
    tr = truth_rows(world, prev, cur, group_prev, prev_dirt, cur_dirt)
    label, h0, w0, region = tr.label, tr.h0, tr.w0, tr.region

    def cells(keys: np.ndarray, muni: np.ndarray, weight: str) -> np.ndarray:
        return place_positions(pl.Series(keys.astype(np.int64)), pl.Series(codes[muni]), weight, grid.zones, grid.seed)

    # every workplace's cell this year, and each cell's share of its municipality's workplace size
    wcell = cells(wp.lbnr, wp.muni.astype(np.int64), "w_work")
    wp_total = np.bincount(wp.muni, weights=wp.weight, minlength=n)
    share = wp.weight / wp_total[wp.muni]
    within_work = np.bincount(wcell, weights=share, minlength=grid.cell_muni.size)
    times = grid.times

    parts = []
    mover = np.flatnonzero(tr.mover)
    hc = cells(prev["addr"][mover], h0[mover], "w_home")
    wc = wcell[prev["job"][mover]]  # same LBNR, same municipality: the same cell as at t-1
    t0 = times(hc, wc)
    far_rows = (group_prev[mover] * 2 + region[mover]) * n + w0[mover]
    used, key = np.unique(far_rows, return_inverse=True)
    far = support(kern.home[used], grid.p_home, grid.cell_muni, grid.min_prob)
    f1, f2 = expected_times(far, key, wc, False, times, grid.progress)
    used_h, key_h = np.unique(h0[mover], return_inverse=True)
    near = support(np.eye(n)[used_h], grid.p_home, grid.cell_muni, grid.min_prob)
    l1, l2 = expected_times(near, key_h, wc, False, times, grid.progress)
    e, v = relative_moments(a * l1 + (1 - a) * f1, a * l2 + (1 - a) * f2, t0)
    tail = a * near.tail[key_h] + (1 - a) * far.tail[key]
    ok = np.isfinite(e) & (t0 > 0)
    parts.append(("movers", label[mover][ok], region[mover][ok], e[ok], v[ok], tail[ok]))

    changer = np.flatnonzero(tr.changer)
    hc = cells(prev["addr"][changer], h0[changer], "w_home")
    old = prev["job"][changer]
    lbnr_old = wp.lbnr[old]
    t0 = times(hc, cells(lbnr_old, w0[changer], "w_work"))
    rows = group_prev[changer] * n + h0[changer]
    used, key = np.unique(rows, return_inverse=True)
    sup = support(kern.job[used], within_work, grid.cell_muni, grid.min_prob)
    m1, m2 = expected_times(sup, key, hc, True, times, grid.progress)
    # the old job is never drawn again: its size share goes to the next workplace of its municipality
    pos = np.empty_like(wp.order)
    pos[wp.order] = np.arange(wp.order.size)
    wx = wp.muni[old].astype(np.int64)
    nxt = pos[old] + 1
    nxt = np.where(nxt >= wp.start[wx] + wp.count[wx], wp.start[wx], nxt)
    t_old, t_next = times(hc, wcell[old]), times(hc, wcell[wp.order[nxt]])
    q = kern.job[rows, wx] * share[old]
    m1 = m1 + np.nan_to_num(q * (t_next - t_old))
    m2 = m2 + np.nan_to_num(q * (t_next**2 - t_old**2))
    e, v = relative_moments(m1, m2, t0)
    ok = np.isfinite(e) & (t0 > 0)
    parts.append(("job_changers", label[changer][ok], region[changer][ok], e[ok], v[ok], sup.tail[key][ok]))
    return cell_sums(year, parts, tail=True)

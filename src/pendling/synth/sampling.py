"""Vectorised sampling helpers: many categorical draws from a stack of distributions at once."""

from __future__ import annotations

import numpy as np

# Stream purposes: each year and purpose has its own generator, so the draws of year t never depend
# on how many numbers an earlier year (or another purpose) consumed.
INIT, WORKPLACES, EXIT, RELOCATE, JOB, MOVE, ENTRY, DIRT = range(8)


def stream(seed: int, year: int, purpose: int) -> np.random.Generator:
    """The PCG64 generator for (seed, year, purpose)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=(year, purpose))))


def cumulative(prob: np.ndarray) -> np.ndarray:
    """Row-wise cumulative probabilities with each row's tail pinned to exactly 1.0.

    ``prob`` [k, m] rows sum to 1 (rows of zeros stay zeros). Pinning keeps :func:`draw_rows` from
    spilling into the next row through rounding.
    """
    cum = np.cumsum(prob, axis=-1)
    total = cum[..., -1:]
    return np.where((total > 0) & (cum >= total * (1 - 1e-12)), 1.0, cum)


def row_offsets(cum: np.ndarray) -> np.ndarray:
    """Flatten ``cum`` [k, m] into one increasing array: row i's values shifted by i."""
    k = cum.shape[0]
    return (cum + np.arange(k, dtype=np.float64)[:, None]).ravel()


def draw_rows(flat: np.ndarray, m: int, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Column index drawn from row ``rows[i]`` of the distributions flattened by :func:`row_offsets`.

    ``flat``: output of :func:`row_offsets` for a [k, m] cumulative array; ``u``: uniforms in [0, 1).
    One binary search per draw, no Python loop over draws.
    """
    rows = rows.astype(np.int64)
    top = rows.astype(np.float64) + 1.0
    # row + u can round up to row + 1 when u is within an ulp of 1; keep it strictly inside the row
    value = np.minimum(rows + u, np.nextafter(top, rows.astype(np.float64)))
    pos = np.searchsorted(flat, value, side="right")
    return np.clip(pos - rows * m, 0, m - 1)


def scramble(k: np.ndarray, multiplier: int, modulus: int, offset: int) -> np.ndarray:
    """A bijection of counters 0..modulus-1 onto offset..offset+modulus-1 that looks random (ids)."""
    return (k.astype(np.int64) * multiplier) % modulus + offset

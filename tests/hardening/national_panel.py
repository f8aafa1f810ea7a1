"""A random canonical person-year panel over the 98 municipalities, at any size.

The one builder shared by the tests (``tests/hardening``: determinism, resource limits) and the
national-scale timing script ``benchmarks/mobility_scale.py``, which imports it from here. It needs
NumPy and Polars only (no test framework), so a benchmark can import it without pytest or hypothesis.
"""

from __future__ import annotations

import numpy as np
import polars as pl

# Six-digit DISCO-08 codes as text (leading zeros kept), covering all four job groups.
DISCO = ("251110", "252100", "214200", "241100", "411010", "431100", "334300", "121100", "711200",
         "832200", "911200", "522300", "532100", "234100", "222100", "999999", "0110")
CANONICAL = {"pnr": pl.Int64, "year": pl.Int16, "home_muni": pl.Int16, "home_addr": pl.Int64,
             "work_id": pl.Int64, "work_muni": pl.Int16, "disco": pl.Utf8}


def national_like_panel(persons: int, years: tuple[int, ...] = (2019, 2020, 2021), seed: int = 7) -> pl.DataFrame:
    """A canonical panel (sorted by pnr, year) of ``persons`` people over ``years`` (NumPy, fixed seed).

    Homes and workplaces over the shipped 98 municipalities (60 % work in their home municipality).
    Per year: about 10 % address moves, 38 % of them to another municipality (DST: 62 % of moves stay
    inside the municipality); 12 % LBNR changes; 1 % of workplaces relocate (same LBNR, new
    municipality); 3 % LBNR 0 (fictive workplace); 4 % of person-years missing. Columns and dtypes
    are the canonical panel's (:data:`CANONICAL`).
    """
    from pendling.geo import municipalities

    rng = np.random.default_rng(seed)
    codes = municipalities()["code"].to_numpy().astype(np.int16)
    pnr = np.arange(1, persons + 1, dtype=np.int64)
    home = rng.choice(codes, persons)
    addr = rng.integers(1, 2**40, persons)
    work_id = rng.integers(1, 400_000, persons)
    work = np.where(rng.random(persons) < 0.6, home, rng.choice(codes, persons)).astype(np.int16)
    disco = rng.integers(0, len(DISCO), persons)
    parts = []
    for year in years:
        move = rng.random(persons) < 0.10
        addr = np.where(move, rng.integers(1, 2**40, persons), addr)
        across = move & (rng.random(persons) < 0.38)
        home = np.where(across, rng.choice(codes, persons), home).astype(np.int16)
        change = rng.random(persons) < 0.12
        work_id = np.where(change, rng.integers(1, 400_000, persons), work_id)
        work = np.where(change | (rng.random(persons) < 0.01), rng.choice(codes, persons), work).astype(np.int16)
        lbnr = np.where(rng.random(persons) < 0.03, 0, work_id)
        keep = rng.random(persons) >= 0.04
        parts.append(pl.DataFrame({
            "pnr": pnr[keep], "year": np.full(keep.sum(), year, np.int16), "home_muni": home[keep],
            "home_addr": addr[keep], "work_id": lbnr[keep], "work_muni": work[keep],
            "disco": np.array(DISCO, dtype=object)[disco[keep]],
        }, schema=CANONICAL))
    return pl.concat(parts).sort("pnr", "year")

"""DST's published mean commuting distance (AFSTB4), the real-world anchor for matrix km.

The shipped file ``data/reference/afstb4_national_km.csv`` is derived by ``scripts/derive_afstb4.py``
(source notes in ``afstb4_national_km.md`` beside it): ``year`` Int16, ``km`` Float64 (mean one-way
road distance home → work, employed persons, end of November), ``kind`` ('dst_national' = DST's own
"Hele landet" value; 'employment_weighted_estimate' = municipal AFSTB4 values weighted by 2022
employment by residence, for years without a national figure in the sources).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pendling import paths
from pendling.errors import DataMissingError

FILE_NAME = "afstb4_national_km.csv"
SCHEMA = {"year": pl.Int16, "km": pl.Float64, "kind": pl.String}


def load_afstb4_national(path: str | Path | None = None) -> pl.DataFrame:
    """The national AFSTB4 series (km per year), sorted by year; ``None`` → the shipped file."""
    p = Path(path) if path is not None else paths.reference_dir() / FILE_NAME
    if not p.is_file():
        raise DataMissingError(
            f"{p} is missing. Rebuild it with `python scripts/derive_afstb4.py` "
            "(needs the DST source files; see data/reference/afstb4_national_km.md)."
        )
    return pl.read_csv(p, schema=SCHEMA).sort("year")

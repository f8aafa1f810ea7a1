"""Write one extract per year in DST's own variable names: Parquet, CSV, Stata (.dta) or SAS transport (.xpt).

Files are named ``ras<year>.<ext>`` so :func:`pendling.panel.load_panel` reads a directory of them
unchanged (the year comes from the file name). Every file is written atomically. Reruns with the
same seed give identical bytes: Parquet and CSV via :mod:`pendling.io`; for .dta and .xpt, readstat
stamps the wall-clock time into the file header, so that stamp is pinned to a fixed date.

``sas7bdat`` cannot be written: pyreadstat (readstat) only reads it. Use ``xpt`` (SAS transport,
version 8 — long variable names), which SAS reads with ``libname x xport "ras2015.xpt";``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pendling.errors import InputError
from pendling.io import atomic_path, write_csv, write_parquet
from pendling.statfiles import pin_dta_timestamp, pin_xpt_timestamps

FORMATS: dict[str, str] = {"parquet": "parquet", "csv": "csv", "dta": "dta", "xpt": "xpt"}


def check_format(fmt: str) -> str:
    """Normalise an output format name; InputError with the alternatives for anything unsupported."""
    key = fmt.lower().lstrip(".")
    if key in ("sas7bdat", "sas"):
        raise InputError(
            "sas7bdat output is not available: pyreadstat can read SAS7BDAT files but not write them",
            values=[fmt],
            hint="use --format xpt (SAS transport; in SAS: libname x xport 'ras2015.xpt';), "
            "or parquet, csv or dta",
        )
    if key == "stata":
        key = "dta"
    if key not in FORMATS:
        raise InputError("unknown output format", values=[fmt], hint=f"use one of: {', '.join(FORMATS)}")
    return key


def extract_path(directory: str | Path, year: int, fmt: str) -> Path:
    return Path(directory) / f"ras{year}.{FORMATS[check_format(fmt)]}"


def write_extract(frame: pl.DataFrame, directory: str | Path, year: int, fmt: str) -> Path:
    """Write one year's extract as ``ras<year>.<ext>`` in ``directory``; returns the path."""
    fmt = check_format(fmt)
    path = extract_path(directory, year, fmt)
    if fmt == "parquet":
        return write_parquet(frame, path)
    if fmt == "csv":
        return write_csv(frame, path)
    import pyreadstat

    # Stata and SAS store numbers as doubles; ids stay exact (< 2**53). Missing DISCO becomes ''.
    pdf = frame.with_columns(pl.col(pl.String).fill_null(""))  # pyreadstat ≥ 1.3 writes Polars frames
    with atomic_path(path, f".{fmt}") as tmp:
        if fmt == "dta":
            pyreadstat.write_dta(pdf, tmp, file_label=f"pendling synthetic RAS extract {year}")
            pin_dta_timestamp(tmp)
        else:
            pyreadstat.write_xport(pdf, tmp, table_name=f"RAS{year}", file_format_version=8,
                                   file_label=f"pendling synthetic RAS extract {year}")
            pin_xpt_timestamps(tmp)
    return path

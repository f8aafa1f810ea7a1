"""Write a mobility run to disk: results, attrition beside them, and the method notes.

``results.parquet`` → ``results.parquet``, ``results.attrition.parquet``, ``results.method.csv``;
``.csv`` likewise; ``.xlsx`` → one workbook with sheets 'results', 'attrition' and 'method' (via
:func:`pendling.report.excel.write_results_xlsx`, which re-checks disclosure before writing).
All writes are atomic (:mod:`pendling.io`) and byte-identical on rerun.
"""

from __future__ import annotations

from pathlib import Path

from pendling import io
from pendling.errors import InputError
from pendling.mobility.api import MobilityResult
from pendling.mobility.disclosure import DEFAULT_MIN_N

SUFFIXES = (".parquet", ".csv", ".xlsx")


def beside(path: Path, part: str, suffix: str | None = None) -> Path:
    """``results_2021.parquet`` + 'attrition' → ``results_2021.attrition.parquet``."""
    return path.with_name(f"{path.stem}.{part}{suffix or path.suffix}")


def write_results(result: MobilityResult, out: str | Path, *, source: str | None = None) -> list[Path]:
    """Write results + attrition + method notes by the suffix of ``out``; returns the paths written.

    ``source`` (e.g. the panel path) is recorded on the Excel method sheet.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"unsupported output format {suffix or '(none)'!r}", file=out,
                         hint="end the file name in .parquet, .csv or .xlsx")
    if suffix == ".xlsx":
        from pendling.report.excel import write_results_xlsx

        return [write_results_xlsx(
            result.results, result.attrition, out, notes=result.method,
            min_n=result.min_n or DEFAULT_MIN_N, allow_unsuppressed=result.min_n is None, source=source,
        )]
    writer = io.write_parquet if suffix == ".parquet" else io.write_csv
    return [
        writer(result.results, out),
        writer(result.attrition, beside(out, "attrition")),
        io.write_csv(result.method, beside(out, "method", ".csv")),
    ]

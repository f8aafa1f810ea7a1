"""Write a mobility run to disk: results, attrition beside them, and the method notes.

``results.parquet`` → ``results.parquet``, ``results.attrition.parquet``, ``results.method.csv``;
``.csv``, ``.dta`` (Stata) and ``.xpt`` (SAS transport) likewise (through
:func:`pendling.io.write_table`; Stata/SAS variable labels from the method notes); ``.xlsx`` → one workbook with sheets
'results', 'attrition' and 'method' (via :func:`pendling.report.excel.write_results_xlsx`, which
re-checks disclosure before writing). All writes are atomic and byte-identical on rerun.
"""

from __future__ import annotations

from pathlib import Path

from pendling import io
from pendling.mobility.api import MobilityResult
from pendling.mobility.disclosure import DEFAULT_MIN_N

SUFFIXES = io.TABLE_SUFFIXES


def beside(path: Path, part: str, suffix: str | None = None) -> Path:
    """``results_2021.parquet`` + 'attrition' → ``results_2021.attrition.parquet``."""
    return path.with_name(f"{path.stem}.{part}{suffix or path.suffix}")


def write_results(result: MobilityResult, out: str | Path, *, source: str | None = None) -> list[Path]:
    """Write results + attrition + method notes by the suffix of ``out``; returns the paths written.

    ``source`` (e.g. the panel path) is recorded on the Excel method sheet.
    """
    out = Path(out)
    if io.table_suffix(out) == ".xlsx":
        # One workbook rather than three files: the client gets the numbers with their method notes.
        from pendling.report.excel import write_results_xlsx

        return [write_results_xlsx(
            result.results, result.attrition, out, notes=result.method,
            min_n=result.min_n or DEFAULT_MIN_N, allow_unsuppressed=result.min_n is None, source=source,
        )]
    # .dta/.xpt carry variable labels: the run's method notes where they name a column
    from pendling.statfiles import labels_from_notes

    labels = labels_from_notes(result.method)
    return [
        io.write_table(result.results, out, labels=labels),
        io.write_table(result.attrition, beside(out, "attrition"), labels=labels),
        io.write_csv(result.method, beside(out, "method", ".csv")),
    ]

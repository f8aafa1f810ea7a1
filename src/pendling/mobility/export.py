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
from pendling.mobility.disclosure import DEFAULT_MIN_N, disclose_table

SUFFIXES = io.TABLE_SUFFIXES


def beside(path: Path, part: str, suffix: str | None = None) -> Path:
    """``results_2021.parquet`` + 'attrition' → ``results_2021.attrition.parquet``."""
    return path.with_name(f"{path.stem}.{part}{suffix or path.suffix}")


def write_results(result: MobilityResult, out: str | Path, *, source: str | None = None) -> list[Path]:
    """Write results + attrition + method notes by the suffix of ``out``; returns the paths written.

    ``source`` (e.g. the panel path) is recorded on the Excel method sheet.
    """
    out = Path(out)
    # the gate every count table passes before a file (idempotent on what run() controlled already);
    # without control, a column in the file itself says so (the workbook: its title and method sheet)
    controlled = result.min_n is not None
    min_n = result.min_n or DEFAULT_MIN_N
    if io.table_suffix(out) == ".xlsx":
        # One workbook rather than three files: the client gets the numbers with their method notes.
        from pendling.report.excel import write_results_xlsx

        results, attrition = (disclose_table(t, min_n) if controlled else t
                              for t in (result.results, result.attrition))
        return [write_results_xlsx(
            results, attrition, out, notes=result.method,
            min_n=min_n, allow_unsuppressed=not controlled, source=source,
        )]
    # .dta/.xpt carry variable labels: the run's method notes where they name a column
    from pendling.statfiles import labels_from_notes

    labels = labels_from_notes(result.method)
    return [
        io.write_table(disclose_table(result.results, min_n, disclosure=controlled), out, labels=labels),
        io.write_table(disclose_table(result.attrition, min_n, disclosure=controlled), beside(out, "attrition"),
                       labels=labels),
        io.write_csv(result.method, beside(out, "method", ".csv")),
    ]

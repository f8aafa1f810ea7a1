"""Excel export of a results table: what a researcher sends to a client.

One workbook, three sheets: ``results`` (the cells), ``attrition`` (where the person-years went) and
``method`` (disclosure status, definitions, notes). Written atomically; byte-identical on rerun
(fixed document dates; xlsxwriter stores zip entries with a fixed timestamp). A table that fails the
disclosure check is refused unless ``allow_unsuppressed=True``, and then the method sheet says, in red,
that the output is UNSUPPRESSED.

:func:`write_table_xlsx` writes any one frame as a single sheet with the same formatting; it is the
.xlsx writer behind :func:`pendling.io.write_table`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from pendling.errors import InputError
from pendling.io import atomic_path

# Fixed so reruns are byte-identical; the run date belongs in the notes if it matters.
DOC_DATE = dt.datetime(2000, 1, 1)
KEYS = ("year", "flow", "job_group", "region")
Notes = str | Sequence[str] | Mapping[str, str] | pl.DataFrame | None
# Excel's sheet limits (the header takes one row); xlsxwriter silently skips cells beyond them.
MAX_ROWS = 1_048_576 - 1
MAX_COLUMNS = 16_384

PERCENT_COLUMNS = {
    "mean_rel_change", "ci_low", "ci_high", "ratio_of_means", "ratio_ci_low", "ratio_ci_high",
    "median_rel_change", "geo_mean_rel_change", "share_longer", "share_shorter", "sd_rel_change",
}
COLUMN_NOTES: dict[str, str] = {
    "year": "November reference year t (the change is from t-1 to t)",
    "flow": "movers = moved home, kept workplace; job_changers = changed workplace, kept home",
    "job_group": "DISCO-08 job group (digital, office, physical_social, unclassified) or all (the three "
                 "classified groups; unclassified is outside it)",
    "region": "home at t-1: hovedstaden = Region Hovedstaden, rest = the other four, all; the five regions and "
              "kommunegrupper when computed with --by (see the method note 'region')",
    "n": "persons (person-year transitions) in the cell; empty where suppressed",
    "mean_rel_change": "mean of the individual relative changes T_t / T_t-1 - 1 in car commute time (a fraction "
                       "shown as percent: the cell holds 0.11 for 11 %)",
    "ratio_of_means": "change in the cell's mean commute time: sum T_t / sum T_t-1 - 1 (fraction, shown as percent)",
    "ci_low": "95 % confidence interval of mean_rel_change, lower end (fraction, shown as percent)",
    "ci_high": "95 % confidence interval of mean_rel_change, upper end (fraction, shown as percent)",
    "suppressed": "TRUE where disclosure control blanked the cell",
    "suppression": "primary (n below the minimum) or complementary (would be recoverable by subtraction)",
    "disclosure": "present only in unsuppressed output (--no-disclosure): not for export",
    "mean_minutes_before": "mean one-way car commute time at t-1 (minutes)",
    "mean_minutes_after": "mean one-way car commute time at t (minutes)",
    "stage": "attrition stage: panel (reading the extracts) or flows (classifying transitions)",
    "bucket": "what happened to these person-years",
    "description": "plain-language meaning of the bucket",
}


def disclosure_problems(
    results: pl.DataFrame, attrition: pl.DataFrame | None = None, *, min_n: int = 5
) -> list[str]:
    """Why the tables may not leave the server (empty list = they pass).

    The tables are run through :func:`pendling.mobility.disclosure.apply_disclosure` (results) and
    :func:`~pendling.mobility.disclosure.apply_count_disclosure` (attrition, already-blank counts
    counted as suppressed); every value those rules would blank but the table publishes is a problem.
    """
    from pendling.mobility.disclosure import apply_count_disclosure, apply_disclosure

    problems: list[str] = []
    missing = [c for c in (*KEYS, "n") if c not in results.columns]
    if missing:
        raise InputError(
            "the results table lacks the cell keys", column=", ".join(missing), values=results.columns,
            hint="export the table `pendling compute` writes",
        )
    safe = apply_disclosure(results.with_columns(_flag(results)), min_n)
    leaked = safe["suppressed"] & ~_flag(results)
    if leaked.any():
        first = results.filter(leaked).row(0, named=True)
        problems.append(
            f"{int(leaked.sum())} result cells must be suppressed but are published, e.g. "
            f"{first['year']} {first['flow']} {first['job_group']} {first['region']} n={first['n']}"
        )
    for col in (c for c in results.columns if c not in (*KEYS, "suppressed", "suppression")):
        # Suppressed cells that still carry numbers, medians below their own minimum n, and the like.
        shown = (results[col].is_not_null() & safe[col].is_null() & ~leaked).sum()
        if shown:
            problems.append(f"column {col}: {shown} values published that the disclosure rules blank")
    if attrition is not None and attrition.height:
        checked = apply_count_disclosure(attrition, min_n, force=pl.col("n").is_null())
        small = checked["n"].is_null() & attrition["n"].is_not_null()
        if small.any():
            problems.append(f"attrition: {int(small.sum())} counts below {min_n} (or recoverable from them) are published")
    return problems


def write_results_xlsx(
    results: pl.DataFrame,
    attrition: pl.DataFrame | None,
    path: str | Path,
    *,
    notes: Notes = None,
    min_n: int = 5,
    allow_unsuppressed: bool = False,
    source: str | None = None,
) -> Path:
    """Write results (+ attrition and method notes) to ``path`` (.xlsx), atomically and deterministically.

    Relative changes are formatted as percent, times in minutes with one decimal, counts with
    thousands separators; header frozen, autofilter on, columns sized to their content. ``notes`` (a
    text, lines, label → text, or a two-column frame such as ``MobilityResult.method``) go to the method sheet with ``source`` (e.g. the panel path).
    Raises InputError if :func:`disclosure_problems` finds any, unless ``allow_unsuppressed``.
    """
    from pendling import __version__
    from pendling.mobility.disclosure import disclosure_note

    path = _xlsx_path(path)
    problems = disclosure_problems(results, attrition, min_n=min_n)
    if problems and not allow_unsuppressed:
        raise InputError(
            "the tables fail the disclosure check and may not be exported",
            file=path,
            values=problems,
            hint="export results computed with disclosure control (the default), or pass "
            "allow_unsuppressed=True for internal use only (the workbook is then marked UNSUPPRESSED)",
        )
    unsuppressed = bool(problems)
    attrition = attrition if attrition is not None else pl.DataFrame()
    _check_sheet(results, path)
    _check_sheet(attrition, path)
    with atomic_path(path, ".xlsx") as tmp, _workbook(
        tmp,
        title="pendling results" + (" — UNSUPPRESSED" if unsuppressed else ""),
        subject="Relative change in commute time for movers and job changers",
    ) as wb:
        fmt = _formats(wb)
        _table_sheet(wb, "results", results, fmt, red_tab=unsuppressed)
        _table_sheet(wb, "attrition", attrition, fmt, red_tab=False)
        status = (
            f"UNSUPPRESSED OUTPUT — NOT FOR RELEASE. The disclosure check failed: {'; '.join(problems)}."
            if unsuppressed
            else f"Passed the disclosure check. {disclosure_note(min_n)}."
        )
        _method_sheet(wb, fmt, status, unsuppressed, results, notes, source, __version__)
    return path


def write_table_xlsx(df: pl.DataFrame, path: str | Path, *, sheet: str = "Sheet1") -> Path:
    """Write one frame to ``path`` (.xlsx) as a single sheet, atomically and deterministically.

    Same cell formatting as the ``results`` sheet of :func:`write_results_xlsx` (relative changes
    as percent, minutes and km with one decimal, counts with thousands separators, dates as
    yyyy-mm-dd); no disclosure check, so it is for tables that are not cell statistics (attrition,
    plotted data) or stay on the server. Raises InputError if the frame does not fit on a sheet
    (1,048,575 data rows, 16,384 columns) or holds nested (list/struct) columns.
    """
    path = _xlsx_path(path)
    _check_sheet(df, path)
    with atomic_path(path, ".xlsx") as tmp, _workbook(tmp, title="pendling table", subject="") as wb:
        _table_sheet(wb, sheet, df, _formats(wb), red_tab=False)
    return path


def _xlsx_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise InputError("an Excel export needs a file name ending in .xlsx", file=path)
    return path


def _check_sheet(df: pl.DataFrame, path: Path) -> None:
    # Checked before the workbook opens: xlsxwriter would skip cells beyond the limits without a word.
    if df.height > MAX_ROWS or df.width > MAX_COLUMNS:
        raise InputError(
            f"the table has {df.height:,} rows × {df.width:,} columns; an Excel sheet holds at most "
            f"{MAX_ROWS:,} rows × {MAX_COLUMNS:,} columns",
            file=path, hint="write .parquet or .csv instead",
        )
    nested = [c for c, t in df.schema.items() if t.is_nested()]
    if nested:
        raise InputError("list/struct columns cannot be written to Excel", file=path, column=", ".join(nested),
                         hint="flatten or drop them first, or write .parquet")


def _workbook(tmp: Path, *, title: str, subject: str) -> Any:
    """An xlsxwriter workbook at ``tmp`` with fixed document properties (byte-identical reruns).

    Use it as a context manager: it is closed (written) when the block ends, also on an error, so
    no unclosed workbook is left for the destructor to write after :func:`atomic_path` cleaned up.
    """
    import xlsxwriter

    from pendling import __version__

    # Text stays text: a DISCO code '0110' must not become the number 110, nor '=…' a formula.
    wb = xlsxwriter.Workbook(str(tmp), {"strings_to_numbers": False, "strings_to_formulas": False,
                                        "strings_to_urls": False})
    wb.set_properties({
        "title": title,
        "subject": subject,
        "author": "pendling",
        "comments": f"pendling {__version__}",
        "created": DOC_DATE,
    })
    return wb


def _flag(results: pl.DataFrame) -> pl.Series:
    if "suppressed" in results.columns:
        return results["suppressed"].cast(pl.Boolean).fill_null(False).alias("suppressed")
    return pl.repeat(False, results.height, eager=True).alias("suppressed")


def _formats(wb: Any) -> dict[str, Any]:
    return {
        "header": wb.add_format({"bold": True, "bottom": 1, "bg_color": "#E8EEF4", "text_wrap": True, "valign": "top"}),
        "percent": wb.add_format({"num_format": "0.0%"}),
        "minutes": wb.add_format({"num_format": "0.0"}),
        "float": wb.add_format({"num_format": "0.0000"}),
        "int": wb.add_format({"num_format": "#,##0"}),
        "year": wb.add_format({"num_format": "0"}),
        "text": wb.add_format({}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top"}),
        "key": wb.add_format({"bold": True, "valign": "top"}),
        "alarm": wb.add_format({"bold": True, "font_color": "#C00000", "text_wrap": True, "valign": "top"}),
        "title": wb.add_format({"bold": True, "font_size": 14}),
        "date": wb.add_format({"num_format": "yyyy-mm-dd"}),
        "datetime": wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
    }


def _column_format(name: str, dtype: pl.DataType, fmt: dict[str, Any]) -> Any:
    if name in PERCENT_COLUMNS or "rel_change" in name:
        return fmt["percent"]
    if name == "year" or name.endswith("_code"):
        return fmt["year"]
    if dtype == pl.Date:
        return fmt["date"]
    if dtype == pl.Datetime:
        return fmt["datetime"]
    if dtype.is_integer():
        return fmt["int"]
    if dtype.is_float():
        return fmt["minutes"] if ("minutes" in name or name.endswith("km")) else fmt["float"]
    return fmt["text"]


def _table_sheet(wb: Any, name: str, df: pl.DataFrame, fmt: dict[str, Any], *, red_tab: bool) -> None:
    ws = wb.add_worksheet(name)
    if red_tab:
        ws.set_tab_color("#C00000")
    ws.write_row(0, 0, df.columns, fmt["header"])
    for j, col in enumerate(df.columns):
        s = df[col]
        if isinstance(s.dtype, pl.Datetime) and s.dtype.time_zone:
            s = s.dt.replace_time_zone(None)  # Excel has no time zones: keep the wall-clock time
        cell = _column_format(col, s.dtype, fmt)
        # Why the conversion: xlsxwriter refuses NaN/inf, and blank is how a suppressed cell should look.
        values = [None if isinstance(v, float) and not math.isfinite(v) else v for v in s.to_list()]
        ws.write_column(1, j, values, cell)
        ws.set_column(j, j, _width(col, s))
    ws.freeze_panes(1, 0)
    if df.width:
        ws.autofilter(0, 0, max(df.height, 1), df.width - 1)


def _width(name: str, s: pl.Series) -> float:
    if s.dtype == pl.String:
        longest = s.str.len_chars().max()
        content = int(longest) if longest is not None else 0
    elif s.dtype.is_integer():
        content = len(f"{int(s.abs().max() or 0):,}") + 1
    else:
        content = 9
    return float(min(max(len(name), content) + 2, 60))


def _method_sheet(
    wb: Any,
    fmt: dict[str, Any],
    status: str,
    unsuppressed: bool,
    results: pl.DataFrame,
    notes: Notes,
    source: str | None,
    version: str,
) -> None:
    ws = wb.add_worksheet("method")
    ws.set_column(0, 0, 28)
    ws.set_column(1, 1, 110)
    ws.write(0, 0, "pendling — method notes", fmt["title"])
    flagged = int(_flag(results).sum())
    rows: list[tuple[str, str, str]] = [
        ("Disclosure", status, "alarm" if unsuppressed else "wrap"),
        ("Measure", "Relative change in one-way car commute time between November t-1 and t, from a "
         "municipality-to-municipality travel-time matrix built from OpenStreetMap (minutes).", "wrap"),
        ("Cells", f"{results.height} rows in 'results', {flagged} of them suppressed (blank).", "wrap"),
        ("Software", f"pendling {version}", "wrap"),
    ]
    if source:
        rows.append(("Source", source, "wrap"))
    for col in results.columns:
        if col in COLUMN_NOTES:
            rows.append((f"column: {col}", COLUMN_NOTES[col], "wrap"))
    rows += [(label, text, "wrap") for label, text in _notes(notes)]
    rows.append(("Map data", "© OpenStreetMap contributors, ODbL 1.0; DAGI boundaries, SDFI.", "wrap"))
    for i, (label, text, style) in enumerate(rows, start=2):
        ws.write_string(i, 0, label, fmt["key"])
        ws.write_string(i, 1, text, fmt[style])
    if unsuppressed:
        ws.set_tab_color("#C00000")
        ws.activate()


def _notes(notes: Notes) -> list[tuple[str, str]]:
    if notes is None:
        return []
    if isinstance(notes, pl.DataFrame):
        # e.g. MobilityResult.method: first column the label, second the text
        return [(str(k), "" if v is None else str(v)) for k, v in notes.select(notes.columns[:2]).iter_rows()]
    if isinstance(notes, str):
        return [("Note", notes)]
    if isinstance(notes, Mapping):
        return [(str(k), str(v)) for k, v in notes.items()]
    return [("Note", str(v)) for v in notes]

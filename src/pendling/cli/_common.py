"""Shared pieces of the command-line layer: one console, error printing, progress bars."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich import box
from rich.table import Table

from pendling.errors import PendlingError

if TYPE_CHECKING:  # polars is imported where used: `pendling --help` stays fast
    import polars as pl



def _width(stream: Any) -> int | None:
    # piped or captured output (batch jobs, logs) should not be cut at 80 columns, but a width the
    # user set (COLUMNS) is honoured: rich reads it when width is None
    return None if stream.isatty() or os.environ.get("COLUMNS") else 220


console = Console(width=_width(sys.stdout))
err_console = Console(stderr=True, width=_width(sys.stderr))

F = TypeVar("F", bound=Callable[..., Any])
# typer.Exit/Abort, and click's ClickException wherever this typer keeps click (vendored in typer ≥ 0.2x)
CLI_EXCEPTIONS: tuple[type[BaseException], ...] = (
    typer.Exit,
    typer.Abort,
    *(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"),
)


def friendly_errors(func: F) -> F:
    """Print PendlingError messages for people (no traceback) and exit with status 2; anything else is
    a bug, reported by :func:`pendling.cli._crash.crash` (log file, exit 3)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PendlingError as exc:
            # escape: messages quote user text such as '[columns]', which rich would take for markup
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        except CLI_EXCEPTIONS:  # exit codes and usage errors typer/click handle themselves
            raise
        except (Exception, KeyboardInterrupt) as exc:  # a bug: log file, short message, exit 3
            from pendling.cli._crash import crash

            crash(exc)

    return wrapper  # type: ignore[return-value]


def progress(transient: bool = False) -> Progress:
    """A rich progress bar that stays quiet when stdout is not a terminal-capable stream."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=transient,
        disable=not sys.stderr.isatty(),
    )


def print_frame(df: pl.DataFrame, title: str | None = None, max_rows: int = 200) -> None:
    """Render a Polars frame as a rich table (floats to 4 significant places, nulls as '–')."""
    table = Table(title=title, show_lines=False, header_style="bold")
    for name in df.columns:
        justify = "right" if df.schema[name].is_numeric() else "left"
        table.add_column(name, justify=justify)
    for row in df.head(max_rows).iter_rows():
        table.add_row(*(_fmt(v) for v in row))
    console.print(table)
    if df.height > max_rows:
        console.print(f"… {df.height - max_rows} more rows")


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def show_path(label: str, paths: list[Path]) -> None:
    """Print written files the same way in every command: '<label>:' then one absolute path a line."""
    console.print(f"{label}:")
    for p in paths:
        console.print(f"  {escape(str(Path(p).resolve()))}", highlight=False, soft_wrap=True)


# Display names of the result cells (the tables themselves keep the lower-case ASCII labels).
FLOW_NAMES = {"movers": "movers", "job_changers": "job changers"}
JOB_GROUP_NAMES = {"digital": "digital", "office": "office", "physical_social": "physical/social",
                   "unclassified": "unclassified", "all": "all"}
REGION_GROUPS: dict[str, dict[str, str]] = {
    "Hovedstaden and the rest": {"hovedstaden": "Hovedstaden", "rest": "rest", "all": "all"},
    "five regions": {"nordjylland": "Nordjylland", "midtjylland": "Midtjylland", "syddanmark": "Syddanmark",
                     "hovedstaden": "Hovedstaden", "sjaelland": "Sjælland"},
    "kommunegrupper": {"hovedstadskommuner": "Hovedstadskommuner", "storbykommuner": "Storbykommuner",
                       "provinsbykommuner": "Provinsbykommuner", "oplandskommuner": "Oplandskommuner",
                       "landkommuner": "Landkommuner"},
}


def _pct(col: str) -> pl.Expr:
    import polars as pl

    # one decimal always, and no '-0.0%' for a change that rounds to zero
    v = _no_negative_zero((pl.col(col) * 100).round(1))
    return pl.when(v.is_null()).then(pl.lit("–")).otherwise(pl.format("{}%", v.cast(pl.String)))


def _no_negative_zero(v: pl.Expr) -> pl.Expr:
    import polars as pl

    return pl.when(v == 0).then(pl.lit(0.0)).otherwise(v)


def _one_decimal(e: pl.Expr) -> pl.Expr:
    import polars as pl

    v = _no_negative_zero(e.round(1))
    return pl.when(v.is_null()).then(pl.lit("–")).otherwise(v.cast(pl.String))


def results_display(results: pl.DataFrame) -> pl.DataFrame:
    """The printed form of a results table: percent with one decimal, mean minutes before → after.

    The same numbers as the table (relative changes there are fractions: 0.811 = 81.1 %); min and
    max are never computed, so 'minutes' are always means. Suppressed cells read 'suppr.' under n.
    """
    import polars as pl

    region_names = {k: v for names in REGION_GROUPS.values() for k, v in names.items()}
    return results.select(
        pl.col("year").cast(pl.String),
        pl.col("flow").replace(FLOW_NAMES),
        pl.col("job_group").replace(JOB_GROUP_NAMES).alias("job group"),
        pl.col("region").replace(region_names),
        pl.when(pl.col("suppressed")).then(pl.lit("suppr.")).otherwise(pl.col("n").cast(pl.String))
        .fill_null("–").alias("n"),
        _pct("mean_rel_change").alias("change"),
        pl.when(pl.col("ci_low").is_null()).then(pl.lit("–"))
        .otherwise(pl.format("{} to {}", _pct("ci_low"), _pct("ci_high"))).alias("95% CI"),
        pl.when(pl.col("mean_minutes_before").is_null()).then(pl.lit("–")).otherwise(
            pl.format("{} → {}", _one_decimal(pl.col("mean_minutes_before")),
                      _one_decimal(pl.col("mean_minutes_after")))).alias("minutes"),
    )


def print_results(results: pl.DataFrame, title: str, max_rows: int = 60) -> None:
    """Print a results table, one table per region grouping (Hovedstaden/rest, five regions,
    kommunegrupper; at most ``max_rows`` rows each), so the groupings of ``--by`` are not mixed in
    one column; narrow enough for 100 columns. The results file holds every statistic (ratio of
    means, medians, shares, …)."""
    import polars as pl

    for name, labels in REGION_GROUPS.items():
        part = results.filter(pl.col("region").is_in(list(labels)))
        if name == "five regions" and not part["region"].is_in(["nordjylland"]).any():
            continue  # without --by region, 'hovedstaden' is only the Hovedstaden/rest split
        if part.is_empty():
            continue
        df = results_display(part)
        table = Table(title=f"{title} — {name}", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False,
                      collapse_padding=True)
        for col in df.columns:
            table.add_column(col, justify="right" if col in ("n", "change", "95% CI", "minutes")
                             else "left", no_wrap=True)
        for row in df.head(max_rows).iter_rows(named=True):  # rendering: a few hundred rows
            n = row["n"]
            table.add_row(*{**row, "n": f"{int(n):,}" if n.isdigit() else n}.values())
        console.print(table)
        if df.height > max_rows:
            console.print(f"… {df.height - max_rows} more rows (--max-rows)")
    console.print("change = mean of the individual relative changes in commute time; minutes = mean commute "
                  "time before → after (car, minutes); suppr. = suppressed by disclosure control. Every "
                  "statistic (ratio of means, medians, shares, …) is in the results file.",
                  highlight=False, soft_wrap=False)

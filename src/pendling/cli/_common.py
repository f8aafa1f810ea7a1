"""Shared pieces of the command-line layer: one console, error printing, progress bars."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import polars as pl
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
from rich.table import Table

from pendling.errors import PendlingError

# piped or captured output (batch jobs, logs) should not be cut at 80 columns
_WIDTH = None if sys.stdout.isatty() else 220
console = Console(width=_WIDTH)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 220)

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Print PendlingError messages for people (no traceback) and exit with status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PendlingError as exc:
            # escape: messages quote user text such as '[columns]', which rich would take for markup
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None

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

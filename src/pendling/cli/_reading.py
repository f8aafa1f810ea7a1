"""One set of options for reading register extracts, shared by every command that reads them.

``panel check``, ``panel export``, ``compute`` and ``plot --panel`` (and any later command that reads
extracts) take the same ``--column-map``, ``--jobgroups``, ``--on-duplicate``, ``--lenient`` and ``--no-cache``,
defined here once: decorate the command with :func:`reading_options` and accept a
``reading: ReadOptions`` parameter. The extracts are then read by :meth:`ReadOptions.load`, so the
stage 'panel' attrition of every command reaches back to the raw rows.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.markup import escape

from pendling.cli._common import console, progress

if TYPE_CHECKING:
    from pendling.panel import Panel

F = TypeVar("F", bound=Callable[..., Any])


class OnDuplicate(str, Enum):
    error = "error"
    drop = "drop"
    first = "first"


_OPTIONS: dict[str, tuple[Any, Any]] = {
    # name: (annotation, default)
    "column_map": (Annotated[Path | None, typer.Option(
        "--column-map", metavar="TOML", help="TOML overriding DST column names (copy data/reference/column_map_default.toml).",
        rich_help_panel="Reading extracts")], None),
    "jobgroups": (Annotated[Path | None, typer.Option(
        "--jobgroups", metavar="CSV", help="DISCO → job-group mapping CSV. Default: data/reference/disco08_jobgroups.csv.",
        rich_help_panel="Reading extracts")], None),
    "on_duplicate": (Annotated[OnDuplicate | None, typer.Option(
        "--on-duplicate", help="Repeated (PNR, year): error, drop (all rows of it) or first (row in file "
                               "order); dropped rows are counted. Default: error, or drop with --lenient.",
        rich_help_panel="Reading extracts")], None),
    "lenient": (Annotated[bool, typer.Option(
        "--lenient", metavar="", help="Read values that are not whole numbers as missing (counted, warned) instead of "
                          "stopping. An unreadable ADRESSE_ID makes moves fall back to KOM changes. CSV rows "
                          "with fewer fields than the header are left out (counted: excluded_short_row).",
        rich_help_panel="Reading extracts")], False),
    "no_cache": (Annotated[bool, typer.Option(
        "--no-cache", metavar="", help="Read and validate the extracts even if the validated-panel cache holds them, "
                                       "and do not store them there (see `pendling cache list`).",
        rich_help_panel="Reading extracts")], False),
}


@dataclass(frozen=True)
class ReadOptions:
    """The shared reading options of the command line (see :func:`pendling.load_panel`)."""

    column_map: Path | None = None
    jobgroups: Path | None = None
    on_duplicate: OnDuplicate | None = None
    lenient: bool = False
    no_cache: bool = False

    def load_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`pendling.panel.load_panel`."""
        return {
            "column_map": self.column_map,
            "jobgroups": self.jobgroups,
            "on_duplicate": self.on_duplicate.value if self.on_duplicate is not None else None,
            "strict": not self.lenient,
            "cache": not self.no_cache,
        }

    def load(self, source: str | Path | list[str], years: Iterable[int] | None = None,
             step: Callable[[str], None] | None = None, zones: bool | str = False, *,
             by_year: bool = False) -> Panel:
        """``load_panel(source, years=years, zones=zones, ...)``; progress goes to ``step`` if given (a
        command that already shows a bar), else to a bar of its own on the terminal. ``zones``: read
        the grid cells (False for municipality-level commands: the cell columns are not read).
        ``by_year``: validate and keep the panel year by year instead
        (:func:`pendling.panel.stream.open_years`; the caller closes it)."""
        from pendling.panel import load_panel

        if by_year:
            from pendling.panel.stream import open_years as load_panel  # type: ignore[assignment]
        from pendling.panel.load import count_steps

        src: Any = source
        if isinstance(source, list):
            src = source[0] if len(source) == 1 else source
        if step is not None:
            return load_panel(src, years=None if years is None else sorted(years), progress=step,
                              zones=zones, **self.load_kwargs())
        with progress(transient=True) as bar:
            task = bar.add_task("loading extracts", total=count_steps(src))

            def advance(msg: str) -> None:
                bar.update(task, advance=1, description=msg)

            return load_panel(src, years=None if years is None else sorted(years), progress=advance,
                              zones=zones, **self.load_kwargs())


def reading_options(func: F) -> F:
    """Add the shared reading options to a typer command that takes ``reading: ReadOptions``."""
    sig = inspect.signature(func, eval_str=True)  # evaluated: typer reads the annotations from here
    if "reading" not in sig.parameters:
        raise TypeError(f"{func.__name__} must take a 'reading: ReadOptions' parameter")
    names = [f.name for f in fields(ReadOptions)]
    assert set(names) == set(_OPTIONS)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        reading = ReadOptions(**{k: kwargs.pop(k, _OPTIONS[k][1]) for k in names})
        return func(*args, reading=reading, **kwargs)

    params = [p for p in sig.parameters.values() if p.name != "reading"]
    params += [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=_OPTIONS[k][1],
                                 annotation=_OPTIONS[k][0]) for k in names]
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper  # type: ignore[return-value]


def print_warnings(panel: Panel, *, skip_unopened: bool = False) -> int:
    """Print the panel's warnings; returns how many there were. ``skip_unopened``: leave out the
    files not opened for other years (compute opens only the years its flow years need)."""
    shown = [w for w in panel.warnings if not (skip_unopened and w.startswith("not opened"))]
    for w in shown:
        console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False, soft_wrap=True)
    return len(shown)

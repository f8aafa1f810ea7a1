"""``pendling cache list|clear``: the validated-panel cache (:mod:`pendling.panel.cache`)."""

from __future__ import annotations

import typer
from rich.markup import escape

from pendling.cli._common import console, friendly_errors, print_frame

app = typer.Typer(no_args_is_help=True)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


@app.command("list")
@friendly_errors
def list_() -> None:
    """The cached validated panels, most recently used first (microdata kept on this machine only)."""
    import polars as pl

    from pendling.panel import cache

    df = cache.entries()
    where = escape(str(cache.panels_dir()))
    if df.height == 0:
        console.print(f"no cached panel in {where}", highlight=False)
        return
    shown = df.with_columns(
        pl.col("bytes").map_elements(_size, return_dtype=pl.String).alias("size"),
        pl.col("input_bytes").map_elements(_size, return_dtype=pl.String).alias("inputs"),
    ).select("key", "size", "inputs", "files", "years", "rows", "created", "last_used")
    print_frame(shown, title=f"Cached panels in {where}")
    console.print(f"{df.height} panel(s), {_size(int(df['bytes'].sum()))} "
                  f"(bound {_size(cache.max_bytes())}, PENDLING_PANEL_CACHE_BYTES)", highlight=False)


@app.command("clear")
@friendly_errors
def clear() -> None:
    """Remove every cached panel (the next run on the extracts reads and validates them again)."""
    from pendling.panel import cache

    n, size = cache.clear()
    console.print(f"removed {n} cached panel(s), {_size(size)} from {escape(str(cache.panels_dir()))}",
                  highlight=False)

"""Short summaries of pendling's objects for the console and for notebooks.

Every object a statistician meets (a Panel, a mobility result, a synthetic extract, a road graph, a
matrix check) prints a few lines — counts, years, kept share, sources, warnings — as text
(``__repr__``) and as an HTML table (``_repr_html_``); the full tables and dicts are one attribute
away, and the last line names those attributes. The classes build their rows; this module only lays
them out, so text and HTML always say the same thing.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

Rows = Sequence[tuple[str, str]]


def text(title: str, rows: Rows, details: Iterable[str] = ()) -> str:
    """``title`` then one indented ``label: value`` line per row, then the detail attributes."""
    width = max((len(k) for k, _ in rows), default=0)
    lines = [title, *(f"  {k + ':':<{width + 1}} {v}" for k, v in rows)]
    if details := list(details):
        lines.append(f"  {'details:':<{width + 1}} {', '.join(details)}")
    return "\n".join(lines)


def html_table(title: str, rows: Rows, details: Iterable[str] = ()) -> str:
    """The same content as :func:`text` as a small HTML table (values escaped)."""
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    if details := list(details):
        body += ("<tr><th style='text-align:left'>details</th><td style='text-align:left'>"
                 + ", ".join(f"<code>{html.escape(d)}</code>" for d in details) + "</td></tr>")
    return f"<div><b>{html.escape(title)}</b><table>{body}</table></div>"


def span(years: Sequence[int]) -> str:
    """[2015, 2016, 2017] → '2015–2017 (3 years)'; gaps listed: '2015–2018 (3 years; no 2016)'."""
    ys = sorted({int(y) for y in years})
    if not ys:
        return "none"
    if len(ys) == 1:
        return str(ys[0])
    gaps = sorted(set(range(ys[0], ys[-1] + 1)) - set(ys))
    gap = f"; no {', '.join(map(str, gaps))}" if gaps else ""
    return f"{ys[0]}–{ys[-1]} ({len(ys)} years{gap})"


def share(part: int, whole: int) -> str:
    """'99.8 %' (one decimal; '–' for an empty whole)."""
    return f"{100 * part / whole:.1f} %" if whole else "–"


def cut(text: str, width: int = 90) -> str:
    """``text`` on one line, at most ``width`` characters (ending in '…' when cut)."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def first(items: Sequence[str], k: int = 2, width: int = 90) -> str:
    """The first ``k`` items, each cut to ``width`` characters, then '… and N more'."""
    shown = [cut(s, width) for s in items[:k]]
    more = f" … and {len(items) - k} more" if len(items) > k else ""
    return "; ".join(shown) + more

"""Honour ``--threads`` for Polars: its thread pool is sized once, when polars is first imported.

Imported by :mod:`pendling.cli` before anything imports polars; imports nothing heavy itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def polars_threads_from_argv(argv: Sequence[str] | None = None) -> int | None:
    """Set POLARS_MAX_THREADS from ``--threads N`` / ``--threads=N`` in ``argv`` (default sys.argv).

    Does nothing if polars is already imported (too late) or the variable is already set (the
    user's choice wins). Returns the thread count set, else None. Bad values are left for the
    command's own option parsing to report.
    """
    if "polars" in sys.modules or "POLARS_MAX_THREADS" in os.environ:
        return None
    args = list(sys.argv[1:] if argv is None else argv)
    value = None
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--threads" and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--threads="):
            value = arg.split("=", 1)[1]
    if value is None or not value.isdigit() or int(value) < 1:
        return None
    os.environ["POLARS_MAX_THREADS"] = value
    return int(value)

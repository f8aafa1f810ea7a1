"""Last line of defence of the command line: no raw traceback ever reaches the terminal.

Errors pendling raises on purpose (:class:`pendling.errors.PendlingError`) are printed by
``friendly_errors`` with exit code :data:`EXIT_INPUT`. Anything else is a bug: :func:`crash` writes the
traceback to a log file, prints one short paragraph naming it, and exits with :data:`EXIT_BUG`, so a
batch script can tell "fix your input" (2) from "report this" (3). Running out of memory is neither
(exit 2, with advice); Ctrl-C exits 130 quietly.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
import tempfile
import traceback
from pathlib import Path
from typing import NoReturn

EXIT_INPUT = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130
LOG_DIR_ENV = "PENDLING_CRASH_DIR"  # where crash logs go; default <cache dir>/crash, else the temp folder


def _log_dir() -> Path:
    if os.environ.get(LOG_DIR_ENV):
        return Path(os.environ[LOG_DIR_ENV])
    try:
        from pendling import paths

        return paths.cache_dir() / "crash"
    except Exception:  # the cache folder itself may be the problem
        return Path(tempfile.gettempdir())


def write_crash_log(exc: BaseException) -> Path | None:
    """Write the command, versions and traceback of ``exc`` to a new log file; its path, or None."""
    stamp = _dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    try:
        from importlib.metadata import version

        pendling_version = version("pendling")
    except Exception:
        pendling_version = "unknown"
    text = (
        f"pendling {pendling_version}, Python {platform.python_version()}, {platform.platform()}\n"
        f"command: {' '.join(sys.argv)}\n\n" + "".join(traceback.format_exception(exc))
    )
    for folder in (_log_dir(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"pendling-crash-{stamp}-{os.getpid()}.log"
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return None


def crash(exc: BaseException) -> NoReturn:
    """Report an exception the code did not foresee (or memory exhaustion) and exit; never returns."""
    import typer

    from pendling.cli._common import err_console

    if isinstance(exc, KeyboardInterrupt):
        err_console.print("interrupted", highlight=False)
        raise typer.Exit(code=EXIT_INTERRUPTED)
    if isinstance(exc, MemoryError):
        err_console.print(
            "error: out of memory while working on this input.\n  what to do: give fewer years (--years), "
            "lower --memory-limit/--threads for compute, or run on a machine with more memory",
            highlight=False, soft_wrap=True, markup=False,
        )
        raise typer.Exit(code=EXIT_INPUT)
    log = write_crash_log(exc)
    where = f"the details are in {log}" if log else "no log file could be written"
    err_console.print(
        f"internal error (a bug in pendling, not in your input): {type(exc).__name__}: "
        f"{str(exc).splitlines()[0][:200] if str(exc) else ''}\n  {where}; please report it with that file "
        "(read it first: messages in it may quote values from your input)",
        highlight=False, soft_wrap=True, markup=False,
    )
    raise typer.Exit(code=EXIT_BUG)

"""Resource limits for the DuckDB part of a run: memory, threads and where to spill.

On a shared research server a run must stay inside the memory it was given and say so plainly when
that is not enough. DuckDB aggregates the usable movers and job-changers into cell sums and medians
(:func:`pendling.mobility.flows.cells_and_attrition`) and honours all three settings at run time:

* ``memory_limit`` ('2GB', '500MiB' ...): DuckDB's buffer pool. Hash aggregates spill to disk beyond
  it; an operator that cannot spill fails with an out-of-memory error, which becomes an
  :class:`~pendling.errors.InputError` saying what to change.
* ``threads``: DuckDB worker threads. Each thread needs working memory of its own, so fewer threads
  also lower the peak.
* ``temp_directory``: where DuckDB spills. pendling always sets one (a fresh sub-directory, removed
  afterwards) so spill files never land in the current directory (DuckDB's default ``.tmp``).

The pairing of t-1 with t, the classification and the matrix lookup run in Polars (a pass over the
sorted panel, no join), which has no memory limit; its thread pool is sized once, when polars is
first imported, from the environment variable ``POLARS_MAX_THREADS``. The ``pendling`` command sets
that variable from ``--threads`` before anything imports polars; from Python, set it yourself before
``import polars`` (``threads=`` here limits DuckDB only).

Measured at national scale (27 M person-years, 3 M persons × 9 years, 2 threads, ``by`` region and
kommunegruppe): DuckDB completes with ``memory_limit`` 600 MB or more; at 400 MB and below it fails
in the exact medians (a holistic aggregate cannot spill) with the InputError above. The whole
``compute`` peaks at about 2.3 GB resident including the 0.9 GB panel; reading the panel with Polars
(``load_panel``) is the larger peak, about 0.2 KB per input row.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pendling.errors import InputError

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)
MEMORY_HINT = "raise --memory-limit (memory_limit=) or lower --threads (threads=)"


@dataclass(frozen=True)
class Limits:
    """DuckDB settings for one run; None = DuckDB's default (80 % of RAM, one thread per core)."""

    memory_limit: str | None = None
    threads: int | None = None
    temp_directory: Path | None = None

    @classmethod
    def checked(
        cls,
        memory_limit: str | None = None,
        threads: int | None = None,
        temp_directory: str | Path | None = None,
    ) -> Limits:
        """Validate user values (InputError naming the option) and return them as :class:`Limits`."""
        if memory_limit is not None:
            m = _MEMORY.match(str(memory_limit))
            if not m or float(m.group(1)) <= 0:
                raise InputError(
                    "cannot read the memory limit",
                    column="memory_limit",
                    values=[memory_limit],
                    hint="write an amount with a unit, e.g. 2GB, 500MB or 8GiB",
                )
            memory_limit = f"{m.group(1)}{m.group(2)}"
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise InputError("threads must be a whole number of at least 1", column="threads", values=[threads])
        return cls(memory_limit, threads, Path(temp_directory) if temp_directory is not None else None)

    def describe(self) -> str:
        memory = self.memory_limit or "DuckDB default (80% of RAM)"
        return f"memory_limit={memory}, threads={self.threads or 'all cores'}"


@contextlib.contextmanager
def connect(limits: Limits | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection with ``limits`` applied and a private spill directory.

    The spill directory is a fresh ``pendling-spill-*`` folder inside ``limits.temp_directory`` (or
    the system temp folder, which honours TMPDIR); it and the connection are removed on exit.
    Out-of-memory and spill-disk errors inside the block are re-raised as InputError with advice.
    """
    limits = limits or Limits()
    parent = Path(limits.temp_directory) if limits.temp_directory is not None else None
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    spill = Path(tempfile.mkdtemp(prefix="pendling-spill-", dir=parent))
    con = duckdb.connect()
    try:
        con.execute(f"SET temp_directory = '{_sql_text(str(spill))}'")
        if limits.memory_limit is not None:
            con.execute(f"SET memory_limit = '{limits.memory_limit}'")
        if limits.threads is not None:
            con.execute(f"SET threads = {int(limits.threads)}")
        try:
            yield con
        except duckdb.OutOfMemoryException as exc:
            raise InputError(
                f"DuckDB ran out of memory ({limits.describe()}): {_first_line(exc)}",
                column="memory_limit",
                values=[limits.memory_limit or "default", f"threads={limits.threads or 'all cores'}"],
                hint=f"{MEMORY_HINT}; DuckDB already spills what it can to disk (under {spill.parent})",
            ) from None
        except duckdb.IOException as exc:
            raise InputError(
                f"DuckDB could not write its spill files: {_first_line(exc)}",
                file=spill,
                hint="free disk space there or point --spill-dir (temp_directory=) at a disk with room; "
                f"or {MEMORY_HINT} so less has to spill",
            ) from None
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

"""Atomic, deterministic writing of tables and files.

Every output goes to a temporary file in the target directory and is renamed into place, so a run
killed mid-write leaves either the previous file or none, never a partial one. The temporary file is
hidden (its name starts with '.'), so readers that skip hidden files never take it for a result, and
the next write of the same target removes it if its writer is dead (:func:`remove_stale_temps`).
Parquet is written with fixed settings (zstd level 9, no dictionary surprises, one row group per 1 M
rows) so reruns on the same inputs are byte-identical.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from pendling.errors import InputError

PARQUET_COMPRESSION = "zstd"
PARQUET_LEVEL = 9
PARQUET_ROW_GROUP = 1_000_000


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The temporary file is hidden and names its writer: ``.<name>.<host>-<pid>.<random><suffix>``
    (suffix ``.tmp`` unless given). A writer killed outright (SIGKILL, OOM killer) cannot remove its
    file, so each new write of ``path`` first removes such leftovers of writers on this host that are
    no longer running; files of live writers (a concurrent run) are left alone.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.{_HOST}-{os.getpid()}.", suffix=suffix or ".tmp", dir=path.parent
        )
        os.close(fd)
    except OSError as exc:
        raise write_error(path, exc) from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files
        replace(tmp_path, path)  # retries a briefly locked target; OutputError if it stays locked
    except Exception as exc:
        err = write_error(path, exc)
        if err is None:
            raise
        raise err from None
    finally:
        with contextlib.suppress(OSError):  # e.g. the folder became unwritable meanwhile
            if tmp_path.exists():
                tmp_path.unlink()


_WRITE_HINTS = {
    errno.EFBIG: "the file size limit was reached (ulimit -f / RLIMIT_FSIZE): raise it, or write a smaller output",
    errno.ENOSPC: "the disk is full: free space, or write to another folder",
    errno.EDQUOT: "the disk quota is used up: free space, or write to another folder",
    errno.EACCES: "the folder is not writable for you: choose another output path",
    errno.EPERM: "the folder is not writable for you: choose another output path",
    errno.EROFS: "the folder is on a read-only file system: choose another output path",
    errno.ENOENT: "the folder does not exist and cannot be created: check the output path",
    errno.ENOTDIR: "a part of the output path is a file, not a folder: check the output path",
}


def write_error(path: str | Path, exc: BaseException) -> InputError | None:
    """InputError for a failed write of ``path`` when ``exc`` is about the disk (an OSError, also
    wrapped by Polars or xlsxwriter), else None: then it is a bug and must not be disguised."""
    os_error = exc if isinstance(exc, OSError) else None
    if os_error is None:
        os_error = next((a for a in getattr(exc, "args", ()) if isinstance(a, OSError)), None)
    text = str(exc)
    m = re.search(r"\(os error (\d+)\)", text)
    if os_error is None and m is None:
        return None
    # Polars raises OSError('File too large (os error 27)') without an errno: take it from the text
    code = os_error.errno if os_error is not None and os_error.errno else (int(m.group(1)) if m else 0)
    reason = (os_error.strerror if os_error is not None and os_error.strerror else None) or (
        os.strerror(code) if code else text.splitlines()[0] if text else type(exc).__name__
    )
    return InputError(
        f"cannot write the output: {reason}; nothing was written there (an earlier file at this path "
        "is unchanged)",
        file=path,
        hint=_WRITE_HINTS.get(code or 0, "check the output path, free space and permissions"),
    )


# On Windows os.replace fails with PermissionError while another process has the target open (Excel
# with the results workbook, Stata with the .dta, a virus scanner for a moment): a few short
# retries ride out the scanner; a file held open by a program gets a clear error instead.
REPLACE_RETRIES = 5
REPLACE_WAIT_S = 0.2


def replace(src: str | Path, dst: str | Path) -> None:
    """``os.replace(src, dst)``; if ``dst`` stays locked (PermissionError after
    :data:`REPLACE_RETRIES` tries), raise :class:`~pendling.errors.OutputError` naming ``dst``.
    ``dst`` is then unchanged; the caller removes ``src``."""
    for attempt in range(REPLACE_RETRIES):
        try:
            os.replace(src, dst)
            return
        except PermissionError as exc:
            if attempt + 1 < REPLACE_RETRIES:
                time.sleep(REPLACE_WAIT_S)
                continue
            from pendling.errors import OutputError

            raise OutputError(
                f"cannot replace the output file: it is in use or write-protected ({exc.strerror or exc})",
                file=Path(dst),
                hint="close the program that has it open (Excel, Stata, SAS, a file viewer) and run again, "
                     "or write to another file name; the earlier file is unchanged",
            ) from None


_HOST = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "host"


def temp_files(path: str | Path) -> list[Path]:
    """Temporary files of :func:`atomic_path` for ``path`` now in its folder (any writer), sorted."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    return sorted(path.parent.glob(f".{glob.escape(path.name)}.*-*.*"))


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Remove temporary files left for ``path`` by writers on this host that are no longer running.

    Returns the files removed. Files from other hosts (a shared network drive) are kept: whether
    their writer still runs cannot be told from here.
    """
    path = Path(path)
    own = re.compile(rf"^\.{re.escape(path.name)}\.(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)\.")
    removed = []
    for tmp in temp_files(path):
        m = own.match(tmp.name)
        if m and m["host"] == _HOST and not _alive(int(m["pid"])):
            with contextlib.suppress(FileNotFoundError):  # another run cleaned it first
                tmp.unlink()
                removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_parquet(df: pl.DataFrame, path: str | Path) -> Path:
    """Write ``df`` to Parquet atomically with fixed, deterministic settings."""
    with atomic_path(path, ".parquet") as tmp:
        df.write_parquet(
            tmp,
            compression=PARQUET_COMPRESSION,
            compression_level=PARQUET_LEVEL,
            statistics=True,
            row_group_size=PARQUET_ROW_GROUP,
        )
    return Path(path)


def write_csv(df: pl.DataFrame, path: str | Path, **kwargs: Any) -> Path:
    """Write ``df`` to UTF-8 CSV atomically (',' separator, '\\n' line ends, nulls as empty)."""
    with atomic_path(path, ".csv") as tmp:
        df.write_csv(tmp, **kwargs)
    return Path(path)


def write_text(text: str, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(obj: Any, path: str | Path) -> Path:
    """Write JSON atomically with sorted keys and a trailing newline (stable diffs)."""
    return write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", path)


TABLE_SUFFIXES = (".parquet", ".csv", ".xlsx", ".dta", ".xpt")


def table_suffix(path: str | Path) -> str:
    """The lower-case suffix of ``path`` if :func:`write_table` can write it, else InputError."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(
            f"unsupported output format {suffix or '(none)'!r}",
            file=path,
            hint="use a file name ending in .parquet, .csv, .xlsx, .dta (Stata) or .xpt (SAS transport)",
        )
    return suffix


def write_table(df: pl.DataFrame, path: str | Path, *, labels: Mapping[str, str] | None = None) -> Path:
    """Write by file suffix: ``.parquet``, ``.csv``, ``.xlsx`` (one sheet, formatted like the results
    workbook, via :func:`pendling.report.excel.write_table_xlsx`), ``.dta`` (Stata) or ``.xpt`` (SAS
    transport v5), the last two via :mod:`pendling.statfiles` with variable labels from ``labels``
    (column → text; other formats ignore it); atomic and byte-identical on rerun."""
    suffix = table_suffix(path)
    if suffix == ".parquet":
        return write_parquet(df, path)
    if suffix == ".csv":
        return write_csv(df, path)
    if suffix in (".dta", ".xpt"):
        # Imported here: pendling.statfiles writes through this module's atomic_path.
        from pendling import statfiles

        writer = statfiles.write_dta if suffix == ".dta" else statfiles.write_xpt
        return writer(df, path, labels=labels)
    # Imported here: pendling.report.excel writes through this module's atomic_path.
    from pendling.report.excel import write_table_xlsx

    return write_table_xlsx(df, path)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()

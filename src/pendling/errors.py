"""Errors meant for people: each says what is wrong, where, and what to do next."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


class PendlingError(Exception):
    """Base class for all errors pendling raises on purpose.

    The CLI prints these without a traceback; anything else is a bug.
    """


class InputError(PendlingError):
    """Bad input data: names the file, the column, the offending values and the fix."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        column: str | None = None,
        values: Iterable[object] | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.column = column
        self.values = list(values)[:10] if values is not None else None
        self.hint = hint
        parts = [message]
        if self.file:
            parts.append(f"file: {self.file}")
        if column:
            parts.append(f"column: {column}")
        if self.values is not None:
            parts.append(f"offending values (up to 10): {self.values!r}")
        if hint:
            parts.append(f"what to do: {hint}")
        super().__init__("\n  ".join(parts))


class OutputError(InputError):
    """An output cannot be written (e.g. another program holds the file open); names the file and
    what to do. The earlier file at that path, if any, is left as it was."""


class DataMissingError(PendlingError):
    """A shipped or derived data file is absent; says which command rebuilds it."""

"""Find and open register extracts: Parquet, CSV, SAS7BDAT, SAS transport (XPT) and Stata .dta.

Each input becomes a :class:`RawInput`: a Polars LazyFrame whose columns are already renamed to the
canonical field names but still carry the source types (text, float, integer). Type checking and
conversion happen in :mod:`pendling.panel.validate`, the same way for every format.

Parquet and CSV are scanned lazily and only the mapped columns are read. SAS, XPT and Stata files are
read by pyreadstat in chunks of :data:`CHUNK_ROWS` rows straight into Polars (columnar, no Python
objects per value), again only the mapped columns.
"""

from __future__ import annotations

import csv as _csv
from array import array
import glob as _glob
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pendling.errors import InputError
from pendling.panel.keys import KEY_FIELDS
from pendling.panel.columns import CANONICAL_COLUMNS, COORD_FIELDS, ZONE_FIELDS, ColumnMap, sniff_separator, year_from_name

FORMATS: dict[str, str] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".sas7bdat": "sas7bdat",
    ".xpt": "xport",
    ".dta": "stata",
}
# When a directory holds the same extract in several formats, read the first of these only.
FORMAT_PREFERENCE: tuple[str, ...] = ("parquet", "stata", "sas7bdat", "xport", "csv")
CHUNK_ROWS = 1_000_000
# pendling.synth writes these beside its ras<year> files; they describe the extract, they are not one
SYNTH_MANIFEST = "manifest.json"
SYNTH_GENERATOR = "pendling.synth"
REQUIRED_FIELDS: tuple[str, ...] = ("pnr", "home_muni", "work_id", "work_muni", "disco")

Source = str | Path | pl.DataFrame | pl.LazyFrame | Sequence[str | Path]


@dataclass
class RawInput:
    """One opened input: lazily readable columns named by canonical field, in source types."""

    label: str  # the file path, or '<DataFrame>'
    fmt: str
    lazy: pl.LazyFrame
    columns: dict[str, str]  # canonical field -> source column name
    name_year: int | None  # year taken from the file name when there is no year column
    warnings: list[str] = field(default_factory=list)
    # a slower, more forgiving way to read the same input, tried when the fast one fails on the data
    fallback: Callable[[], RawInput] | None = None
    # CSV rows with fewer fields than the header (then ``lazy`` has a Boolean ``_short_row`` column)
    short_rows: ShortRows | None = None

    @property
    def schema(self) -> dict[str, pl.DataType]:
        return dict(self.lazy.collect_schema())


@dataclass(frozen=True)
class ShortRows:
    """The records of a CSV file with fewer fields than its header (see :func:`short_records`)."""

    width: int  # fields in the header
    separator: str
    index: Sequence[int]  # 0-based data-row positions, the row order Polars reads them in
    examples: tuple[tuple[int, int, int], ...]  # (data row from 1, line in the file from 1, fields), first 10
    rows: int = 0  # data rows in the file (counted only when there are short ones)

    @property
    def n(self) -> int:
        return len(self.index)

    def describe(self) -> str:
        """'row 3 (line 4): 2 fields; …' for the first rows, as a message names them."""
        shown = [
            f"row {row} (line {line}): " + ("an empty line" if fields == 0 else f"{fields} field{'s' * (fields != 1)}")
            for row, line, fields in self.examples
        ]
        more = f"; and {self.n - len(shown):,} more" if self.n > len(shown) else ""
        return "; ".join(shown) + more


def short_row_error(raw: RawInput) -> InputError | None:
    """The error for an input with rows shorter than its header (None when it has none). Polars would
    read the missing trailing values as empty, and the rows would land in attrition buckets as if the
    register had left those values out."""
    short = raw.short_rows
    if short is None or short.n == 0:
        return None
    every = (
        "every row is shorter than the header: does the header have a field too many (a separator at its "
        "end?), or is the separator another one ([read] csv_separator in a column map)? Otherwise, "
        if short.n == short.rows else ""
    )
    return InputError(
        f"{short.n:,} row(s) have fewer fields than the header's {short.width} ({short.separator!r}-separated; "
        f"rows numbered from the first data row, lines from the top of the file): {short.describe()}",
        file=raw.label,
        hint=(
            every + "a row cut short or split by a line break inside a value means the export or copy went wrong: "
            "export the file again (values containing the separator or a line break must be quoted), or "
            "remove empty lines; to leave these rows out and count them as 'excluded_short_row', read "
            "leniently (--lenient on the command line, strict=False in Python)"
        ),
    )


def raise_short_rows(inputs: Iterable[RawInput]) -> None:
    """Raise :func:`short_row_error` for the first input that has short rows (strict reading)."""
    for raw in inputs:
        err = short_row_error(raw)
        if err is not None:
            raise err


def discover(source: str | Path | Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """Expand ``source`` (a file, a directory, a glob, or a list of these) into input files.

    A directory is read as one file per year: files with a supported suffix whose name carries a
    19xx/20xx year (``ras2015.parquet``); other files there are ignored and reported, except the
    side files of a :mod:`pendling.synth` extract (``truth.parquet``, ``manifest.json``), which are
    skipped silently when ``manifest.json`` says it was written by pendling.synth (see
    :func:`synth_side_files`). If no file name carries a year, every supported file is read. When the same
    extract exists in several formats, only the preferred one is read (:data:`FORMAT_PREFERENCE`).
    Returns (files in a stable order, warnings).
    """
    if isinstance(source, (list, tuple)):
        files: list[Path] = []
        warnings: list[str] = []
        for item in source:
            f, w = discover(item)
            files.extend(p for p in f if p not in files)
            warnings.extend(w)
        if not files:
            raise InputError("no input files given", hint="pass a file, a directory or a glob pattern")
        return files, warnings

    path = Path(source)  # type: ignore[arg-type]
    if path.is_dir():
        return _discover_dir(path)
    if path.is_file():
        _format_of(path)
        return [path], []
    if any(ch in str(source) for ch in "*?["):
        matches = sorted(Path(p) for p in _glob.glob(str(source)) if Path(p).is_file())
        matches = [p for p in matches if p.suffix.lower() in FORMATS]
        if not matches:
            raise InputError(
                "the glob pattern matches no readable extract",
                file=str(source),
                hint=f"supported suffixes: {', '.join(sorted(FORMATS))}",
            )
        return _order(matches), []
    raise InputError("input not found", file=path, hint="check the path; pass a file, a directory or a glob")


def synth_side_files(directory: Path) -> frozenset[str]:
    """Names of the pendling.synth side files in ``directory`` (empty unless it is a synth extract).

    A directory counts as a synth extract only if its ``manifest.json`` says
    ``"generator": "pendling.synth"``; the truth files are the ones that manifest names (``truth``, and
    ``zones.cell_truth`` of a grid extract). So a
    ``truth.parquet`` in a real register folder is still reported as an ignored file.
    """
    manifest = directory / SYNTH_MANIFEST
    try:
        meta = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # absent, unreadable or not JSON: not a synth extract
        return frozenset()
    if not isinstance(meta, dict) or meta.get("generator") != SYNTH_GENERATOR:
        return frozenset()
    truth = meta.get("truth")
    names = {SYNTH_MANIFEST}
    if isinstance(truth, dict) and isinstance(truth.get("file"), str):
        names.add(truth["file"])
    zones = meta.get("zones")  # grid extracts: the cell-level truth beside truth.parquet
    cell_truth = zones.get("cell_truth") if isinstance(zones, dict) else None
    if isinstance(cell_truth, dict) and isinstance(cell_truth.get("file"), str):
        names.add(cell_truth["file"])
    return frozenset(names)


def _discover_dir(path: Path) -> tuple[list[Path], list[str]]:
    side = synth_side_files(path)
    supported = sorted(
        p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FORMATS and p.name not in side
    )
    warnings: list[str] = []
    # '.ras2015.parquet.<host>-<pid>.<random>.parquet' is an unfinished atomic write (pendling.io),
    # never an extract; other hidden files are not meant to be read either
    hidden = [p.name for p in supported if p.name.startswith(".")]
    if hidden:
        warnings.append(f"ignored in {path} (hidden files, e.g. unfinished writes): {', '.join(hidden)}")
        supported = [p for p in supported if not p.name.startswith(".")]
    if not supported:
        raise InputError(
            "the directory holds no readable extract",
            file=path,
            hint=f"expected files like ras2015.parquet; supported suffixes: {', '.join(sorted(FORMATS))}",
        )
    with_year = [p for p in supported if year_from_name(p) is not None]
    if with_year:
        skipped = [p.name for p in supported if p not in with_year]
        if skipped:
            warnings.append(
                f"ignored in {path} (no year in the file name): {', '.join(skipped)}"
            )
        supported = with_year
    by_stem: dict[str, list[Path]] = {}
    for p in supported:
        by_stem.setdefault(p.stem.lower(), []).append(p)
    chosen: list[Path] = []
    for stem_files in by_stem.values():
        stem_files.sort(key=lambda p: FORMAT_PREFERENCE.index(FORMATS[p.suffix.lower()]))
        chosen.append(stem_files[0])
        if len(stem_files) > 1:
            warnings.append(
                f"{stem_files[0].name} read; the same extract in other formats ignored: "
                + ", ".join(p.name for p in stem_files[1:])
            )
    return _order(chosen), warnings


def _order(files: Iterable[Path]) -> list[Path]:
    return sorted(files, key=lambda p: (year_from_name(p) or 0, p.name))


def _format_of(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"unsupported file type {path.suffix!r}",
            file=path,
            hint=f"convert it to one of: {', '.join(sorted(FORMATS))}",
        )
    return fmt


def open_input(path: Path, column_map: ColumnMap) -> RawInput:
    """Open one extract lazily with the mapped columns renamed to canonical field names."""
    fmt = _format_of(path)
    if path.stat().st_size == 0:
        raise InputError(
            f"cannot read this {fmt} file: an empty {fmt.upper() if fmt == 'csv' else fmt} file (0 bytes, "
            "not even a header)",
            file=path,
            hint="check that the file is complete (did the export or copy finish?); remove it if that year "
            "has no data",
        )
    try:
        if fmt == "parquet":
            lazy = pl.scan_parquet(path)
            names = list(lazy.collect_schema())
            return _finish(path, fmt, lazy, names, column_map)
        if fmt == "csv":
            return _open_csv(path, column_map)
        return _open_readstat(path, fmt, column_map)
    except InputError:
        raise
    except Exception as exc:  # every reader library has its own error types
        raise InputError(
            f"cannot read this {fmt} file: {type(exc).__name__}: {exc}",
            file=path,
            hint="check that the file is complete and really in this format (the suffix decides the reader)",
        ) from None


def open_frame(frame: pl.DataFrame | pl.LazyFrame, column_map: ColumnMap, label: str = "<DataFrame>") -> RawInput:
    """Treat an in-memory frame like a file (canonical or DST column names both work)."""
    lazy = frame.lazy()
    return _finish(Path(label), "frame", lazy, list(lazy.collect_schema()), column_map, label=label)


def _finish(
    path: Path,
    fmt: str,
    lazy: pl.LazyFrame,
    names: list[str],
    column_map: ColumnMap,
    *,
    label: str | None = None,
    extra: Sequence[pl.Expr] = (),
) -> RawInput:
    label = label or str(path)
    found, warnings = column_map.resolve(names, file=label)
    name_year = year_from_name(path) if fmt != "frame" else None
    _require(found, names, column_map, label, name_year)
    lazy = lazy.select([pl.col(src).alias(fld) for fld, src in found.items()] + list(extra))
    return RawInput(label, fmt, lazy, found, name_year, warnings)


def _require(
    found: dict[str, str], names: list[str], column_map: ColumnMap, label: str, name_year: int | None
) -> None:
    """InputError naming the file, the missing fields, the names tried and the file's own columns."""
    required = [*REQUIRED_FIELDS, *([] if name_year is not None else ["year"])]
    missing = [f for f in required if f not in found]
    if not missing:
        return
    wanted = "; ".join(f"{f}: {' / '.join(column_map.names_for(f))}" for f in missing)
    hint = (
        "name the right columns in a column map TOML ([columns] section, see "
        "data/reference/column_map_default.toml) and pass it with --column-map"
    )
    if "year" in missing:
        hint += "; or put the year in the file name (ras2015.parquet)"
    raise InputError(
        f"required column(s) not found — looked for {wanted}",
        file=label,
        column=", ".join(missing),
        values=names,
        hint=hint,
    )


def _open_csv(
    path: Path, column_map: ColumnMap, *, as_text: bool = False, short: ShortRows | None = None
) -> RawInput:
    """Scan a CSV lazily. Fast path: number fields parsed as Int64 by the CSV reader itself and
    DISCO as text. If any value does not parse (' 101 ', '101.0', 'KBH'), :attr:`RawInput.fallback`
    re-reads every mapped column as text so the shared conversion can clean it or report it.

    Rows with fewer fields than the header are found here (:func:`short_records`), since Polars pads
    them with missing values; they become :attr:`RawInput.short_rows` and a ``_short_row`` column."""
    header, header_encoding = _read_header(path, column_map.encoding)
    sep = column_map.csv_separator or sniff_separator(header)
    actual = list(pl.scan_csv(path, separator=sep, infer_schema=False, encoding="utf8-lossy").collect_schema())
    if short is None:
        short = short_records(path, sep, len(actual))
    names = [a.lstrip("\ufeff").strip() for a in actual]
    notes: list[str] = []
    if header_encoding is not None:
        # Polars reads CSV as UTF-8 only; a latin-1 header ('BOPÆL_KOM') would turn into 'BOP\ufffdL_KOM'
        # and match no column map. The mapped values are numbers and DISCO codes (ASCII), so decoding
        # the names is enough; other text columns are not read.
        try:
            decoded = next(_csv.reader([header.rstrip("\r\n")], delimiter=sep), [])
        except _csv.Error:  # e.g. a NUL or a lone carriage return in the header: keep Polars' names
            decoded = []
        if len(decoded) == len(actual):
            names = [n.lstrip("\ufeff").strip() for n in decoded]
            notes.append(f"{path.name}: the header is not UTF-8; column names read as {header_encoding}")
    found, _ = column_map.resolve(names, file=path)
    to_actual = dict(zip(names, actual, strict=True))
    overrides: dict[str, pl.DataType] = {}
    if not as_text:
        # key columns (PNR, ADRESSE_ID, LBNR) stay text: '0123' must keep its zero (pendling.panel.keys)
        # coordinates as Float64 (a value that is not a number sends the file to the text fallback)
        overrides = {
            to_actual[src]: pl.Float64() if fld in COORD_FIELDS else pl.Int64()
            for fld, src in found.items() if fld not in ("disco", *KEY_FIELDS, *ZONE_FIELDS)
        }
    extra: list[pl.Expr] = []
    row_index = None
    if short.n:  # only then: a row index costs the reader time
        row_index = "_csv_row"
        positions = pl.Series("positions", short.index, dtype=pl.Int64)
        extra.append(pl.col(row_index).cast(pl.Int64).is_in(positions.implode()).alias("_short_row"))
    # infer_schema=False: everything else is read as text, so codes keep leading zeros
    lazy = pl.scan_csv(
        path, separator=sep, infer_schema=False, encoding="utf8-lossy", schema_overrides=overrides or None,
        row_index_name=row_index,
    )
    lazy = lazy.rename({a: n for a, n in zip(actual, names, strict=True) if a != n})
    raw = _finish(path, "csv", lazy, names, column_map, extra=extra)
    raw.warnings.extend(notes)
    if short.n:
        raw.short_rows = short
        raw.warnings.append(
            f"{path.name}: {short.n:,} row(s) have fewer fields than the header's {short.width} and are left "
            f"out (attrition bucket excluded_short_row; lenient reading): {short.describe()}"
        )
    if not as_text:
        raw.fallback = lambda: _open_csv(path, column_map, as_text=True, short=short)
    return raw


def short_records(path: str | Path, sep: str, width: int) -> ShortRows:
    """The records of a CSV file with fewer fields than the header's ``width`` (an empty line is one).

    Polars reads such a record with its missing trailing values as empty (nulls), indistinguishable
    from values the register left empty, so they are found here. Cheap on a good file: the separator
    and line-break bytes are counted with NumPy in blocks (≈0.1 s for 3 M rows, 136 MB); only when
    the separators are not exactly ``width − 1`` per line is the file read record by record with the
    ``csv`` module (quotes and line breaks inside quoted values handled as Polars does; ≈ seconds).
    Rows are numbered as Polars numbers them, which the tests check for empty lines, CRLF line ends
    and quoted line breaks. Not found: a short row whose missing separators are made up for by
    separators inside quoted values elsewhere in the file (the counts then match); a row with
    more fields than the header stops the read itself (:func:`csv_record_problems`)."""
    none = ShortRows(width, sep, (), ())
    if width < 2:  # one column: a row cannot lack a field
        return none
    sep_byte = sep.encode()
    if len(sep_byte) == 1 and _separators_per_line_match(Path(path), sep_byte[0], width):
        return none
    index = array("q")  # 8 bytes a row, should every row of a national file be short
    examples: list[tuple[int, int, int]] = []
    position = -1
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            reader = _csv.reader(fh, delimiter=sep)
            next(reader, None)
            for position, record in enumerate(reader):
                if len(record) < width:
                    index.append(position)
                    if len(examples) < 10:
                        examples.append((position + 1, reader.line_num, len(record)))
    except _csv.Error:  # the read fails on this file anyway, and csv_record_problems says where
        return none
    return ShortRows(width, sep, index, tuple(examples), rows=position + 1)


def _separators_per_line_match(path: Path, sep: int, width: int, block: int = 16 << 20) -> bool:
    """True when the file holds exactly ``width − 1`` separator bytes per line (the header included)."""
    import numpy as np

    buf = bytearray(block)
    view = memoryview(buf)
    separators = newlines = 0
    last = b""
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            chunk = np.frombuffer(view[:n], dtype=np.uint8)
            separators += int(np.count_nonzero(chunk == sep))
            newlines += int(np.count_nonzero(chunk == 0x0A))
            last = bytes(view[n - 1 : n])
    lines = newlines + (last != b"\n")  # a last line without a line break counts too
    return separators == (width - 1) * lines


def csv_record_problems(path: str | Path, column_map: ColumnMap, limit: int = 10) -> str | None:
    """Where a CSV file breaks its own header: the first records (numbered as data rows, header = 0)
    with another number of fields than the header, or the parser's complaint. Only called after a
    read failed, so reading record by record here costs nothing on good files."""
    header, _ = _read_header(Path(path), column_map.encoding)
    sep = column_map.csv_separator or sniff_separator(header)
    found: list[str] = []
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            reader = _csv.reader(fh, delimiter=sep)
            width = len(next(reader, []))
            for number, record in enumerate(reader, start=1):
                if record and len(record) != width:
                    found.append(f"row {number}: {len(record)} fields")
                    if len(found) >= limit:
                        break
    except _csv.Error as exc:
        return f"the file cannot be split into fields near data row {reader.line_num - 1}: {exc}"
    if not found:
        return None
    return f"rows with another number of fields than the header's {width} ({sep!r}-separated): " + "; ".join(found)


def _read_header(path: Path, encoding: str) -> tuple[str, str | None]:
    """The first line of a CSV file and, if it is not UTF-8, the encoding used to decode it instead
    (the column map's ``[read] encoding``, else cp1252, the Windows superset of latin-1)."""
    with open(path, "rb") as fh:
        raw = fh.readline()
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        fallback = encoding or "cp1252"
        try:
            return raw.decode(fallback, errors="replace"), fallback
        except LookupError:
            raise InputError(
                f"unknown text encoding {fallback!r}",
                file=path,
                column="[read] encoding",
                values=[fallback],
                hint="use a Python codec name such as latin1, cp1252 or utf-8",
            ) from None


def _open_readstat(path: Path, fmt: str, column_map: ColumnMap) -> RawInput:
    import pyreadstat

    reader = {
        "sas7bdat": pyreadstat.read_sas7bdat,
        "xport": pyreadstat.read_xport,
        "stata": pyreadstat.read_dta,
    }[fmt]
    kwargs = {"encoding": column_map.encoding} if column_map.encoding else {}
    try:
        _, meta = reader(str(path), metadataonly=True, output_format="polars", **kwargs)
        names = list(meta.column_names)
        found, _ = column_map.resolve(names, file=path)
        _require(found, names, column_map, str(path), year_from_name(path))  # before reading any data
        usecols = list(dict.fromkeys(found.values()))
        chunks = [
            df
            for df, _ in pyreadstat.read_file_in_chunks(
                reader,
                str(path),
                chunksize=CHUNK_ROWS,
                usecols=usecols,
                output_format="polars",
                disable_datetime_conversion=True,
                **kwargs,
            )
        ]
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, UnicodeDecodeError) as exc:
        msg = str(exc)
        hint = "check that the file is complete and really in this format"
        if "encod" in msg.lower() or "convert" in msg.lower() or isinstance(exc, UnicodeDecodeError):
            hint = (
                "the text does not decode with the file's declared encoding; set the real one in a column "
                'map TOML: [read] encoding = "latin1" (or "cp1252"), and pass it with --column-map'
            )
        raise InputError(f"cannot read this {fmt} file: {msg}", file=path, hint=hint) from None
    if chunks:
        frame = pl.concat(chunks, how="vertical_relaxed")
    else:  # zero rows: keep the column types the file declares
        types = meta.readstat_variable_types
        frame = pl.DataFrame(
            schema={c: pl.String if types.get(c) == "string" else pl.Float64 for c in usecols}
        )
    return _finish(path, fmt, frame.lazy(), names, column_map)


__all__ = [
    "CANONICAL_COLUMNS",
    "CHUNK_ROWS",
    "FORMATS",
    "FORMAT_PREFERENCE",
    "RawInput",
    "ShortRows",
    "csv_record_problems",
    "discover",
    "open_frame",
    "open_input",
    "raise_short_rows",
    "short_records",
    "short_row_error",
]

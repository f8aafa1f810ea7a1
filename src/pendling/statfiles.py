"""Tables for Stata, SAS and R users: Stata ``.dta`` and SAS transport ``.xpt``, written by pyreadstat.

:func:`pendling.io.write_table` calls these for ``.dta`` and ``.xpt``, so every table pendling
exports (results, attrition, ``--data-out``, ``--attrition-out``) can be written in either. Writes are
atomic and byte-identical on rerun: readstat stamps the wall-clock time into both headers, and that
stamp is pinned to 1 January 2000.

What changes on the way (the file cannot hold it otherwise):

- **Names.** Stata: at most 32 characters of ``A-Z a-z 0-9 _``, not starting with a digit, not a
  reserved word. SAS transport version 5 (the default for ``.xpt``): at most 8 characters, upper
  case; pendling's own columns have fixed short names (:data:`XPT5_NAMES`, e.g. ``mean_rel_change``
  → ``MEANREL``; listed in the documentation), any other column is spelt legally and cut to 8
  (:func:`xpt_names`). Version 8 (``write_xpt(..., version=8)``) keeps names up to 32 characters.
  When a name changes by any other rule than that fixed table, its variable label starts with the
  original name, so the file itself documents the mapping.
- **Labels.** Variable labels come from ``labels`` (e.g. the method notes of a run,
  :func:`labels_from_notes`) over :data:`DEFAULT_LABELS`; cut at a word boundary to 80 bytes
  (Stata) or 40 bytes (SAS transport v5; 256 in v8).
- **Types.** Integers stay integers where the format has them (Stata ``long`` for Int8–Int32
  without missing values), other numbers are doubles; Int64 values beyond ±2^53 cannot be held
  exactly and raise InputError. Boolean → 0/1 (Stata value label no/yes; in SAS the label says
  ``1 = yes``). Enum/Categorical → Stata: codes 1..k with the categories as value labels; SAS: text.
  Missing numbers, NaN and ±inf → the format's missing value (``.``); missing text → "" (neither
  format has missing text). SAS v5 text is at most 200 bytes (longer → InputError; use v8 or .dta).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from pendling.errors import InputError
from pendling.io import atomic_path

STATA_NAME_MAX = 32
STATA_LABEL_MAX = 80
XPT_NAME_MAX = {5: 8, 8: 32}
XPT_LABEL_MAX = {5: 40, 8: 256}
XPT5_TEXT_MAX = 200
XPT_DEFAULT_VERSION = 5
EXACT_INT_MAX = 2**53  # largest integer a double holds exactly
FIXED_DTA_STAMP = b"01 Jan 2000 00:00"
FIXED_XPT_STAMP = b"01JAN00:00:00:00"

# Stata's reserved words (help reswords); a column of that name gets a trailing underscore.
STATA_RESERVED = frozenset(
    "_all _b byte _coef _cons double float if in int long _n _N _pi _pred _rc _skip strL using with".split()
)

# Fixed SAS v5 names for the columns pendling writes (results, attrition, panel export, flags).
XPT5_NAMES: dict[str, str] = {
    "year": "YEAR", "flow": "FLOW", "job_group": "JOBGROUP", "region": "REGION", "n": "N",
    "mean_rel_change": "MEANREL", "ratio_of_means": "RATIOMN", "ci_low": "CILOW", "ci_high": "CIHIGH",
    "suppressed": "SUPPRESS", "mean_minutes_before": "MINBEF", "mean_minutes_after": "MINAFT",
    "median_rel_change": "MEDREL", "mean_log_ratio": "MEANLOG", "geo_mean_rel_change": "GEOREL",
    "share_longer": "SHLONGER", "share_shorter": "SHSHORT", "sd_rel_change": "SDREL",
    "ratio_ci_low": "RCILOW", "ratio_ci_high": "RCIHIGH", "suppression": "SUPPTYPE",
    "stage": "STAGE", "bucket": "BUCKET", "description": "DESCRIPT", "flag": "FLAG",
    "pnr": "PNR", "home_muni": "KOM", "home_addr": "ADRESSID", "work_id": "LBNR", "work_muni": "ARBKOM",
    "disco": "DISCO", "region_code": "REGCODE", "mean_km": "MEANKM",
    "origin": "ORIGIN", "destination": "DEST", "minutes": "MINUTES", "km": "KM",
    "ferry_minutes": "FERRYMIN",
}

# Labels of pendling's own columns where a run's method notes say nothing, or say too much for
# SAS v5's 40 bytes (relative changes are fractions: 0.11 = 11 %).
DEFAULT_LABELS: dict[str, str] = {
    "year": "year t (November t-1 -> November t)",
    "flow": "movers or job_changers",
    "job_group": "job group from DISCO-08 at t-1",
    "region": "region of the home at t-1",
    "n": "persons (missing = suppressed)",
    "mean_rel_change": "mean relative change in commute time",
    "ratio_of_means": "mean T_t / mean T_(t-1) - 1",
    "ci_low": "95% CI of mean_rel_change, lower",
    "ci_high": "95% CI of mean_rel_change, upper",
    "suppressed": "suppressed cell",
    "suppression": "primary or complementary suppression",
    "mean_minutes_before": "mean commute time at t-1 (car minutes)",
    "mean_minutes_after": "mean commute time at t (car minutes)",
    "median_rel_change": "median relative change (n >= 50 only)",
    "mean_log_ratio": "mean of ln(T_t / T_(t-1))",
    "geo_mean_rel_change": "geometric mean relative change",
    "share_longer": "share with a longer commute",
    "share_shorter": "share with a shorter commute",
    "sd_rel_change": "standard deviation of relative change",
    "ratio_ci_low": "95% CI of ratio_of_means, lower",
    "ratio_ci_high": "95% CI of ratio_of_means, upper",
    "stage": "panel (rows) or flows (person-years)",
    "bucket": "attrition bucket",
    "description": "what the bucket means",
    "minutes": "car travel time (minutes)",
    "km": "road distance (km)",
}

_DANISH = str.maketrans({"æ": "ae", "Æ": "AE", "ø": "oe", "Ø": "OE", "å": "aa", "Å": "AA"})


def _ascii_word(name: str) -> str:
    """Letters, digits and '_' only: Danish letters spelt out, accents dropped, the rest → '_'."""
    text = unicodedata.normalize("NFKD", str(name).translate(_DANISH)).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def _unique(wanted: list[str], limit: int, fold: bool) -> list[str]:
    """Cut each name to ``limit``; a clash (case-insensitive if ``fold``) ends in 2, 3, … instead."""
    out: list[str] = []
    seen: set[str] = set()
    for name in wanted:
        cand = name[:limit]
        k = 2
        while (cand.upper() if fold else cand) in seen:
            tail = str(k)
            cand = name[: limit - len(tail)] + tail
            k += 1
        seen.add(cand.upper() if fold else cand)
        out.append(cand)
    return out


def stata_names(columns: list[str]) -> dict[str, str]:
    """Column → a legal, unique Stata name (≤ 32 characters); unchanged where already legal."""
    wanted = []
    for col in columns:
        name = _ascii_word(col) or "v"
        if name[0].isdigit():
            name = "v" + name
        if name in STATA_RESERVED or re.fullmatch(r"str(\d+|L)", name):
            name += "_"
        wanted.append(name)
    return dict(zip(columns, _unique(wanted, STATA_NAME_MAX, fold=False), strict=True))


def xpt_names(columns: list[str], version: int = XPT_DEFAULT_VERSION) -> dict[str, str]:
    """Column → a legal, unique SAS name: v5 ≤ 8 upper-case characters (:data:`XPT5_NAMES` for
    pendling's columns, else spelt legally, underscores dropped if that makes it fit, cut to 8),
    v8 ≤ 32 characters. SAS names ignore case, so clashes are checked case-insensitively."""
    limit = XPT_NAME_MAX[_check_version(version)]
    wanted = []
    for col in columns:
        if version == 5 and col in XPT5_NAMES:
            wanted.append(XPT5_NAMES[col])
            continue
        name = _ascii_word(col) or "V"
        if name[0].isdigit():
            name = "V" + name
        if version == 5:
            name = name.upper()
            if len(name) > limit:
                name = name.replace("_", "") or name
                name = "V" + name if name[0].isdigit() else name
        wanted.append(name)
    return dict(zip(columns, _unique(wanted, limit, fold=True), strict=True))


def labels_from_notes(notes: pl.DataFrame | Mapping[str, str]) -> dict[str, str]:
    """Variable labels from key/value method notes (e.g. ``MobilityResult.method``).

    A note whose key is a column labels it; a key naming several columns ('ci_low/ci_high') labels
    only those without a :data:`DEFAULT_LABELS` entry, whose own label is more specific.
    """
    if isinstance(notes, pl.DataFrame):
        notes = dict(zip(notes["key"].to_list(), notes["value"].to_list(), strict=True))
    out = {}
    for key, text in notes.items():
        cols = str(key).split("/")
        for col in cols:
            if len(cols) == 1 or col not in DEFAULT_LABELS:
                out[col] = str(text)
    return out


def _cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` UTF-8 bytes, cut at a word boundary (ending in '...') if too long."""
    if len(text.encode()) <= limit:
        return text
    words, out = text.split(), ""
    for word in words:
        nxt = f"{out} {word}".strip()
        if len((nxt + "...").encode()) > limit:
            break
        out = nxt
    if not out:  # one word longer than the limit: cut by bytes on a character boundary
        out = text.encode()[: limit - 3].decode("utf-8", "ignore")
    return out + "..."


def _labels(columns: list[str], names: dict[str, str], labels: Mapping[str, str] | None,
            limit: int, suffixes: Mapping[str, str] | None = None,
            documented: Mapping[str, str] | None = None) -> dict[str, str]:
    """Variable label per new name, at most ``limit`` bytes: the given label, else the default;
    when the given one does not fit but the default does, the default (SAS v5 has 40 bytes). The
    original name comes first when the name changed and is not in ``documented`` (the fixed SAS v5
    names), so the mapping can be read off the file; ``suffixes`` (column → text) are appended,
    e.g. what 1 and 0 mean."""
    out = {}
    for col in columns:
        prefix = f"{col}: " if names[col] != col and (documented or {}).get(col) != names[col] else ""
        tail = (suffixes or {}).get(col, "")
        texts = [t for t in ((labels or {}).get(col), DEFAULT_LABELS.get(col)) if t] or [""]
        fitting = [t for t in texts if len(f"{prefix}{t}{tail}".encode()) <= limit]
        text = f"{prefix}{(fitting or texts)[0]}{tail}".strip().removesuffix(":")
        if not texts[0] and not tail:
            text = col if prefix else ""
        if text:
            if len(text.encode()) > limit and tail:  # keep the meaning of the codes whole
                text = _cut(text[: -len(tail)], limit - len(tail.encode())) + tail
            out[names[col]] = _cut(text, limit)
    return out


def _check_version(version: int) -> int:
    if version not in XPT_NAME_MAX:
        raise InputError("SAS transport version must be 5 or 8", values=[version])
    return version


def _checked(df: pl.DataFrame, path: Path) -> None:
    nested = [c for c, t in df.schema.items() if isinstance(t, (pl.List, pl.Array, pl.Struct, pl.Object))]
    if nested:
        raise InputError("Stata and SAS files hold only flat columns", file=path, column=", ".join(nested),
                         hint="drop or flatten these columns, or write .parquet")
    # min and max rather than abs(): abs of Int64's smallest value overflows
    big = [c for c, t in df.schema.items() if t in (pl.Int64, pl.UInt64) and df[c].null_count() < df.height
           and max(-int(df[c].min()), int(df[c].max())) > EXACT_INT_MAX]
    if big:
        raise InputError("integers beyond 2^53 cannot be stored exactly in Stata or SAS (doubles)",
                         file=path, column=", ".join(big), hint="write .parquet or .csv for these values")


def _prepare(df: pl.DataFrame, *, stata: bool) -> tuple[pl.DataFrame, dict[str, dict[int, str]]]:
    """Flat columns the formats can hold, and Stata value labels by (original) column name."""
    value_labels: dict[str, dict[int, str]] = {}
    exprs = []
    for col, dtype in df.schema.items():
        c = pl.col(col)
        if dtype == pl.Boolean:
            exprs.append(c.cast(pl.Int8))
            if stata:
                value_labels[col] = {0: "no", 1: "yes"}
        elif isinstance(dtype, (pl.Enum, pl.Categorical)):
            cats = dtype.categories.to_list() if isinstance(dtype, pl.Enum) else sorted(
                df[col].drop_nulls().unique().cast(pl.Utf8).to_list())
            if stata:
                codes = {cat: i for i, cat in enumerate(cats, start=1)}
                exprs.append(c.cast(pl.Utf8).replace_strict(codes, default=None, return_dtype=pl.Int32))
                value_labels[col] = {i: cat for cat, i in codes.items()}
            else:
                exprs.append(c.cast(pl.Utf8).fill_null(""))
        elif dtype == pl.String:
            exprs.append(c.fill_null(""))
        elif dtype.is_float():
            exprs.append(pl.when(c.is_finite()).then(c.cast(pl.Float64)))
        elif dtype.is_integer() and dtype in (pl.Int64, pl.UInt32, pl.UInt64):
            exprs.append(c.cast(pl.Float64))  # doubles: exact below 2^53 (checked before)
        elif dtype.is_integer():
            exprs.append(c.cast(pl.Int32) if df[col].null_count() == 0 else c.cast(pl.Float64))
        else:
            exprs.append(c)
    return df.select(exprs), value_labels


def _text_columns_longer_than(df: pl.DataFrame, limit: int) -> list[str]:
    return [c for c, t in df.schema.items() if t == pl.String and df.height
            and (df[c].str.len_bytes().max() or 0) > limit]


def write_dta(df: pl.DataFrame, path: str | Path, *, labels: Mapping[str, str] | None = None,
              file_label: str | None = None) -> Path:
    """Write ``df`` as a Stata file (format 118/119, UTF-8), atomically and byte-identically on rerun.

    Names by :func:`stata_names`, variable labels from ``labels`` over :data:`DEFAULT_LABELS`
    (≤ 80 bytes), value labels for Boolean (no/yes) and Enum/Categorical columns.
    """
    import pyreadstat

    path = Path(path)
    _checked(df, path)
    flat, value_labels = _prepare(df, stata=True)
    names = stata_names(df.columns)
    pdf = flat.rename(names)  # pyreadstat ≥ 1.3 writes Polars frames (no pandas needed)
    with atomic_path(path, ".dta") as tmp:
        pyreadstat.write_dta(
            pdf, tmp, file_label=_cut(file_label or f"pendling {path.stem}", STATA_LABEL_MAX),
            column_labels=_labels(df.columns, names, labels, STATA_LABEL_MAX),
            variable_value_labels={names[c]: v for c, v in value_labels.items()},
        )
        pin_dta_timestamp(tmp)
    return path


def write_xpt(df: pl.DataFrame, path: str | Path, *, labels: Mapping[str, str] | None = None,
              version: int = XPT_DEFAULT_VERSION, file_label: str | None = None) -> Path:
    """Write ``df`` as a SAS transport file, version 5 (default: ``libname x xport 'file.xpt';`` in
    SAS, ``haven::read_xpt`` in R, ``import sasxport5`` in Stata) or 8 (long names; ``%xpt2loc`` in
    SAS), atomically and byte-identically on rerun. Names by :func:`xpt_names`; the dataset (member)
    is named after the file (≤ 8 characters in v5).
    """
    import pyreadstat

    path = Path(path)
    version = _check_version(version)
    _checked(df, path)
    if version == 5 and (long := _text_columns_longer_than(df, XPT5_TEXT_MAX)):
        raise InputError(f"SAS transport version 5 holds text of at most {XPT5_TEXT_MAX} bytes", file=path,
                         column=", ".join(long), hint="write .dta or .parquet, or shorten the text")
    flat, _ = _prepare(df, stata=False)
    names = xpt_names(df.columns, version)
    # SAS transport files have no value labels: what 1 and 0 mean goes into the label
    codes = {c: " (1 = yes, 0 = no)" for c, t in df.schema.items() if t == pl.Boolean}
    col_labels = _labels(df.columns, names, labels, XPT_LABEL_MAX[version], codes,
                         XPT5_NAMES if version == 5 else None)
    member = xpt_names([path.stem], version)[path.stem]
    pdf = flat.rename(names)  # pyreadstat ≥ 1.3 writes Polars frames (no pandas needed)
    with atomic_path(path, ".xpt") as tmp:
        pyreadstat.write_xport(
            pdf, tmp, table_name=member, file_format_version=version,
            file_label=_cut(file_label or f"pendling {path.stem}", XPT_LABEL_MAX[5]),
            column_labels=col_labels,
        )
        pin_xpt_timestamps(tmp)
    return path


def pin_dta_timestamp(path: Path) -> None:
    """Replace the save time readstat writes into a .dta header by :data:`FIXED_DTA_STAMP`."""
    data = bytearray(path.read_bytes())
    start = data.find(b"<timestamp>")
    end = data.find(b"</timestamp>", start)
    if start < 0 or end < 0:
        return
    # format 118/119: one length byte, then 'dd Mon yyyy hh:mm' (17 bytes)
    body = start + len(b"<timestamp>") + 1
    if end - body == len(FIXED_DTA_STAMP):
        data[body:end] = FIXED_DTA_STAMP
        path.write_bytes(bytes(data))


def pin_xpt_timestamps(path: Path) -> None:
    """Replace the created/modified times in a .xpt's header records by :data:`FIXED_XPT_STAMP`."""
    data = path.read_bytes()
    head_end = data.find(b"HEADER RECORD*******OBSV8")
    if head_end < 0:
        head_end = data.find(b"HEADER RECORD*******OBS")
    if head_end < 0:
        return
    head = re.sub(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d", FIXED_XPT_STAMP, data[:head_end])
    path.write_bytes(head + data[head_end:])


__all__ = [
    "DEFAULT_LABELS", "XPT5_NAMES", "labels_from_notes", "stata_names", "write_dta", "write_xpt", "xpt_names",
    "pin_dta_timestamp", "pin_xpt_timestamps",
]

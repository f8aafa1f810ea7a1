"""Turn opened extracts into canonical, validated rows and put every input row in one bucket.

Two steps, both vectorised Polars expressions:

1. :func:`parse_input` converts source types to canonical ones, the same way for every format:
   whole numbers may arrive as integers, floats (SAS, Stata) or text ('0101', '101.0'); DISCO
   arrives as text or, when a delivery stored it as a number, is turned back into text with the lost
   leading zero restored (3 → 4 and 5 → 6 digits). Values that are not whole numbers (or are negative
   ids: PNR, ADRESSE_ID, LBNR) are a hard error naming file, column and values (``strict=True``) or
   become missing and are counted.
2. :func:`assign_buckets` gives each row its attrition bucket (see :mod:`pendling.panel.buckets` for
   the order) using the 98 municipality codes and aliases from :mod:`pendling.geo`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

import polars as pl

from pendling.errors import InputError
from pendling.panel.buckets import BUCKET_ENUM, KEPT_BUCKETS, PANEL_FLAGS
from pendling.panel.columns import CANONICAL_SCHEMA, ZONE_FIELDS
from pendling.panel.jobgroups import job_group_expr
from pendling.panel.keys import KeyDictionary, key_text, show_key
from pendling.panel.readers import RawInput

OnDuplicate = Literal["error", "drop", "first"]
YEAR_MIN, YEAR_MAX = 1900, 2100
_MAX_EXACT_FLOAT = 2**53  # larger floats cannot hold every whole number exactly
_INT_FIELDS = ("pnr", "year", "home_muni", "home_addr", "work_id", "work_muni")
_ID_FIELDS = ("pnr", "home_addr", "work_id")  # PNR, ADRESSE_ID, LBNR: whole numbers >= 0
_BITS = {name: 1 << i for i, name in enumerate((*_INT_FIELDS, "disco"))}


@dataclass
class ParsedInput:
    """A lazily parsed input. ``staged`` still holds the cleaned source values (``_src_<field>``)
    so that bad values can be shown verbatim; ``lazy`` is the final canonical-typed frame."""

    raw: RawInput
    lazy: pl.LazyFrame
    staged: pl.LazyFrame


# ---------------------------------------------------------------------------------------------
# 1. types
# ---------------------------------------------------------------------------------------------


def _is_text(dtype: pl.DataType) -> bool:
    return dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)


def _clean_text(e: pl.Expr) -> pl.Expr:
    s = e.cast(pl.String).str.strip_chars()
    # '' and '.' are how CSV exports of SAS/Stata write a missing value
    return pl.when(s.is_in(["", "."])).then(None).otherwise(s)


def _src(name: str) -> str:
    return f"_src_{name}"


def _int_value(name: str, dtype: pl.DataType, raw: RawInput) -> tuple[pl.Expr, pl.Expr]:
    """(value as Int64, source-value-present flag), both reading the staged ``_src_<name>`` column.

    A value is bad when the source holds something (present) but no whole number came out.
    """
    c = pl.col(_src(name))
    if dtype == pl.Null:
        return pl.lit(None, pl.Int64), pl.lit(False)
    if dtype.is_integer():
        return c.cast(pl.Int64, strict=False), c.is_not_null()  # UInt64 beyond Int64 → bad
    if dtype.is_float():
        ok = c.is_finite() & (c == c.floor()) & (c.abs() < _MAX_EXACT_FLOAT)
        # strict=False: then() is evaluated on every row, and 1e30 must not fail the whole cast
        return pl.when(ok).then(c.cast(pl.Int64, strict=False)), c.is_not_null() & ~c.is_nan()
    if _is_text(dtype):
        as_float = c.cast(pl.Float64, strict=False)
        float_ok = as_float.is_finite() & (as_float == as_float.floor()) & (as_float.abs() < _MAX_EXACT_FLOAT)
        value = pl.coalesce(c.cast(pl.Int64, strict=False), pl.when(float_ok).then(as_float.cast(pl.Int64, strict=False)))
        return value, c.is_not_null()
    raise InputError(
        f"column has type {dtype}, but {name} must be a whole number",
        file=raw.label,
        column=raw.columns[name],
        hint="check the column map: is this the right column? Dates and booleans cannot be codes",
    )


def _is_key_text(name: str, dtype: pl.DataType) -> bool:
    """Key columns read through the text rules of :mod:`pendling.panel.keys`: text, and numbers that
    may not fit Int64 (UInt64 hashes, decimals) taken as their decimal digits."""
    return name in _ID_FIELDS and (_is_text(dtype) or dtype == pl.UInt64 or isinstance(dtype, pl.Decimal))


def _parse_disco(dtype: pl.DataType, raw: RawInput) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(code as text, is-bad flag, came-as-number flag) for the DISCO column."""
    c = pl.col("disco")
    if dtype == pl.Null:
        return pl.lit(None, pl.String), pl.lit(False), pl.lit(False)
    if _is_text(dtype):
        # '251200.0' is a number that went through a float on its way into a text file
        s = _clean_text(c).str.replace(r"^(\d+)\.0+$", "${1}")
        return s, pl.lit(False), pl.lit(False)
    if dtype.is_integer() or dtype.is_float():
        if dtype.is_float():
            v = pl.when(c.is_nan()).then(None).otherwise(c)
            ok = v.is_finite() & (v == v.floor()) & (v >= 0) & (v < _MAX_EXACT_FLOAT)
            digits = pl.when(ok).then(v.cast(pl.Int64, strict=False)).cast(pl.String)
            bad = v.is_not_null() & ~ok
        else:
            digits = c.cast(pl.String)
            bad = pl.lit(False)
        n = digits.str.len_chars()
        # DISCO-08 codes have 4 or 6 digits; a number with 3 or 5 lost a leading zero (0110 → 110)
        text = pl.when(n == 3).then(digits.str.zfill(4)).when(n == 5).then(digits.str.zfill(6)).otherwise(digits)
        return text, bad, c.is_not_null()
    raise InputError(
        f"DISCO column has type {dtype}; expected text (or numbers)",
        file=raw.label,
        column=raw.columns["disco"],
        hint="check the column map: is this the occupation column?",
    )


def parse_input(raw: RawInput, index: int, zone_resolution_m: int = 100) -> ParsedInput:
    """Canonical-typed lazy frame of one input: Int64 codes, text DISCO, ``_file``, ``_bad`` bits.

    Grid cells: an id column (``home_zone``/``work_zone``) stays trimmed text here (the caller codes
    its distinct values, :func:`pendling.panel.zonecheck.encode_cells`); a side with coordinates
    instead (``home_x``/``home_y``, EPSG:25832 m) gets the Int64 code of the ``zone_resolution_m``
    cell holding the point (:func:`pendling.zones.xy_codes`), so the coordinates are never held.

    Done in stages so each source value is cleaned and converted once: (1) copy the source values to
    ``_src_<field>`` (text trimmed, '' and '.' → missing), (2) convert, (3) flag values that were
    present but did not convert.
    """
    schema = raw.schema
    present_fields = [f for f in _INT_FIELDS if f in schema]
    stage1 = [
        (_clean_text(pl.col(f)) if _is_text(schema[f]) or _is_key_text(f, schema[f]) else pl.col(f)).alias(_src(f))
        for f in present_fields
    ] + [pl.col("disco").alias(_src("disco"))]
    values: list[pl.Expr] = []
    present: dict[str, pl.Expr] = {}
    for name in _INT_FIELDS:
        if name in schema and _is_key_text(name, schema[name]):
            # text keys stay text here; load_panel turns them into codes (pendling.panel.keys)
            key, _ = key_text(pl.col(_src(name)), name)
            values.append(key.alias(name))
            present[name] = pl.col(_src(name)).is_not_null()
            continue
        if name in schema:
            value, present[name] = _int_value(name, schema[name], raw)
        elif name == "year":
            value = pl.lit(raw.name_year, pl.Int64)
        else:  # optional home_addr absent
            value = pl.lit(None, pl.Int64)
        if name == "year":  # an implausible year is a bad value, like text in a number column
            value = pl.when(value.is_between(YEAR_MIN, YEAR_MAX)).then(value)
        elif name in _ID_FIELDS:  # ids are never negative; a negative one is a missing-value code or junk
            value = pl.when(value >= 0).then(value)
        values.append(value.alias(name))
    disco, disco_bad, disco_numeric = _parse_disco(schema["disco"], raw)
    zone_fields = [f for f in ZONE_FIELDS if f in schema]  # optional grid cells: trimmed text
    values += [_clean_text(pl.col(f)).alias(f) for f in zone_fields]
    for side in ("home", "work"):  # a side without an id column but with a point: the point's cell
        if f"{side}_zone" not in schema and f"{side}_x" in schema and f"{side}_y" in schema:
            from pendling.zones import xy_codes

            x, y = (_coordinate(pl.col(f"{side}_{a}"), schema[f"{side}_{a}"]) for a in ("x", "y"))
            values.append(xy_codes(x, y, zone_resolution_m).alias(f"{side}_zone"))
            zone_fields.append(f"{side}_zone")
    values += [
        disco.alias("disco"),
        disco_numeric.fill_null(False).alias("_disco_numeric"),
        disco_bad.alias("_disco_bad"),
    ]
    short = "_short_row" in schema  # CSV rows with too few fields (lenient reading: excluded_short_row)
    if short:
        # their values may belong to other columns (a record split by a line break): none is used,
        # none counts as unreadable or as a duplicate; the row keeps only its year, if readable
        is_short = pl.col("_short_row")

        def masked(v: pl.Expr) -> pl.Expr:
            name = v.meta.output_name()
            if name == "year":
                return v
            if name in ("_disco_numeric", "_disco_bad"):
                return (v & ~is_short).alias(name)
            return pl.when(is_short).then(None).otherwise(v).alias(name)

        values = [masked(v) for v in values]
        present = {f: p & ~is_short for f, p in present.items()}
    bad_bits = [
        (present[f] & pl.col(f).is_null()).fill_null(False).cast(pl.UInt8) * _BITS[f] for f in present
    ] + [pl.col("_disco_bad").fill_null(False).cast(pl.UInt8) * _BITS["disco"]]
    staged = (
        raw.lazy.with_columns(stage1)
        .with_columns(values)
        .with_columns(pl.sum_horizontal(bad_bits).cast(pl.UInt8).alias("_bad"), pl.lit(index, pl.UInt32).alias("_file"))
    )
    lazy = staged.select(*_INT_FIELDS, "disco", *zone_fields, "_file", "_bad", "_disco_numeric",
                         *(["_short_row"] if short else []))
    return ParsedInput(raw, lazy, staged)


def _coordinate(e: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A coordinate as Float64 metres: numbers as they are, text parsed ('' and '.' missing, anything
    not a number missing too: such a point has no cell and its row goes to excluded_zone_malformed)."""
    if _is_text(dtype):
        return _clean_text(e).cast(pl.Float64, strict=False)
    if dtype.is_numeric():
        return e.cast(pl.Float64)
    return pl.lit(None, dtype=pl.Float64)  # booleans, dates ...: not coordinates


def raise_bad_values(parsed: list[ParsedInput], frame: pl.DataFrame) -> None:
    """Raise InputError for the first input with unparseable values (file, column and values)."""
    bad_rows = frame.select("_file", "_bad").filter(pl.col("_bad") != 0).unique().sort("_file")
    if bad_rows.height == 0:
        return
    file_idx = int(bad_rows["_file"][0])
    bits = 0
    for b in bad_rows.filter(pl.col("_file") == file_idx)["_bad"].to_list():
        bits |= b
    p = parsed[file_idx]
    name = next(k for k, bit in _BITS.items() if bits & bit)
    source_col = p.raw.columns.get(name, name)
    n = int(frame.filter((pl.col("_file") == file_idx) & ((pl.col("_bad") & _BITS[name]) != 0)).height)
    shown = _src(name)
    examples = (
        p.staged.filter((pl.col("_bad") & _BITS[name]) != 0)
        .select(pl.col(shown).cast(pl.String))
        .unique()
        .head(10)
        .collect()
    )[shown].sort().to_list()
    what = (
        f"years between {YEAR_MIN} and {YEAR_MAX}"
        if name == "year"
        else (
            "whole numbers of at least 0 nor text ids (negative, fractional or non-finite numbers)"
            if name in _ID_FIELDS
            else "whole numbers"
        )
    )
    raise InputError(
        f"{n:,} value(s) in column {source_col} are not {what}",
        file=p.raw.label,
        column=source_col,
        values=examples,
        hint=(
            "check the column map (is this the right column?) and the file; or read leniently "
            "(--lenient on the command line, strict=False in Python) to treat these values as missing "
            "and count them"
        ),
    )


# ---------------------------------------------------------------------------------------------
# 2. buckets
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeRules:
    """Municipality codes: the 98, aliases (411 → 400) and codes meaning abroad/unknown."""

    valid: frozenset[int]
    alias: dict[int, int]
    away: frozenset[int]

    @classmethod
    def from_geo(cls) -> CodeRules:
        from pendling import geo

        aliases = geo.code_aliases()
        alias_rows = aliases.filter(pl.col("status") == "alias")
        return cls(
            valid=frozenset(geo.municipalities()["code"].to_list()),
            alias=dict(zip(alias_rows["code"].to_list(), alias_rows["target"].to_list(), strict=True)),
            away=frozenset(aliases.filter(pl.col("status") != "alias")["code"].to_list()),
        )


def _bucket(name: str) -> pl.Expr:
    # an Enum literal, so the bucket column is built as Enum codes, never as a text column of every row
    return pl.lit(name, dtype=BUCKET_ENUM)


def assign_buckets(
    frame: pl.DataFrame,
    *,
    rules: CodeRules,
    mapping: pl.DataFrame,
    years: Collection[int] | None,
    on_duplicate: OnDuplicate,
) -> pl.DataFrame:
    """Add ``bucket`` (Enum, order of :data:`PANEL_BUCKETS`) and helper flags to parsed rows.

    ``frame`` must be sorted by (pnr, year) with file order kept within equal keys, as
    :func:`sort_person_year` leaves it: repeated person-years are then neighbours, which makes the
    duplicate test two vectorised comparisons, and the kept rows come out in the panel's order.
    """
    year_ok = pl.col("year").is_in(sorted(years)) if years is not None else pl.lit(True)
    eligible = pl.col("pnr").is_not_null() & pl.col("year").is_not_null() & year_ok

    def same_key(offset: int) -> pl.Expr:
        same = (pl.col("pnr") == pl.col("pnr").shift(offset)) & (pl.col("year") == pl.col("year").shift(offset))
        return same.fill_null(False)

    if on_duplicate == "first":
        duplicate = eligible & same_key(1)
    else:
        duplicate = eligible & (same_key(1) | same_key(-1))

    valid = sorted(rules.valid)
    aliases = sorted(rules.alias)
    away = sorted(rules.away)

    def code_state(col: str) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
        c = pl.col(col)
        is_away = c.is_null() | c.is_in(away)
        is_ok = c.is_in(valid) | c.is_in(aliases)
        return is_away, is_ok, c.is_in(aliases)

    home_away, home_ok, home_alias = code_state("home_muni")
    work_away, work_ok, work_alias = code_state("work_muni")
    # a few hundred distinct codes: classify those, not every row
    codes = frame.select(pl.col("disco").unique()).with_columns(job_group_expr(pl.col("disco"), mapping).alias("g"))
    unclassified_codes = codes.filter(pl.col("g") == "unclassified")["disco"].drop_nulls().to_list()
    unclassified = pl.col("disco").is_null() | pl.col("disco").is_in(unclassified_codes)

    # CSV rows with too few fields (only with lenient reading; see readers.short_records): first
    short = pl.col("_short_row").fill_null(False) if "_short_row" in frame.columns else pl.lit(False)
    frame = frame.with_columns(
        duplicate.alias("_duplicate"),
        home_alias.alias("_home_alias"),
        work_alias.alias("_work_alias"),
        unclassified.alias("_unclassified"),
    )
    bucket = (
        pl.when(short)
        .then(_bucket("excluded_short_row"))
        .when(pl.col("pnr").is_null())
        .then(_bucket("excluded_null_pnr"))
        .when(pl.col("year").is_null())
        .then(_bucket("excluded_year_missing"))
        .when(~year_ok)
        .then(_bucket("excluded_year_out_of_range"))
        .when(pl.col("_duplicate"))
        .then(_bucket("excluded_duplicate"))
        .when(home_away)
        .then(_bucket("excluded_home_abroad_or_unknown"))
        .when(~home_ok)
        .then(_bucket("excluded_home_invalid_code"))
        .when(work_away)
        .then(_bucket("excluded_work_abroad_or_unknown"))
        .when(~work_ok)
        .then(_bucket("excluded_work_invalid_code"))
        .when(pl.col("_home_alias") | pl.col("_work_alias"))
        .then(_bucket("kept_code_alias"))
        .when(pl.col("work_id") == 0)
        .then(_bucket("kept_lbnr0"))
        .when(pl.col("work_id").is_null())
        .then(_bucket("kept_lbnr_missing"))
        .when(pl.col("_unclassified"))
        .then(_bucket("kept_disco_unclassified"))
        .otherwise(_bucket("kept"))
    )
    return frame.with_columns(bucket.alias("bucket"))


def sort_person_year(frame: pl.DataFrame) -> None:
    """Sort ``frame`` in place by (pnr, year), file order kept within equal keys; rows with a missing
    pnr or year (excluded later) go last, in file order.

    Polars sorts one Int64 key several times faster than two, so when PNRs are small enough (DST's
    pseudonymised PNRs have 10 digits) sort on ``pnr * 256 + (year - 1900)``, which orders exactly
    like (pnr, year) because 0 ≤ year - 1900 ≤ 200 < 256.

    In place, column by column, because the working table is the largest thing load_panel holds: the
    peak is the table plus one column, where ``DataFrame.sort`` (and a caller still holding the
    unsorted frame) needs two whole copies, +3.7 GiB on 27 M rows.
    """
    if frame.height == 0:
        return
    lo, hi, years = frame.select(pl.col("pnr").min().alias("lo"), pl.col("pnr").max().alias("hi"),
                                 pl.col("year").drop_nulls().n_unique().alias("years")).row(0)
    if years <= 1:
        # one year (the per-year store; hash-coded PNRs are too large for the one-key trick): the same
        # order is that of pnr alone, rows without pnr or year last in file order
        keys: list[pl.Expr] = [pl.when(pl.col("year").is_not_null()).then(pl.col("pnr"))]
    elif lo is None or max(abs(lo), abs(hi)) < 2**54:
        keys = [pl.col("pnr") * 256 + (pl.col("year") - YEAR_MIN)]
    else:
        # the same order as the one key: a row with a missing pnr or year goes after all others
        missing = pl.col("pnr").is_null() | pl.col("year").is_null()
        keys = [missing, pl.when(~missing).then(pl.col("pnr")), pl.when(~missing).then(pl.col("year"))]
    order = frame.select(
        pl.int_range(pl.len(), dtype=pl.get_index_type()).sort_by(keys, maintain_order=True, nulls_last=True)
    ).to_series()
    for i, name in enumerate(frame.columns):
        frame.replace_column(i, frame[name].gather(order))


def duplicate_error(
    frame: pl.DataFrame, parsed: list[ParsedInput], keys: dict[str, KeyDictionary] | None = None
) -> InputError | None:
    """InputError naming the files, PNR column and duplicate (PNR, year) pairs (PNR as written in the
    file, ``keys`` decoding coded text keys), or None if none."""
    dup = frame.filter(pl.col("_duplicate"))
    if dup.height == 0:
        return None
    pairs = dup.select("pnr", "year").unique().sort("pnr", "year")
    files = sorted({parsed[i].raw.label for i in dup["_file"].unique().to_list()})
    pnr_cols = sorted({parsed[i].raw.columns["pnr"] for i in dup["_file"].unique().to_list()})
    shown = [f"{show_key(p, 'pnr', keys or {})} ({y})" for p, y in pairs.head(10).iter_rows()]
    return InputError(
        f"{pairs.height:,} person-years (PNR, year) occur more than once ({dup.height:,} rows)",
        file=", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else ""),
        column=", ".join(pnr_cols),
        values=shown,
        hint=(
            "keep one row per person and year (e.g. the primary November job, IDAN TYPE='H') before "
            "loading, or pass on_duplicate='drop' (--on-duplicate drop) to leave those person-years out, "
            "counted, or 'first' to keep the first row of each"
        ),
    )


def canonical_rows(frame: pl.DataFrame, rules: CodeRules) -> pl.DataFrame:
    """Kept rows in canonical names and types, aliases applied; ``frame`` is sorted by (pnr, year)
    (:func:`sort_person_year`), and filtering keeps that order."""
    alias = rules.alias
    # lazily, so the filter copies only the canonical columns, not the whole working table
    out = frame.lazy().filter(pl.col("bucket").is_in(KEPT_BUCKETS)).select(
        pl.col("pnr"),
        pl.col("year"),
        pl.col("home_muni").replace(alias) if alias else pl.col("home_muni"),
        pl.col("home_addr"),
        pl.col("work_id").fill_null(0),
        pl.col("work_muni").replace(alias) if alias else pl.col("work_muni"),
        pl.col("disco"),
    )
    return out.cast(CANONICAL_SCHEMA).collect()


def flag_counts(frame: pl.DataFrame) -> pl.DataFrame:
    """Per year, how many kept rows carry each note (notes overlap; no sum rule): year, flag, n."""
    kept = pl.col("bucket").is_in(KEPT_BUCKETS)
    exprs = {
        "home_alias": kept & pl.col("_home_alias"),
        "work_alias": kept & pl.col("_work_alias"),
        "lbnr0": kept & (pl.col("work_id") == 0),
        "lbnr_missing": kept & pl.col("work_id").is_null(),
        "disco_unclassified": kept & pl.col("_unclassified"),
        "disco_numeric": kept & pl.col("_disco_numeric"),
        "home_addr_missing": kept & pl.col("home_addr").is_null(),
        "unparseable_values": pl.col("_bad") != 0,
    }
    assert set(exprs) == set(PANEL_FLAGS)
    # lazily, so only the columns the flags need are read, never a filtered copy of the whole table
    wide = (
        frame.lazy()
        .filter(pl.col("year").is_not_null())
        .group_by("year")
        .agg([e.fill_null(False).sum().cast(pl.Int64).alias(k) for k, e in exprs.items()])
        .collect()
    )
    return wide.unpivot(index="year", variable_name="flag", value_name="n")


def year_gap_warnings(kept_years: Collection[int], requested: Collection[int] | None) -> list[str]:
    """Warnings for years missing between the first and last year with rows (and asked-for years)."""
    warnings: list[str] = []
    present = sorted(set(kept_years))
    if present:
        gaps = sorted(set(range(present[0], present[-1] + 1)) - set(present))
        if gaps:
            warnings.append(
                f"gap in years: no rows for {', '.join(map(str, gaps))} between {present[0]} and "
                f"{present[-1]}; changes across a gap cannot be measured year to year"
            )
    if requested is not None:
        absent = sorted(set(requested) - set(present))
        if absent:
            warnings.append(f"years asked for but without rows: {', '.join(map(str, absent))}")
    return warnings


def bad_value_counts(frame: pl.DataFrame) -> dict[str, int]:
    """Rows per canonical field whose source value was present but unreadable (read as missing when
    not strict), e.g. ``{'home_addr': 1200}``; fields without such rows are left out."""
    counts = frame.select(
        [((pl.col("_bad") & bit) != 0).sum().cast(pl.Int64).alias(name) for name, bit in _BITS.items()]
    ).row(0, named=True)
    return {k: int(v) for k, v in counts.items() if v}

"""Register keys of any type: PNR, LBNR and ADRESSE_ID as integers or as text, encoded once per load.

A key is compared as *text*: an integer key is its decimal digits (``123`` → ``'123'``), a text key
is kept exactly as written — leading zeros and case included (``'0123'`` and ``'123'`` are two
different persons, as are ``'x12'`` and ``'X12'``) — after these readings, the same in every format:

- surrounding blanks are removed (SAS pads text with blanks; CSV exports pad fixed-width fields);
- ``''`` and ``'.'`` (how SAS and Stata write a missing value into a text file) are **missing**;
- digits followed by a decimal part of zeros (``'101.0'``, as pandas writes an integer column that
  has gaps) are the digits (``'101'``);
- a value that reads as any other number — negative (``'-1'``), fractional (``'101.5'``), with an
  exponent (``'1e5'``) or not finite (``'nan'``, ``'inf'``) — is not a key: an error naming the
  values (``strict=True``) or missing and counted (``strict=False``), like a negative integer;
- for LBNR, a value of zeros only (``'0'``, ``'00000000'``, ``'0.0'``) is **0, the fictive
  workplace**; :func:`decode_keys` writes it back as ``'0'``.

Mobility works on integers, so the loader encodes keys into compact Int64 codes with one
:class:`KeyDictionary` per field, shared by every year of the panel: when every input of a field
holds integers (or text that is exactly the decimal digits of one, e.g. a CSV of plain numbers), the
integers themselves are the codes and there is no dictionary; otherwise each distinct key text gets a
code 1, 2, 3 … (0 stays the fictive LBNR). PNR codes are then renumbered in the sorted order of
the key texts, so the panel's row order (by PNR, year) is the order of the keys, whatever the file
order or format; ADRESSE_ID and LBNR codes follow first appearance (only their equality matters,
and exports decode them). Codes are only equal when keys are,
which is all the flows need; :func:`decode_keys` turns them back into the original values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

KEY_FIELDS: tuple[str, ...] = ("pnr", "home_addr", "work_id")  # PNR, ADRESSE_ID, LBNR
FICTIVE_WORKPLACE = 0
# text that is exactly an integer's decimal digits, small enough for Int64 (19 digits may overflow)
_CANONICAL_INT = r"^(0|[1-9][0-9]{0,17})$"


def key_text(clean: pl.Expr, name: str) -> tuple[pl.Expr, pl.Expr]:
    """(key text or null, is-bad flag) from a trimmed text column whose missing values are null.

    Bad = present but a number that cannot be an id (negative, fractional, exponent, NaN, inf).
    Plain string operations where a regex replace would do: Polars evaluates every branch of a
    when/then on every row, and a capturing replace costs more than the rest together.
    """
    plain = clean.str.contains(r"^[0-9]+$")
    zero_decimals = clean.str.contains(r"^[0-9]+\.0*$")
    # '101.0' → '101.' → '101' (the point stops the stripping, so '100.00' → '100')
    digits = pl.when(zero_decimals).then(clean.str.strip_chars_end("0").str.strip_suffix(".")).otherwise(clean)
    is_digits = plain | zero_decimals
    if name == "work_id":
        digits = pl.when(is_digits & (digits.str.strip_chars_start("0") == "")).then(pl.lit("0")).otherwise(digits)
    number_like = clean.cast(pl.Float64, strict=False).is_not_null()
    key = pl.when(is_digits).then(digits).when(number_like).then(None).otherwise(clean)
    bad = clean.is_not_null() & ~is_digits & number_like
    return key, bad


def is_integer_text(column: pl.Series) -> bool:
    """True when every non-missing value is exactly an integer's decimal digits (no leading zeros)."""
    present = column.drop_nulls()
    return bool(present.str.contains(_CANONICAL_INT).all()) if present.len() else True


@dataclass
class KeyDictionary:
    """Key text → Int64 code for one field, grown input by input (see the module docstring).

    Encoding is a Polars categorical cast with categories private to this dictionary (one hash
    lookup per value, no sort, no join); code = physical category + 1, so 0 stays free for the
    fictive LBNR. :meth:`sorted_codes` renumbers by sorted key once all inputs are in.
    """

    name: str
    categories: pl.Categories = field(default_factory=pl.Categories.random)
    _sorted: pl.Series | None = None  # key by code - 1 after sorted_codes(); else the categories' order
    # Polars frees a categories mapping that no Series uses any more: an empty categorical Series
    # keeps it (and the codes given so far) alive between inputs
    _anchor: pl.Series | None = None

    @property
    def keys(self) -> pl.Series:
        """Key texts; the one at position i has code i + 1."""
        return self._sorted if self._sorted is not None else self.categories.to_series().alias("key")

    @property
    def table(self) -> pl.DataFrame:
        """``code`` Int64, ``key`` String: one row per distinct key."""
        keys = self.keys
        return pl.DataFrame({"code": pl.int_range(1, keys.len() + 1, eager=True, dtype=pl.Int64), "key": keys})

    def encode(self, values: pl.Series) -> pl.Series:
        """Codes for key texts (null stays null; LBNR '0' → 0); new keys are added."""
        if self._sorted is not None:
            raise RuntimeError("the dictionary was renumbered; it takes no new keys")
        text = values.cast(pl.String).rechunk()  # one chunk: categories are added in row order
        fictive = text == "0" if self.name == "work_id" else None
        if fictive is not None:
            text = text.set(fictive.fill_null(False), None)  # type: ignore[arg-type]
        categorical = text.cast(pl.Categorical(self.categories))
        self._anchor = categorical.clear()
        codes = categorical.to_physical().cast(pl.Int64) + 1
        del categorical
        if fictive is not None:
            codes = codes.set(fictive.fill_null(False), FICTIVE_WORKPLACE)  # type: ignore[arg-type]
        return codes.alias(values.name)

    def sorted_codes(self) -> pl.Series:
        """Renumber the keys 1, 2, 3 … in their sorted order; returns new code by old code (index =
        old code, index 0 = 0), for ``new.gather(codes)``. Afterwards codes no longer depend on the
        order the inputs came in, and a panel sorted by code is sorted by the original key."""
        keys = self.keys
        order = keys.arg_sort()
        self._sorted = keys.gather(order)
        new_by_old = order.arg_sort().cast(pl.Int64) + 1  # old code c sits at position c - 1
        return pl.concat([pl.Series([0], dtype=pl.Int64), new_by_old])

    @classmethod
    def restored(cls, name: str, keys: pl.Series) -> KeyDictionary:
        """A dictionary whose key of code i + 1 is ``keys[i]`` (as read back from the panel cache); like a
        renumbered one it takes no new keys."""
        return cls(name, _sorted=keys.cast(pl.String).alias("key"))

    def decode(self, codes: pl.Series) -> pl.Series:
        """The original key texts of ``codes`` (LBNR 0 → '0'; null stays null)."""
        keys = pl.concat([pl.Series(["0" if self.name == "work_id" else None], dtype=pl.String),
                          self.keys.cast(pl.String)])
        index = codes.cast(pl.Int64)
        return keys.gather(index).alias(codes.name)


def decode_keys(frame: pl.DataFrame, dictionaries: dict[str, KeyDictionary]) -> pl.DataFrame:
    """``frame`` with the coded key columns it holds turned back into their original text values."""
    return frame.with_columns(
        [d.decode(frame[name]) for name, d in dictionaries.items() if name in frame.columns]
    )


def show_key(value: int | None, name: str, dictionaries: dict[str, KeyDictionary]) -> str:
    """One key as the user wrote it, for messages."""
    if value is None or name not in dictionaries:
        return str(value)
    return str(dictionaries[name].decode(pl.Series([value], dtype=pl.Int64))[0])


# ---------------------------------------------------------------------------------------------
# Hashed keys: the per-year store (pendling.panel.stream) codes each year on its own, so a code
# cannot come from a dictionary shared by all years. A text key becomes a fixed-seed 64-bit hash
# of its text, put in the negative half of Int64 (integer keys are never negative: the loader
# rejects negative ids), and text that is exactly an integer's digits becomes that integer, as in
# the dictionary coding: '123' and 123 are one key, '0123' another. Equal texts give equal codes in
# every year; a collision (two texts, one code) is checked for wherever codes are compared: within a
# year before duplicates are sought, and between t-1 and t before the flows pair them.

HASH_SEED = 0x70656E646C696E67
"""Fixed seed of the key hash (``pl.Series.hash``); the hash may change with the Polars version, which
is why the per-year store's cache key names it."""


def hash_codes(text: pl.Series) -> pl.Series:
    """Int64 codes of cleaned key texts (null stays null): canonical integer text → the integer,
    other text → a negative 63-bit hash of the text."""
    text = text.cast(pl.String)
    is_int = text.str.contains(_CANONICAL_INT).fill_null(False)
    h = text.hash(HASH_SEED)
    hashed = -((h // 2).cast(pl.Int64)) - 1  # [-2^63, -1]: never an integer key
    ints = text.cast(pl.Int64, strict=False)
    out = pl.select(pl.when(text.is_null()).then(None).when(pl.lit(is_int)).then(pl.lit(ints))
                    .otherwise(pl.lit(hashed))).to_series()
    return out.alias(text.name)


@dataclass
class HashedKeys:
    """code → key text of hashed text keys (``table``: ``code`` Int64 < 0, ``key`` String, one row per
    code); non-negative codes are integer keys and decode to their digits. Same interface as
    :class:`KeyDictionary` for :func:`decode_keys` and :func:`show_key`."""

    name: str
    table: pl.DataFrame

    def decode(self, codes: pl.Series) -> pl.Series:
        """The original key texts of ``codes`` (integers as their digits; null stays null)."""
        frame = pl.DataFrame({"code": codes.cast(pl.Int64)})
        found = frame.join(self.table, on="code", how="left", maintain_order="left")["key"]
        plain = codes.cast(pl.Int64).cast(pl.String)
        return pl.select(pl.when(pl.lit(codes).cast(pl.Int64) < 0).then(pl.lit(found)).otherwise(pl.lit(plain))
                         ).to_series().alias(codes.name)


def hash_collisions(tables: list[pl.DataFrame]) -> pl.DataFrame:
    """Rows (``code``, ``check``) of ``tables`` (each one year's distinct codes with a second hash of their
    text) where one code stands for two texts: empty when the hash separates every key of these years."""
    both = pl.concat([t.select("code", "check") for t in tables]).unique()
    return both.filter(pl.col("code").is_duplicated()).sort("code", "check")

"""The municipality-to-municipality travel-time matrix as data: load, validate, reshape.

This module is the contract between :mod:`pendling.routing` (which builds the matrix) and everything
that uses it (mobility, synth, report). Long form, one row per ordered pair:

``origin`` Int16, ``destination`` Int16 (3-digit municipality codes), ``minutes`` Float64 (car travel
time; the diagonal holds the within-municipality time), ``km`` Float64 (road km of the fastest route).
Extra columns are kept.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pendling import paths
from pendling.errors import DataMissingError, InputError

REQUIRED = ("origin", "destination", "minutes", "km")
SCHEMA = {"origin": pl.Int16, "destination": pl.Int16, "minutes": pl.Float64, "km": pl.Float64}


def default_matrix_path() -> Path:
    return paths.od_matrix_dir() / "od_matrix.parquet"


def load_matrix(path: str | Path | None = None, *, require_all: bool = True,
                zero_diagonal: bool = False) -> pl.DataFrame:
    """Read and validate a travel-time matrix (Parquet or CSV, long form); ``None`` → the shipped one.

    Returns the validated long frame sorted by (origin, destination); minutes in minutes, km in km.
    With ``require_all`` every one of the 98 municipalities must be present. ``zero_diagonal`` accepts
    0 minutes on the diagonal (``pendling matrix build --internal zero``; mobility counts persons
    with an earlier time of 0 in the attrition bucket ``zero_time_before``).
    """
    p = Path(path) if path is not None else default_matrix_path()
    if not p.is_file():
        hint = (
            "rebuild the shipped matrix with `pendling matrix build` (see README)"
            if path is None
            else "check the path given to --matrix"
        )
        raise DataMissingError(f"travel-time matrix not found: {p}. What to do: {hint}")
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise InputError(
            f"unsupported matrix file type {p.suffix!r}",
            file=p,
            hint="give a long-form matrix as .parquet or .csv (columns origin, destination, minutes, km)",
        )
    try:
        if suffix == ".csv":
            # all text: codes like '0101' keep their zeros; ';' as written by Danish-locale Excel
            df = pl.read_csv(p, infer_schema_length=0, separator=_separator(p))
        else:
            df = pl.read_parquet(p)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(
            f"cannot read the travel-time matrix: {type(exc).__name__}: {exc}",
            file=p,
            hint="check that the file is complete (not truncated or empty) and really a long-form "
            f"{suffix.lstrip('.')} matrix; rebuild it with `pendling matrix build` if in doubt",
        ) from None
    return validate_matrix(df, source=p, require_all=require_all, zero_diagonal=zero_diagonal)


def _separator(path: Path) -> str:
    """',' unless the header line holds more ';' or tabs (a matrix saved from Excel)."""
    with open(path, "rb") as fh:
        header = fh.readline().decode("utf-8", errors="replace")
    return max((",", ";", "\t"), key=header.count) if header.strip() else ","


def validate_matrix(
    df: pl.DataFrame, *, source: str | Path | None = None, require_all: bool = True, zero_diagonal: bool = False
) -> pl.DataFrame:
    """Check a long-form matrix and return it with canonical types, sorted by (origin, destination).

    Errors (each names the file, column and offending values): missing columns; codes that are not
    municipality codes (strings such as '0101' are accepted and normalised to 101); duplicate pairs;
    a non-square pair set; minutes that are null, NaN, infinite, zero or negative; km null/NaN/negative.
    """
    from pendling import geo

    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise InputError(
            "the travel-time matrix lacks required columns",
            file=source,
            column=", ".join(missing),
            values=df.columns,
            hint="a matrix needs origin, destination, minutes and km in long form (one row per pair)",
        )
    try:
        codes = [geo.normalize_code(df[c], name=c) for c in ("origin", "destination")]
    except InputError as exc:  # geo does not know the file: say which one
        raise InputError(
            str(exc).split("\n")[0], file=source, column=exc.column, values=exc.values, hint=exc.hint
        ) from None
    out = df.with_columns(*codes, _as_float(df, "minutes", source), _as_float(df, "km", source))
    for col in ("origin", "destination"):
        bad = df.filter(out[col].is_null())[col].unique().to_list()
        if bad:
            raise InputError(
                "matrix codes that are not among the 98 municipalities",
                file=source,
                column=col,
                values=sorted(map(str, bad)),
                hint="use 3-digit municipality codes (101 København … 860 Hjørring)",
            )
    # Christiansø (411) maps onto Bornholm; if both are present the pair set would double up
    dup = out.group_by("origin", "destination").len().filter(pl.col("len") > 1)
    if dup.height:
        pairs = dup.select(pl.format("{}→{}", "origin", "destination")).to_series().to_list()
        raise InputError(
            "duplicate origin/destination pairs in the matrix",
            file=source,
            column="origin, destination",
            values=pairs,
            hint="each ordered pair must appear once (411 Christiansø counts as 400 Bornholm)",
        )
    codes = sorted(set(out["origin"].to_list()) | set(out["destination"].to_list()))
    if out.height != len(codes) ** 2:
        have = set(zip(out["origin"].to_list(), out["destination"].to_list(), strict=True))
        absent = [f"{o}→{d}" for o in codes for d in codes if (o, d) not in have]
        raise InputError(
            f"the matrix is not square: {out.height} pairs for {len(codes)} municipalities "
            f"(expected {len(codes) ** 2})",
            file=source,
            column="origin, destination",
            values=absent,
            hint="every origin needs a row for every destination, the diagonal included",
        )
    if require_all:
        absent = sorted(geo.valid_codes() - set(codes))
        if absent:
            raise InputError(
                f"the matrix misses {len(absent)} of the 98 municipalities",
                file=source,
                column="origin",
                values=absent,
                hint="rebuild the matrix over all 98 municipalities (pendling matrix build)",
            )
    zero_ok = (pl.col("origin") == pl.col("destination")) & (pl.col("minutes") == 0) if zero_diagonal else pl.lit(False)
    bad_min = out.filter(
        ~pl.col("minutes").is_finite() | ((pl.col("minutes") <= 0) & ~zero_ok) | pl.col("minutes").is_null()
    )
    if bad_min.height:
        diag = bad_min.filter(pl.col("origin") == pl.col("destination")).height
        raise InputError(
            f"{bad_min.height} matrix cells have minutes that are missing, NaN, infinite, zero or negative"
            + (f" ({diag} on the diagonal)" if diag else ""),
            file=source,
            column="minutes",
            values=bad_min.select(_pair_value("minutes")).to_series().to_list(),
            hint="relative change needs positive times: build with --internal area for a non-zero "
            "within-municipality time, and make sure every pair is reachable (a zero diagonal is read by "
            "pendling compute, which counts those persons as zero_time_before)",
        )
    bad_km = out.filter(~pl.col("km").is_finite() | (pl.col("km") < 0) | pl.col("km").is_null())
    if bad_km.height:
        raise InputError(
            f"{bad_km.height} matrix cells have km that are missing, NaN, infinite or negative",
            file=source,
            column="km",
            values=bad_km.select(_pair_value("km")).to_series().to_list(),
        )
    return out.sort("origin", "destination")


def _pair_value(col: str) -> pl.Expr:
    """'101→147=12.5' for error messages; a missing value reads 'missing' (pl.format would give null)."""
    return pl.format("{}→{}={}", "origin", "destination", pl.col(col).cast(pl.String).fill_null("missing"))


def _as_float(df: pl.DataFrame, col: str, source: str | Path | None) -> pl.Series:
    s = df[col]
    if s.dtype == pl.String:
        conv = s.str.strip_chars().cast(pl.Float64, strict=False)
        bad = s.filter(conv.is_null() & s.is_not_null() & (s.str.strip_chars() != ""))
        if len(bad):
            raise InputError(
                f"matrix column {col} holds values that are not numbers",
                file=source,
                column=col,
                values=bad.unique().sort().to_list(),
                hint="write numbers with a decimal point (12.5), not a decimal comma; empty means missing",
            )
        return conv.alias(col)
    if not (s.dtype.is_numeric() or s.dtype == pl.Null):
        raise InputError(f"matrix column {col} must be numeric, found {s.dtype}", file=source, column=col)
    return s.cast(pl.Float64).alias(col)


def to_wide(df: pl.DataFrame, value: str = "minutes") -> pl.DataFrame:
    """Wide matrix for humans: one row per origin, one column per destination code, in code order."""
    wide = df.sort("origin", "destination").pivot(
        on="destination", index="origin", values=value, sort_columns=True
    )
    return wide.rename({c: str(c) for c in wide.columns})


def lookup(df: pl.DataFrame, origin: int, destination: int) -> dict[str, float]:
    """One pair as a dict (minutes, km, and any extra columns); InputError if the pair is absent."""
    row = df.filter((pl.col("origin") == origin) & (pl.col("destination") == destination))
    if row.height == 0:
        from pendling.geo import code_aliases

        aliases = code_aliases()
        notes = []
        for code in dict.fromkeys((origin, destination)):
            hit = aliases.filter(pl.col("code") == code)
            if hit.height and hit["status"][0] == "alias":
                notes.append(f"{code} is {hit['note'][0]}: the matrix has {hit['target'][0]}, use that")
            elif hit.height:
                notes.append(f"{code} means {hit['status'][0]} ({hit['note'][0]}), not a municipality")
        raise InputError(
            "no such pair in the matrix",
            column="origin, destination",
            values=[f"{origin}→{destination}"],
            hint="; ".join(notes) if notes else
            "use the codes of the 98 municipalities (`pendling geo list`), e.g. --from 101 --to 751",
        )
    return row.row(0, named=True)

"""DISCO-08 occupation codes → job group by longest matching prefix.

Job groups: ``digital`` (digital and knowledge-based work), ``office`` (traditional office work,
management included), ``physical_social`` (physical goods or client contact) and ``unclassified``
(missing, blank or unmatched codes). The mapping is an editable CSV,
``data/reference/disco08_jobgroups.csv`` (columns ``prefix, job_group, label, note``); users can pass
their own. Codes are text so leading zeros survive ('0110' armed forces); 4- and 6-digit codes work
alike and a code no prefix matches becomes ``unclassified`` rather than an error.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pendling import paths
from pendling.errors import InputError

JOB_GROUPS: tuple[str, ...] = ("digital", "office", "physical_social", "unclassified")
DEFAULT_MAPPING_FILE = "disco08_jobgroups.csv"
MAPPING_SCHEMA: dict[str, pl.DataType] = {
    "prefix": pl.String(),
    "job_group": pl.String(),
    "label": pl.String(),
    "note": pl.String(),
}


def default_mapping_path() -> Path:
    return paths.reference_dir() / DEFAULT_MAPPING_FILE


def load_mapping(path: str | Path | None = None) -> pl.DataFrame:
    """Read and validate a DISCO-prefix → job-group mapping CSV (default: the shipped one).

    Returns ``prefix`` (text, digits only), ``job_group``, ``label``, ``note``, sorted by prefix.
    Raises InputError for missing columns, non-digit or repeated prefixes and unknown job groups.
    """
    path = Path(path) if path is not None else default_mapping_path()
    if not path.is_file():
        raise InputError(
            "job-group mapping file not found",
            file=path,
            hint=f"copy {DEFAULT_MAPPING_FILE} from pendling's data/reference folder and edit it",
        )
    try:
        df = pl.read_csv(path, infer_schema=False, encoding="utf8")
    except Exception as exc:
        raise InputError(f"cannot read the job-group mapping as CSV: {exc}", file=path) from None
    missing = [c for c in ("prefix", "job_group") if c not in df.columns]
    if missing:
        raise InputError(
            "job-group mapping lacks required columns",
            file=path,
            column=", ".join(missing),
            values=df.columns,
            hint="the header must be: prefix,job_group,label,note (label and note may be empty)",
        )
    for optional in ("label", "note"):
        if optional not in df.columns:
            df = df.with_columns(pl.lit(None, pl.String).alias(optional))
    df = df.select(
        pl.col("prefix").str.strip_chars(),
        pl.col("job_group").str.strip_chars(),
        pl.col("label"),
        pl.col("note"),
    )
    bad_prefix = df.filter(~pl.col("prefix").fill_null("").str.contains(r"^\d{1,6}$"))["prefix"]
    if len(bad_prefix):
        raise InputError(
            "prefixes must be 1 to 6 digits (text; keep leading zeros such as 01)",
            file=path,
            column="prefix",
            values=bad_prefix.to_list(),
        )
    dup = df.filter(pl.col("prefix").is_duplicated())["prefix"].unique().sort()
    if len(dup):
        raise InputError("a prefix is listed more than once", file=path, column="prefix", values=dup.to_list())
    bad_group = df.filter(~pl.col("job_group").is_in(JOB_GROUPS))["job_group"].unique()
    if len(bad_group):
        raise InputError(
            "unknown job group",
            file=path,
            column="job_group",
            values=bad_group.to_list(),
            hint=f"use one of: {', '.join(JOB_GROUPS)}",
        )
    return df.sort("prefix").cast(MAPPING_SCHEMA)


def _as_mapping(mapping: pl.DataFrame | str | Path | None) -> pl.DataFrame:
    if isinstance(mapping, pl.DataFrame):
        return mapping
    return load_mapping(mapping)


def job_group_expr(disco: pl.Expr, mapping: pl.DataFrame | str | Path | None = None) -> pl.Expr:
    """Expression giving the job group (text) of a text DISCO column by longest listed prefix.

    One dictionary lookup per prefix length present in the mapping (at most 6), longest first, so
    the cost is a few vectorised passes however many codes there are.
    """
    table = _as_mapping(mapping)
    code = disco.str.strip_chars()
    by_length: dict[int, dict[str, str]] = {}
    for prefix, group in zip(table["prefix"].to_list(), table["job_group"].to_list(), strict=True):
        by_length.setdefault(len(prefix), {})[prefix] = group
    lookups = [
        code.str.slice(0, length).replace_strict(lookup, default=None, return_dtype=pl.String)
        for length, lookup in sorted(by_length.items(), reverse=True)
    ]
    # only codes made of digits take part; blanks, 'XX12', '-' fall through to unclassified
    matched = pl.coalesce(lookups) if lookups else pl.lit(None, pl.String)
    return (
        pl.when(code.str.contains(r"^\d+$"))
        .then(matched)
        .otherwise(None)
        .fill_null("unclassified")
    )


def assign_job_group(
    frame: pl.DataFrame | pl.LazyFrame,
    mapping: pl.DataFrame | str | Path | None = None,
    *,
    disco_column: str = "disco",
) -> pl.DataFrame | pl.LazyFrame:
    """Add (or replace) a ``job_group`` column from the DISCO-08 code column by longest prefix.

    ``mapping`` is a mapping frame from :func:`load_mapping`, a path to a mapping CSV, or None for the
    shipped ``data/reference/disco08_jobgroups.csv``. ``job_group`` is one of
    ``digital``/``office``/``physical_social``/``unclassified`` (Utf8).
    """
    schema = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
    if disco_column not in schema:
        raise InputError(
            "no DISCO column to assign job groups from",
            column=disco_column,
            values=list(schema),
            hint="load the extract with load_panel() first, or name the column with disco_column=",
        )
    disco = pl.col(disco_column)
    if schema[disco_column] != pl.String:
        disco = disco.cast(pl.String)
    return frame.with_columns(job_group_expr(disco, mapping).alias("job_group"))

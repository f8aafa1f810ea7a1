"""Attrition: every input row ends in exactly one named bucket, and the counts add up to the input.

The attrition schema is shared by ``pendling.panel`` (stage 'panel': one row per input row) and
``pendling.mobility`` (stage 'flows': one per person-year transition):

``stage`` Utf8 · ``year`` Int16 (nullable) · ``bucket`` Utf8 · ``n`` Int64 · ``description`` Utf8.

Panel buckets are tested in the order of :data:`PANEL_BUCKETS`; a row goes to the first that applies,
so a row with an unknown home *and* an unknown workplace is counted once, under the home. Kept rows
are split the same way: a kept row with a 411 alias and LBNR 0 counts under ``kept_code_alias``. The
independent per-row notes (every alias, every LBNR 0 ...) are counted separately in the flags table,
which does not have to sum to anything.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

ATTRITION_SCHEMA: dict[str, pl.DataType] = {
    "stage": pl.String(),
    "year": pl.Int16(),
    "bucket": pl.String(),
    "n": pl.Int64(),
    "description": pl.String(),
}
FLAGS_SCHEMA: dict[str, pl.DataType] = {
    "year": pl.Int16(),
    "flag": pl.String(),
    "n": pl.Int64(),
    "description": pl.String(),
}

# Precedence order: a row lands in the first bucket whose condition holds.
PANEL_BUCKETS: dict[str, str] = {
    "excluded_null_pnr": (
        "PNR missing (or, with strict=False, unreadable or negative): the row cannot be linked to a person"
    ),
    "excluded_year_missing": "the year column is empty for this row",
    "excluded_year_out_of_range": "year outside the years asked for (years=...)",
    "excluded_duplicate": (
        "(PNR, year) occurs more than once: on_duplicate='drop' leaves out every row of that "
        "person-year, 'first' keeps the first row in file order"
    ),
    "excluded_home_abroad_or_unknown": (
        "home municipality (KOM) missing, abroad (950-960) or unknown (0, 995, 999)"
    ),
    "excluded_home_invalid_code": (
        "home municipality code is neither one of the 98 municipalities nor a known alias "
        "(e.g. a pre-2007 code)"
    ),
    "excluded_work_abroad_or_unknown": (
        "workplace municipality missing (e.g. no November job), abroad (950-960) or unknown (0, 995, 999)"
    ),
    "excluded_work_invalid_code": (
        "workplace municipality code is neither one of the 98 municipalities nor a known alias"
    ),
    "kept_code_alias": "kept; home or workplace code 411 Christiansø counted under 400 Bornholm",
    "kept_lbnr0": "kept; LBNR 0 = unknown or fictive workplace (mobility leaves these out of flows)",
    "kept_lbnr_missing": "kept; LBNR missing, stored as 0 (unknown workplace)",
    "kept_disco_unclassified": (
        "kept; DISCO missing or matched by no prefix of the job-group mapping → job group 'unclassified'"
    ),
    "kept": "kept, nothing to note",
}
KEPT_BUCKETS: tuple[str, ...] = tuple(b for b in PANEL_BUCKETS if b.startswith("kept"))

# Only when the extract has home/workplace zone columns (``home_zone``, ``work_zone``): tested after
# the municipality codes and before the kept notes (see :mod:`pendling.panel.zones`), and reported only
# then, so municipality-level attrition tables stay exactly as they were.
ZONE_BUCKETS: dict[str, str] = {
    "excluded_zone_malformed": (
        "home or workplace zone missing or not a DDKN cell id (e.g. 1km_6170_720), although the extract has zone columns"
    ),
    "excluded_zone_outside_denmark": "home or workplace cell id is well formed but lies outside Denmark",
    "excluded_zone_outside_municipality": (
        "home cell not in the home municipality (KOM), or workplace cell not in the workplace municipality "
        "(ARBKOM): its centre is in another municipality and the cell is farther than the border tolerance "
        "from the row's municipality"
    ),
}
ZONES_AFTER = "excluded_work_invalid_code"  # zone buckets follow this one in the precedence order
# Only with lenient reading (strict=False), where a CSV row with fewer fields than its header is left
# out instead of stopping the load (pendling.panel.readers.short_records); tested before every other
# bucket, and listed only when such rows occur, so other attrition tables stay exactly as they were.
SHORT_ROW_BUCKET: dict[str, str] = {
    "excluded_short_row": (
        "CSV row with fewer fields than the header (cut short, an empty line, or a record split by a line "
        "break inside a value); its values are not used (lenient reading only: otherwise an error)"
    ),
}
BUCKET_ENUM = pl.Enum([*PANEL_BUCKETS, *ZONE_BUCKETS, *SHORT_ROW_BUCKET])


def bucket_order(zones: bool = False, short_rows: bool = False) -> dict[str, str]:
    """Buckets in precedence order with descriptions; with ``zones`` the zone buckets are included,
    with ``short_rows`` the bucket of CSV rows with too few fields (first)."""
    out: dict[str, str] = dict(SHORT_ROW_BUCKET) if short_rows else {}
    for b, d in PANEL_BUCKETS.items():
        out[b] = d
        if zones and b == ZONES_AFTER:
            out.update(ZONE_BUCKETS)
    return out

PANEL_FLAGS: dict[str, str] = {
    "home_alias": "kept rows whose home code was an alias (411 → 400)",
    "work_alias": "kept rows whose workplace code was an alias (411 → 400)",
    "lbnr0": "kept rows with LBNR 0 (unknown/fictive workplace)",
    "lbnr_missing": "kept rows with LBNR missing (stored as 0)",
    "disco_unclassified": "kept rows whose DISCO maps to no job group",
    "disco_numeric": "kept rows whose DISCO was stored as a number (3/5 digits zero-padded to 4/6)",
    "home_addr_missing": "kept rows without ADRESSE_ID (always all rows when the column is absent)",
    "unparseable_values": (
        "rows with a value that is not a whole number in a number column, or a negative PNR, ADRESSE_ID "
        "or LBNR, read as missing (strict=False)"
    ),
}
ZONE_FLAGS: dict[str, str] = {
    "home_zone_near_border": (
        "kept rows whose home cell's centre is in a neighbouring municipality but the cell lies within the "
        "border tolerance of the home municipality (KOM); kept with the cell as given"
    ),
    "work_zone_near_border": (
        "kept rows whose workplace cell's centre is in a neighbouring municipality but the cell lies within "
        "the border tolerance of the workplace municipality (ARBKOM); kept with the cell as given"
    ),
}


def panel_attrition(buckets: pl.DataFrame, *, zones: bool = False, counted: bool = False) -> pl.DataFrame:
    """Attrition table from a frame with one row per input row and columns ``year``, ``bucket``.

    ``zones``: the extract has zone columns, so the zone buckets are listed too (zeros included).
    ``excluded_short_row`` (lenient reading of CSV rows with too few fields) is listed, for every year,
    when it holds any row.

    Every bucket appears for every year (zeros included) so tables from different runs line up.
    Rows without a year (``excluded_year_missing``, or ``excluded_null_pnr`` when the PNR is missing
    as well) are reported with a null year. ``counted``: ``buckets`` holds counts already (``year``,
    ``bucket``, ``n``, possibly several rows per year and bucket, e.g. one batch per year), summed here.
    """
    counts = (buckets.group_by("year", "bucket").agg(pl.col("n").sum().cast(pl.Int64)) if counted
              else buckets.group_by("year", "bucket").agg(pl.len().cast(pl.Int64).alias("n")))
    years = counts.select(pl.col("year").cast(pl.Int16)).unique()
    short_rows = bool(counts.filter(pl.col("bucket").cast(pl.String).is_in(list(SHORT_ROW_BUCKET)))["n"].sum())
    names = bucket_order(zones, short_rows)
    grid = years.join(pl.DataFrame({"bucket": list(names)}, schema={"bucket": pl.String}), how="cross")
    # Without a year a row is 'excluded_year_missing', or 'excluded_null_pnr' when the PNR is missing
    # too (that bucket comes first): keep the null year for the first always, for any other only if
    # it occurs, so no row is lost from the table.
    occurring = counts.filter(pl.col("year").is_null()).select(pl.col("bucket").cast(pl.String))["bucket"]
    grid = grid.filter(
        pl.col("year").is_not_null()
        | (pl.col("bucket") == "excluded_year_missing")
        | pl.col("bucket").is_in(occurring.implode())
    )
    order = {b: i for i, b in enumerate(names)}
    return (
        grid.join(
            counts.with_columns(pl.col("year").cast(pl.Int16), pl.col("bucket").cast(pl.String)),
            on=["year", "bucket"],
            how="left",
            nulls_equal=True,
        )
        .with_columns(
            pl.lit("panel").alias("stage"),
            pl.col("n").fill_null(0),
            pl.col("bucket").replace_strict(names, return_dtype=pl.String).alias("description"),
            pl.col("bucket").replace_strict(order, return_dtype=pl.Int32).alias("_order"),
        )
        .sort("year", "_order", nulls_last=True)
        .select(list(ATTRITION_SCHEMA))
        .cast(ATTRITION_SCHEMA)
    )


def check_attrition(attrition: pl.DataFrame, n_input: int, stage: str = "panel") -> None:
    """Raise AssertionError unless the ``stage`` rows of ``attrition`` sum to ``n_input``.

    Also checks the schema and that no count is negative. Used after every load and in every test.
    """
    missing = [c for c in ATTRITION_SCHEMA if c not in attrition.columns]
    if missing:
        raise AssertionError(f"attrition table lacks columns {missing}")
    part = attrition.filter(pl.col("stage") == stage)
    if part.height and part["n"].min() < 0:  # type: ignore[operator]
        raise AssertionError(f"negative counts in attrition stage {stage!r}")
    total = int(part["n"].sum())
    if total != n_input:
        raise AssertionError(
            f"attrition stage {stage!r} sums to {total:,} but the input has {n_input:,} rows"
        )


def attrition_wide(attrition: pl.DataFrame, stage: str = "panel") -> pl.DataFrame:
    """Buckets as rows, years as columns plus ``total``, for printing (zero-only buckets dropped)."""
    part = attrition.filter(pl.col("stage") == stage).with_columns(
        pl.col("year").cast(pl.String).fill_null("no year")
    )
    if part.height == 0:
        return pl.DataFrame({"bucket": [], "total": []}, schema={"bucket": pl.String, "total": pl.Int64})
    buckets = list(dict.fromkeys(part["bucket"].to_list()))
    wide = part.pivot(on="year", index="bucket", values="n", aggregate_function="sum").fill_null(0)
    year_cols = [c for c in wide.columns if c != "bucket"]
    wide = wide.with_columns(pl.sum_horizontal(year_cols).alias("total"))
    wide = wide.filter(pl.col("total") > 0)
    wide = wide.sort(pl.col("bucket").replace_strict({b: i for i, b in enumerate(buckets)}, default=len(buckets)))
    totals = wide.select(
        pl.lit("total (input rows)").alias("bucket"), *[pl.col(c).sum() for c in [*year_cols, "total"]]
    )
    return pl.concat([wide, totals.cast(wide.schema)])


def rows_per_year(attrition: pl.DataFrame) -> pl.DataFrame:
    """Input and kept rows per year from a panel attrition table: ``year``, ``input``, ``kept``, ``excluded``."""
    part = attrition.filter(pl.col("stage") == "panel")
    return (
        part.group_by("year")
        .agg(
            pl.col("n").sum().alias("input"),
            pl.col("n").filter(pl.col("bucket").is_in(KEPT_BUCKETS)).sum().alias("kept"),
        )
        .with_columns((pl.col("input") - pl.col("kept")).alias("excluded"))
        .sort("year", nulls_last=True)
    )


def flags_table(counts: pl.DataFrame, years: Iterable[int], *, zones: bool = False) -> pl.DataFrame:
    """Flags per year from long counts (``year``, ``flag``, ``n``); every flag × year, zeros included
    (with ``zones`` also the zone flags)."""
    names = {**PANEL_FLAGS, **ZONE_FLAGS} if zones else PANEL_FLAGS
    grid = pl.DataFrame({"year": sorted(set(years))}, schema={"year": pl.Int16}).join(
        pl.DataFrame({"flag": list(names)}, schema={"flag": pl.String}), how="cross"
    )
    order = {f: i for i, f in enumerate(names)}
    data = counts.select(pl.col("year").cast(pl.Int16), pl.col("flag").cast(pl.String), pl.col("n").cast(pl.Int64))
    return (
        grid.join(data, on=["year", "flag"], how="left")
        .with_columns(
            pl.col("n").fill_null(0),
            pl.col("flag").replace_strict(names, return_dtype=pl.String).alias("description"),
        )
        .sort("year", pl.col("flag").replace_strict(order, return_dtype=pl.Int32))
        .select(list(FLAGS_SCHEMA))
        .cast(FLAGS_SCHEMA)
    )

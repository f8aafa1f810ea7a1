"""The planted truth: expected mean relative change per cell, from the generator's own distributions.

For every person the engine will classify as a mover or job changer, :func:`pendling.synth.model.truth_sums`
computes E[r] and Var[r] exactly (r = T_t / T_{t-1} - 1, a fraction; T in minutes) from the same
probability matrices the generator samples from. Summing over the persons in a cell gives

* ``expected_mean_rel_change`` = Σ E[r] / n — what the cell's ``mean_rel_change`` estimates;
* ``standard_error`` = √(Σ Var[r]) / n — the exact standard deviation of the cell mean around it
  (persons' draws are independent given the previous year);
* ``tolerance`` = :data:`TOLERANCE_SE_MULTIPLE` × standard_error: the band an unbiased engine's
  estimate falls in except with probability ≈ 6·10⁻⁵ per cell (normal approximation).

Cells follow :mod:`pendling.mobility`: year (t, the later November), flow, job group and home region
at t-1 ('hovedstaden', 'rest'), plus 'all' margins for both (the job-group
'all' over the classified groups: 'unclassified' is outside it, as in pendling.mobility).
"""

from __future__ import annotations

import polars as pl

from pendling.mobility.stats import NUISANCE_GROUPS
from pendling.panel.jobgroups import JOB_GROUPS

TOLERANCE_SE_MULTIPLE = 4.0
TRUTH_SCHEMA: dict[str, pl.DataType] = {
    "year": pl.Int16(),
    "flow": pl.String(),
    "job_group": pl.String(),
    "region": pl.String(),
    "expected_mean_rel_change": pl.Float64(),
    "tolerance": pl.Float64(),
    "n": pl.Int64(),
    "standard_error": pl.Float64(),
}
GRID_TRUTH_SCHEMA: dict[str, pl.DataType] = {
    **TRUTH_SCHEMA,
    "tail_mass": pl.Float64(),
    "zones": pl.String(),
}
"""``truth_<zones>.parquet`` (cell-level truth, :mod:`pendling.synth.gridtruth`): the same columns, plus
``tail_mass`` (mean probability mass per person moved onto a municipality's most likely cell by the
support threshold; 0 when exact) and ``zones`` (e.g. 'grid1km')."""


def finalize_truth(parts: list[pl.DataFrame], zones: str | None = None) -> pl.DataFrame:
    """Per-cell sums of all years → the truth table (margins added, empty cells dropped, sorted).

    ``zones``: None for the municipality-level truth; a zone system for the cell-level truth (parts
    then carry ``sum_tail``; :data:`GRID_TRUTH_SCHEMA`)."""
    schema = TRUTH_SCHEMA if zones is None else GRID_TRUTH_SCHEMA
    if not parts:
        return pl.DataFrame(schema=schema)
    cells = pl.concat(parts)
    if zones is None:
        cells = cells.with_columns(sum_tail=pl.lit(0.0))
    sums = [pl.col("n").sum(), pl.col("sum_expected").sum(), pl.col("sum_variance").sum(), pl.col("sum_tail").sum()]
    keys = ["year", "flow"]
    all_region = cells.group_by(*keys, "job_group").agg(sums).with_columns(region=pl.lit("all"))
    # the job-group total 'all' is over the classified groups, as in pendling.mobility
    classified = cells.filter(~pl.col("job_group").is_in(NUISANCE_GROUPS))
    all_group = classified.group_by(*keys, "region").agg(sums).with_columns(job_group=pl.lit("all"))
    all_all = classified.group_by(*keys).agg(sums).with_columns(job_group=pl.lit("all"), region=pl.lit("all"))
    cols = ["year", "flow", "job_group", "region", "n", "sum_expected", "sum_variance", "sum_tail"]
    full = pl.concat([cells.select(cols), all_region.select(cols), all_group.select(cols), all_all.select(cols)])
    group_rank = {g: i for i, g in enumerate((*JOB_GROUPS, "all"))}
    region_rank = {"hovedstaden": 0, "rest": 1, "all": 2}
    flow_rank = {"movers": 0, "job_changers": 1}
    return (
        full.filter(pl.col("n") > 0)
        .with_columns(
            (pl.col("sum_expected") / pl.col("n")).alias("expected_mean_rel_change"),
            (pl.col("sum_variance").sqrt() / pl.col("n")).alias("standard_error"),
            (pl.col("sum_tail") / pl.col("n")).alias("tail_mass"),
            pl.lit(zones).alias("zones"),
        )
        .with_columns((TOLERANCE_SE_MULTIPLE * pl.col("standard_error")).alias("tolerance"))
        .sort(
            pl.col("year"),
            pl.col("flow").replace_strict(flow_rank, return_dtype=pl.Int8),
            pl.col("job_group").replace_strict(group_rank, return_dtype=pl.Int8),
            pl.col("region").replace_strict(region_rank, return_dtype=pl.Int8),
        )
        .select(list(schema))
        .cast(schema)
    )

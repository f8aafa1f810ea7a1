"""An independent re-computation of the cell means from the written files (numpy/polars only).

Deliberately does not use pendling.mobility: it re-derives movers and job changers from the DST
columns with plain joins, so the generator's truth is checked against something it did not compute.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from pendling import geo
from pendling.panel.jobgroups import assign_job_group


def read_years(directory: Path) -> pl.DataFrame:
    frames = []
    for path in sorted(directory.glob("ras*.parquet")):
        year = int(path.stem[3:])
        frames.append(pl.read_parquet(path).with_columns(pl.lit(year, pl.Int16).alias("year")))
    return pl.concat(frames)


def cell_means(directory: Path, matrix: pl.DataFrame) -> pl.DataFrame:
    """year, flow, job_group, region, n, mean_rel_change (region/job group at t-1, 'all' margins)."""
    data = read_years(directory)
    prev = data.with_columns((pl.col("year") + 1).cast(pl.Int16).alias("year"))
    pairs = data.join(prev, on=["PNR", "year"], suffix="_0")
    hov = geo.municipalities().filter(pl.col("region_code") == geo.REGION_HOVEDSTADEN)["code"]
    pairs = assign_job_group(pairs, disco_column="DISCO08_ALLE_INDK_13_0")
    assert isinstance(pairs, pl.DataFrame)
    real = (pl.col("LBNR") != 0) & (pl.col("LBNR_0") != 0)
    moved = (pl.col("ADRESSE_ID") != pl.col("ADRESSE_ID_0")) | (pl.col("KOM") != pl.col("KOM_0"))
    same_job = pl.col("LBNR") == pl.col("LBNR_0")
    pairs = pairs.with_columns(
        pl.when(real & same_job & moved & (pl.col("ARBKOM") == pl.col("ARBKOM_0"))).then(pl.lit("movers"))
        .when(real & ~same_job & ~moved).then(pl.lit("job_changers"))
        .otherwise(None).alias("flow"),
        pl.when(pl.col("KOM_0").is_in(hov.implode())).then(pl.lit("hovedstaden")).otherwise(pl.lit("rest")).alias("region"),
    ).filter(pl.col("flow").is_not_null())
    codes = np.sort(matrix["origin"].unique().to_numpy())
    T = matrix.sort("origin", "destination")["minutes"].to_numpy().reshape(codes.size, codes.size)
    pos = {int(c): i for i, c in enumerate(codes)}

    def idx(col: str) -> np.ndarray:
        return np.array([pos[int(c)] for c in pairs[col].to_list()])

    t1 = T[idx("KOM"), idx("ARBKOM")]
    t0 = T[idx("KOM_0"), idx("ARBKOM_0")]
    pairs = pairs.with_columns(pl.Series("r", t1 / t0 - 1))
    parts = []
    for jg in (pl.col("job_group"), pl.lit("all")):
        for rg in (pl.col("region"), pl.lit("all")):
            parts.append(
                pairs.group_by("year", "flow", jg.alias("job_group"), rg.alias("region"))
                .agg(pl.len().cast(pl.Int64).alias("n"), pl.col("r").mean().alias("mean_rel_change"))
            )
    return pl.concat(parts)

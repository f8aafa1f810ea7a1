"""Derive DST's national mean commuting distance (AFSTB4, km) per year into data/reference/.

Inputs (developer machines only; users get the committed CSV):
  raw/aneliab__AFSTB4_region_avg_km_2008_2022.csv   DST AFSTB4, 'Ialt' × 'Hele landet', 2008–2022
  derived/commute_distance_AFSTB4_by_kommune_2008_2024.csv   AFSTB4 by residence municipality
  derived/employment_by_kommune_2022_AFSTB3_residence_AFSTA3_workplace.csv   employed by residence, 2022

Years with a national DST value keep it (kind 'dst_national'). Later years (2023, 2024) have only
municipal values; their national mean is estimated as the municipal means weighted by 2022 employment
by residence (kind 'employment_weighted_estimate'). The script measures that estimator on the years
where DST's national value is known and writes the error into the source note.

Usage: python scripts/derive_afstb4.py [--src /work/shared/data/dst] [--out data/reference]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from pendling.io import write_csv, write_text

RAW = "raw/aneliab__AFSTB4_region_avg_km_2008_2022.csv"
MUNI = "derived/commute_distance_AFSTB4_by_kommune_2008_2024.csv"
EMPLOYED = "derived/employment_by_kommune_2022_AFSTB3_residence_AFSTA3_workplace.csv"


def national_official(src: Path) -> pl.DataFrame:
    raw = pl.read_csv(src / RAW, separator=";")
    row = raw.filter((pl.col("segment") == "Ialt") & (pl.col("region") == "Hele landet"))
    if row.height != 1:
        raise SystemExit(f"{RAW}: expected one 'Ialt;Hele landet' row, found {row.height}")
    return row.drop("segment", "region").unpivot(variable_name="year", value_name="km").select(
        pl.col("year").cast(pl.Int16), pl.col("km").cast(pl.Float64)
    )


def weighted_municipal(src: Path) -> pl.DataFrame:
    muni = pl.read_csv(src / MUNI)
    emp = pl.read_csv(src / EMPLOYED).select("kommune_kode", w="beskaeftigede_bopael_2022")
    joined = muni.join(emp, on="kommune_kode", how="left")
    if joined["w"].null_count():
        missing = joined.filter(pl.col("w").is_null())["kommune_kode"].unique().to_list()
        raise SystemExit(f"no 2022 employment weight for municipality codes {missing}")
    counts = joined.group_by("aar").len()
    if counts["len"].min() != 98 or counts["len"].max() != 98:
        raise SystemExit(f"{MUNI}: expected 98 municipalities per year")
    return joined.group_by("aar").agg(
        km_weighted=(pl.col("gns_pendlingsafstand_km") * pl.col("w")).sum() / pl.col("w").sum()
    ).select(pl.col("aar").cast(pl.Int16).alias("year"), "km_weighted").sort("year")


def derive(src: Path) -> tuple[pl.DataFrame, float, float]:
    """The series to ship, plus the estimator's max |error| (km) and its error in the last official year."""
    official = national_official(src)
    est = weighted_municipal(src)
    both = official.join(est, on="year", how="inner")
    err = (both["km_weighted"] - both["km"]).abs()
    last_err = float((both["km_weighted"] - both["km"])[-1])
    extra = est.filter(~pl.col("year").is_in(official["year"].implode())).select(
        "year", km=pl.col("km_weighted").round(1), kind=pl.lit("employment_weighted_estimate")
    )
    series = pl.concat([official.with_columns(kind=pl.lit("dst_national")), extra]).sort("year")
    return series, float(err.max()), last_err


def note(series: pl.DataFrame, max_err: float, last_err: float) -> str:
    first, last = series["year"].min(), series["year"].max()
    official = series.filter(pl.col("kind") == "dst_national")["year"]
    est_years = ", ".join(str(y) for y in series.filter(pl.col("kind") != "dst_national")["year"].to_list())
    return f"""# afstb4_national_km.csv — DST mean commuting distance, all of Denmark

Made by `python scripts/derive_afstb4.py`; used as the comparison line in `pendling plot --figure distance`.

Columns: `year` ({first}–{last}), `km` = mean one-way road distance from home to workplace (km), employed
persons total, both sexes, end of November (Statistics Denmark table AFSTB4, by residence), `kind`.

- `dst_national` ({official.min()}–{official.max()}): DST's own "Hele landet" value, copied as published (1 decimal).
  Source: DST AFSTB4 via github AneliaAB/DK__erhvervspendling @ 01912326779e0a0c1c6ae8e24768076686f382c3,
  data/beskæftigede_i_alt.csv (row "Ialt;Hele landet").
- `employment_weighted_estimate` ({est_years}): no national value in the sources, so the AFSTB4 values of
  the 98 residence municipalities (github DennisHedegreen/danish-politics-data @
  268cc9b22ed3c0a039d019efb989767633b82b69, denmark/factors/commute_distance_km.csv) are averaged with
  weights = employed persons by residence municipality, November 2022 (DST AFSTB3, same AneliaAB commit,
  data/i_alt/efter_bopæl2022.csv), rounded to 1 decimal.
  Checked against the official years: max |estimate − DST| = {max_err:.2f} km, {last_err:+.2f} km in {official.max()}.

Source: Statistics Denmark (Danmarks Statistik), www.statistikbanken.dk/AFSTB4 and AFSTB3.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=Path("/work/shared/data/dst"))
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "data" / "reference")
    args = ap.parse_args()
    series, max_err, last_err = derive(args.src)
    write_csv(series, args.out / "afstb4_national_km.csv")
    write_text(note(series, max_err, last_err), args.out / "afstb4_national_km.md")
    print(f"wrote {series.height} years to {args.out / 'afstb4_national_km.csv'} (estimator max error {max_err:.2f} km)")


if __name__ == "__main__":
    main()

"""Derive the synthetic-extract calibration tables in ``data/reference/synth/`` from DST figures.

Developers only: reads the staged public DST tables under ``/work/shared/data/dst`` (users never have
that tree, which is why the derived tables are committed). Run from the repository root::

    .venv/bin/python scripts/derive_calibration.py [--source /work/shared/data/dst]

Writes (all keyed on the 3-digit municipality code, 98 municipalities; 411 Christiansø folded
into 400 Bornholm, the same alias pendling.geo applies):

- ``municipality_targets.csv``  population (FOLK1A 2022Q1, persons), employed by residence (AFSTB3
  2022, persons) and by workplace (AFSTA3 2022, persons), mean commute by residence (AFSTB4 2022, km)
  and the residence-side distance-band counts (AFSTB3 2022, persons).
- ``afstb4_commute_km.csv``     mean commute distance by residence municipality, 2008-2024 (km).
- ``isco08_employment_dk.csv``  employment by ISCO-08 sub-major group, Denmark 2022 (thousands, EU-LFS).
- ``realism_targets.csv``       the bands `pendling synth --report` checks, with their sources.

``isco08_unit_groups.csv`` (the 436 ISCO-08 unit groups) is maintained by hand; this script only
checks it (436 unit groups in 130 minor and 43 sub-major groups, as the ILO structure has).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from pendling.io import write_csv  # noqa: E402

OUT = REPO / "data" / "reference" / "synth"
BANDS = [
    "Ingen pendling",
    "Indtil 5 km",
    "5-10 km",
    "10-20 km",
    "20-30 km",
    "30-40 km",
    "40-50 km",
    "Over 50 km",
    "Ikke beregnet",
]
BAND_NAMES = [
    "no_commute",
    "0_5km",
    "5_10km",
    "10_20km",
    "20_30km",
    "30_40km",
    "40_50km",
    "over_50km",
    "not_computed",
]
CHRISTIANSOE, BORNHOLM = 411, 400


# The DST tables staged under <source>/derived/, each keyed on kommune_kode (one row per municipality).
EMPLOYMENT = "employment_by_kommune_2022_AFSTB3_residence_AFSTA3_workplace.csv"
POPULATION = "population_FOLK1A_by_kommune_Q1_2008_2022.csv"
AFSTB4 = "commute_distance_AFSTB4_by_kommune_2008_2024.csv"


def _by_municipality(src: Path, table: str, columns: dict[str, str], where: pl.Expr | None = None) -> pl.DataFrame:
    """Read ``<src>/derived/<table>``, keep the rows matching ``where``, and return ``code`` (from
    ``kommune_kode``) plus ``columns`` renamed DST name → our name, in that order."""
    df = pl.read_csv(src / "derived" / table)
    if where is not None:
        df = df.filter(where)
    return df.select(pl.col("kommune_kode").alias("code"), *[pl.col(c).alias(a) for c, a in columns.items()])


def _fold_christiansoe(df: pl.DataFrame, code: str = "code") -> pl.DataFrame:
    """Add 411 Christiansø's counts to 400 Bornholm (count columns only)."""
    return df.with_columns(
        pl.when(pl.col(code) == CHRISTIANSOE).then(BORNHOLM).otherwise(pl.col(code)).alias(code)
    )


def municipality_targets(src: Path) -> pl.DataFrame:
    emp = _by_municipality(src, EMPLOYMENT, {
        "kommune_navn": "name",
        "beskaeftigede_bopael_2022": "employed_residence_2022",
        "beskaeftigede_arbejdssted_2022": "employed_workplace_2022",
        **{f"bopael_{b}": f"residence_{n}" for b, n in zip(BANDS, BAND_NAMES, strict=True)},
    })
    pop = _by_municipality(src, POPULATION, {"folketal": "population_2022q1"}, pl.col("tid") == "2022Q1")
    km = _by_municipality(src, AFSTB4, {"gns_pendlingsafstand_km": "afstb4_km_2022"}, pl.col("aar") == 2022)
    names = emp.select("code", "name").filter(pl.col("code") != CHRISTIANSOE)
    counts = _fold_christiansoe(emp.drop("name").join(pop, on="code", how="left")).group_by("code").sum()
    out = (
        names.join(counts, on="code", how="left")
        .join(km, on="code", how="left")
        .select(
            pl.col("code").cast(pl.Int16),
            "name",
            "population_2022q1",
            "employed_residence_2022",
            "employed_workplace_2022",
            "afstb4_km_2022",
            *[f"residence_{n}" for n in BAND_NAMES],
        )
        .sort("code")
    )
    if out.height != 98 or out.null_count().sum_horizontal().item() != 0:
        raise SystemExit(f"expected 98 complete municipality rows, got {out.height} with nulls")
    return out


def afstb4_by_municipality(src: Path) -> pl.DataFrame:
    km = _by_municipality(src, AFSTB4, {"aar": "year", "gns_pendlingsafstand_km": "km"})
    return km.with_columns(pl.col("code", "year").cast(pl.Int16)).sort("code", "year")


def afstb4_national(src: Path) -> pl.DataFrame:
    raw = pl.read_csv(src / "raw" / "aneliab__AFSTB4_region_avg_km_2008_2022.csv", separator=";")
    row = raw.filter((pl.col("segment") == "Ialt") & (pl.col("region") == "Hele landet"))
    years = [c for c in raw.columns if c.isdigit()]
    return pl.DataFrame(
        {
            "year": [int(y) for y in years],
            "km": [float(row[y].item()) for y in years],
        },
        schema={"year": pl.Int16, "km": pl.Float64},
    )


def isco_employment(src: Path) -> pl.DataFrame:
    df = pl.read_csv(src / "derived" / "eurostat_lfsa_egai2d_DK_isco2_2022_2023.csv")
    return df.select(
        pl.col("isco08_2digit").str.strip_prefix("OC").alias("isco2"),
        pl.col("employed_thousands_2022"),
        pl.col("low_reliability"),
    ).sort("isco2")


def realism_targets(national: pl.DataFrame) -> pl.DataFrame:
    km22 = national.filter(pl.col("year") == 2022)["km"].item()
    rows = [
        # metric, target, low, high, unit, source
        ("cross_border_share", 0.41, 0.37, 0.45, "share",
         "DST Nyt 'Pendling november 2013' (cid=19482): 41% of employed cross a municipal border"),
        ("national_mean_km", km22, km22 - 2.0, km22 + 2.0, "km",
         "DST AFSTB4 2022, all Denmark (raw/aneliab__AFSTB4_region_avg_km_2008_2022.csv)"),
        ("municipal_mean_km_correlation", 1.0, 0.80, 1.0, "Pearson r",
         "AFSTB4 2022 by residence municipality vs synthetic mean home-work matrix km"),
        ("municipal_mean_km_min", 12.1, 8.0, 16.0, "km",
         "AFSTB4 2022: lowest municipality (Herlev 12.1 km); municipalities with >= 100 residents in the extract"),
        ("municipal_mean_km_max", 36.1, 30.0, 42.0, "km",
         "AFSTB4 2022: highest municipality (Vordingborg 36.1 km); municipalities with >= 100 residents in the extract"),
        ("residence_share_correlation", 1.0, 0.99, 1.0, "Pearson r", "AFSTB3 2022 employed by residence"),
        ("workplace_share_correlation", 1.0, 0.99, 1.0, "Pearson r", "AFSTA3 2022 employed by workplace"),
        ("population_share_correlation", 1.0, 0.97, 1.0, "Pearson r", "FOLK1A 2022Q1 population"),
        ("residence_share_max_abs_diff", 0.0, 0.0, 0.005, "share", "AFSTB3 2022 employed by residence"),
        ("workplace_share_max_abs_diff", 0.0, 0.0, 0.005, "share", "AFSTA3 2022 employed by workplace"),
        ("move_rate", 0.10, 0.08, 0.12, "share of employed in both years",
         "pendling domain notes: about 10% of employed move per year (no published DST figure found)"),
        ("within_municipality_move_share", 0.62, 0.55, 0.65, "share of moves",
         "DST press release 2021-11-05: 62% of moves in 2020 were within the municipality"),
        ("job_change_rate", 0.135, 0.12, 0.15, "share of employed in both years with a real workplace",
         "pendling domain notes: low-to-mid teens, below the LFS job turnover of 21-24% (DST Nyt cid=46636)"),
        ("exit_rate", 0.05, 0.02, 0.08, "share of employed leaving employment",
         "generator setting (scenario rates.exit); persons leaving RAS employment"),
        ("workplace_persistence", 0.99, 0.97, 1.0, "share of workplaces (LBNR) kept year to year",
         "IDA workplaces keep their LBNR across years (DST IDA arbejdssteder); workplaces with >= 5 staff"),
        ("lbnr0_share_physical_social_over_rest", 3.0, 2.0, 50.0, "ratio",
         "DST TIMES LBNR: fictive workplaces mostly home care, cleaning, insurance agents"),
        ("digital_share_hovedstaden_over_rest", 1.5, 1.2, 3.0, "ratio",
         "assumption: more digital/knowledge jobs among Region Hovedstaden residents (no DISCO-by-region table public)"),
        # grid extracts (synth --zones grid1km): checked per year against the same year's AFSTB4
        ("grid_national_mean_km_ratio", 1.0, 0.95, 1.05, "ratio",
         "grid extracts: mean road km between home and work 1 km cells (routed) / DST AFSTB4 national mean of the "
         "same year (data/reference/afstb4_national_km.csv); band +-5 % (issue 18)"),
        ("grid_municipal_mean_km_correlation", 1.0, 0.96, 1.0, "Pearson r",
         "grid extracts: AFSTB4 by residence municipality, same year (afstb4_commute_km.csv), vs synthetic mean road "
         "km between home and work 1 km cells; band >= 0.96 (issue 18; the municipality matrix reaches 0.964)"),
    ]
    return pl.DataFrame(
        rows,
        schema={"metric": pl.Utf8, "target": pl.Float64, "low": pl.Float64, "high": pl.Float64,
                "unit": pl.Utf8, "source": pl.Utf8},
        orient="row",
    )


def check_unit_groups(path: Path) -> None:
    ug = pl.read_csv(path, schema_overrides={"isco4": pl.Utf8})
    n4 = ug.height
    n3 = ug["isco4"].str.slice(0, 3).n_unique()
    n2 = ug["isco4"].str.slice(0, 2).n_unique()
    if (n4, n3, n2) != (436, 130, 43) or ug["isco4"].n_unique() != n4:
        raise SystemExit(f"{path}: expected 436/130/43 unit/minor/sub-major groups, found {n4}/{n3}/{n2}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=Path("/work/shared/data/dst"))
    args = ap.parse_args()
    src: Path = args.source
    tables = {
        "municipality_targets.csv": municipality_targets(src),
        "afstb4_commute_km.csv": afstb4_by_municipality(src),
        "isco08_employment_dk.csv": isco_employment(src),
        "realism_targets.csv": realism_targets(afstb4_national(src)),
    }
    for name, table in tables.items():
        write_csv(table, OUT / name)
    check_unit_groups(OUT / "isco08_unit_groups.csv")
    print(f"wrote calibration tables to {OUT}")


if __name__ == "__main__":
    main()

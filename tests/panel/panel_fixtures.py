"""A hand-built register extract in DST column names, with the bucket every row must land in.

Used by the tests and by ``data/make_sas7bdat_fixtures.py`` (which turned it into the shipped SAS
files), so the expected buckets below are written by hand, independently of the engine.
``KOMNAVN`` is an extra text column with Danish letters: the reader must ignore it, and it makes the
latin-1 SAS file differ from the UTF-8 one in its bytes.
"""

from __future__ import annotations

import polars as pl

# AAR, PNR, KOM, ADRESSE_ID, LBNR, ARBKOM, DISCO08_ALLE_INDK_13, KOMNAVN, expected bucket
ROWS: list[tuple] = [
    (2015, 1, 101, 5001, 9001, 101, "251200", "København", "kept"),
    (2015, 2, 147, 5002, 9002, 101, "4110", "Frederiksberg", "kept"),
    (2015, 3, 411, 5003, 9003, 400, "2221", "Christiansø", "kept_code_alias"),
    (2015, 4, 101, 5004, 0, 101, "9112", "København", "kept_lbnr0"),
    (2015, 5, 751, 5005, 9005, 751, None, "Aarhus", "kept_disco_unclassified"),
    (2015, 6, 999, 5006, 9006, 101, "2341", "Uoplyst", "excluded_home_abroad_or_unknown"),
    (2015, 7, 101, 5007, 9007, 950, "5223", "København", "excluded_work_abroad_or_unknown"),
    (2015, None, 101, 5008, 9008, 101, "2642", "København", "excluded_null_pnr"),
    (2015, 9, 101, None, 9009, 411, "0110", "København", "kept_code_alias"),
    (2015, 10, 123, 5010, 9010, 101, "3322", "Gammel kode", "excluded_home_invalid_code"),
    (2015, 11, 851, 5011, 9011, 0, "7115", "Aalborg", "excluded_work_abroad_or_unknown"),
    (2015, 12, 461, 5012, 9012, 461, "9999", "Odense", "kept_disco_unclassified"),
    (2015, 13, 101, 5013, None, 101, "2611", "København", "kept_lbnr_missing"),
    (2016, 1, 147, 5021, 9001, 101, "251200", "Frederiksberg", "kept"),
    (2016, 2, 147, 5002, 9010, 147, "4110", "Frederiksberg", "kept"),
    (2016, 3, 400, 5003, 9003, 400, "222110", "Bornholm", "kept"),
    (2016, 4, 101, 5004, 0, 101, "9112", "København", "kept_lbnr0"),
    (2016, 5, 751, 5005, 9005, 751, "", "Aarhus", "kept_disco_unclassified"),
    (2016, 6, 101, 5006, 9006, 101, "2341", "København", "kept"),
    (2016, 7, 995, 5007, 9007, 101, "5223", "Uoplyst", "excluded_home_abroad_or_unknown"),
    (2016, 14, None, 5014, 9014, 101, "1211", "", "excluded_home_abroad_or_unknown"),
    (2016, 15, 101, 5015, 9015, 999, "3322", "København", "excluded_work_abroad_or_unknown"),
    (2016, 16, 265, 5016, 9016, 555, "1211", "Roskilde", "excluded_work_invalid_code"),
    (2018, 1, 101, 5001, 9001, 101, "251200", "København", "kept"),
    (2018, 2, 147, 5002, 9010, 147, "2642", "Frederiksberg", "kept"),
    (2018, 3, 400, 5003, 9020, 400, "222110", "Bornholm", "kept"),
    (2018, 17, 860, 5017, 9017, 860, "011000", "Hjørring", "kept"),
    (2018, 18, 101, 5018, 9018, 101, "1211", "København", "kept"),
    (2018, 19, 101, 5019, 9019, 101, "XX12", "København", "kept_disco_unclassified"),
    (2018, 20, 492, 5020, 9021, 492, "5223", "Ærø", "kept"),
]
YEARS = (2015, 2016, 2018)  # 2017 is missing on purpose: a gap the reader must report

SCHEMA = {
    "AAR": pl.Int64,
    "PNR": pl.Int64,
    "KOM": pl.Int64,
    "ADRESSE_ID": pl.Int64,
    "LBNR": pl.Int64,
    "ARBKOM": pl.Int64,
    "DISCO08_ALLE_INDK_13": pl.String,
    "KOMNAVN": pl.String,
}


def extract() -> pl.DataFrame:
    """The stacked extract (all years, with an AAR column) in DST names."""
    return pl.DataFrame([r[:-1] for r in ROWS], schema=SCHEMA, orient="row")


def expected_buckets() -> pl.DataFrame:
    """year, bucket, n counted straight from the hand-written labels above."""
    df = pl.DataFrame(
        {"year": [r[0] for r in ROWS], "bucket": [r[-1] for r in ROWS]},
        schema={"year": pl.Int16, "bucket": pl.String},
    )
    return df.group_by("year", "bucket").agg(pl.len().cast(pl.Int64).alias("n")).sort("year", "bucket")


def expected_frame() -> pl.DataFrame:
    """The canonical rows written out by hand from ROWS: kept rows, 411 → 400, LBNR missing → 0,
    '' DISCO → null."""
    kept = [r for r in ROWS if r[-1].startswith("kept")]
    data = [
        (
            pnr,
            year,
            400 if kom == 411 else kom,
            addr,
            0 if lbnr is None else lbnr,
            400 if arb == 411 else arb,
            disco or None,
        )
        for year, pnr, kom, addr, lbnr, arb, disco, _name, _b in kept
    ]
    schema = {
        "pnr": pl.Int64,
        "year": pl.Int16,
        "home_muni": pl.Int16,
        "home_addr": pl.Int64,
        "work_id": pl.Int64,
        "work_muni": pl.Int16,
        "disco": pl.String,
    }
    return pl.DataFrame(data, schema=schema, orient="row").sort("pnr", "year")


def assert_attrition_complete(panel, n_input: int) -> None:
    """The invariant every test checks: stage 'panel' buckets sum to the rows put in, the kept
    buckets sum to the rows in ``panel.frame``, and each bucket is listed once per year."""
    from pendling.panel import KEPT_BUCKETS, check_attrition

    att = panel.attrition
    check_attrition(att, n_input)
    assert int(att.filter(pl.col("stage") == "panel")["n"].sum()) == n_input
    kept = int(att.filter(pl.col("bucket").is_in(KEPT_BUCKETS))["n"].sum())
    assert kept == panel.frame.height
    assert att.select("year", "bucket").is_duplicated().sum() == 0
    assert att.schema == {
        "stage": pl.String,
        "year": pl.Int16,
        "bucket": pl.String,
        "n": pl.Int64,
        "description": pl.String,
    }


def nonzero_buckets(panel) -> pl.DataFrame:
    """year, bucket, n of the buckets with rows, sorted like :func:`expected_buckets`."""
    return (
        panel.attrition.filter(pl.col("n") > 0)
        .select("year", "bucket", "n")
        .sort("year", "bucket")
    )

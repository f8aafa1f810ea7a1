"""Make the malformed-input corpus: tiny broken register extracts, matrices and column maps.

    python tests/data/bad/make_corpus.py            # rewrites the case folders and cases.toml here

Every case is a folder of input files plus an entry in ``cases.toml`` saying what pendling must do
with it: ``error`` (the message must contain every listed substring: the file, the column, the
offending values, the hint) or ``attrition`` (the exact non-zero buckets per stage and year, written
here by hand from the rows, never taken from the engine), or ``valid`` for a matrix that must load.
``tests/hardening/test_corpus.py`` runs every case through the Python API and the CLI, and checks
that running this script again gives the committed bytes.

Files are written with fixed settings and rows in a fixed order, so the bytes only change when the
cases change (or a writer library changes its Parquet footer: then rerun this script).
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

HERE = Path(__file__).resolve().parent
MANIFEST = "cases.toml"
DST = ("PNR", "KOM", "ADRESSE_ID", "LBNR", "ARBKOM", "DISCO08_ALLE_INDK_13")
DST_SCHEMA = {"PNR": pl.Int64, "KOM": pl.Int64, "ADRESSE_ID": pl.Int64, "LBNR": pl.Int64,
              "ARBKOM": pl.Int64, "DISCO08_ALLE_INDK_13": pl.String}

# Three ordinary person-years: København, Frederiksberg (works in København), Aarhus.
BASE = [
    (1, 101, 1001, 9001, 101, "251200"),
    (2, 147, 1002, 9002, 101, "4110"),
    (3, 751, 1003, 9003, 751, "7112"),
]


# ---------------------------------------------------------------------------------------------
# writers (fixed settings: same rows → same bytes)


def parquet(df: pl.DataFrame) -> bytes:
    import io

    buf = io.BytesIO()
    df.write_parquet(buf, compression="zstd", compression_level=19, statistics=False, row_group_size=1 << 20)
    return buf.getvalue()


def csv(header: Sequence[str], rows: Sequence[Sequence[Any]], *, sep: str = ",", encoding: str = "utf-8",
        bom: bool = False) -> bytes:
    """CSV text by hand: values written as given (str kept verbatim, None → empty), '\\n' line ends."""
    def cell(v: Any) -> str:
        return "" if v is None else str(v)

    lines = [sep.join(header)] + [sep.join(cell(v) for v in row) for row in rows]
    return ("\ufeff" if bom else "").encode(encoding) + ("\n".join(lines) + "\n").encode(encoding)


def dst(rows: Sequence[tuple], **overrides: pl.DataType) -> pl.DataFrame:
    """Rows in DST column order → frame; ``overrides`` change a column's type (e.g. KOM=pl.Float64)."""
    df = pl.DataFrame(list(rows), schema=DST_SCHEMA, orient="row")
    return df.with_columns(pl.col(c).cast(t) for c, t in overrides.items())


def synthetic_minutes(o: int, d: int) -> float:
    """Travel time of the corpus matrices (minutes): 6 within a municipality, + |o - d| / 4 between.

    Multiples of 0.25, so exact in binary and easy to check by hand."""
    return 6.0 + abs(o - d) / 4


def full_matrix(codes: Sequence[int], *, as_code4: bool = False) -> pl.DataFrame:
    """A long 'origin, destination, minutes, km' matrix over ``codes`` (km = 1.2 × minutes)."""
    pairs = [(o, d) for o in sorted(codes) for d in sorted(codes)]
    df = pl.DataFrame(
        {
            "origin": [o for o, _ in pairs],
            "destination": [d for _, d in pairs],
            "minutes": [synthetic_minutes(o, d) for o, d in pairs],
            "km": [synthetic_minutes(o, d) * 1.2 for o, d in pairs],
        },
        schema={"origin": pl.Int16, "destination": pl.Int16, "minutes": pl.Float64, "km": pl.Float64},
    )
    if as_code4:  # the DAGI/display form '0101'
        df = df.with_columns(pl.col(c).cast(pl.String).str.zfill(4) for c in ("origin", "destination"))
    return df


def small_matrix(minutes: dict[tuple[int, int], float | None] | None = None,
                 codes: Sequence[int] = (101, 147, 751)) -> list[tuple]:
    """Rows (origin, destination, minutes, km) of a small square matrix, with some minutes replaced."""
    out = []
    for o in codes:
        for d in codes:
            m = synthetic_minutes(o, d)
            if minutes and (o, d) in minutes:
                m = minutes[(o, d)]
            out.append((o, d, m, synthetic_minutes(o, d) * 1.2))
    return out


MATRIX_HEADER = ("origin", "destination", "minutes", "km")


# ---------------------------------------------------------------------------------------------
# cases


@dataclass
class Case:
    id: str
    kind: str  # panel | matrix | compute
    about: str
    files: dict[str, Callable[[], bytes] | bytes]  # name in the case folder → bytes
    inputs: list[str]  # relative to the corpus root; a folder path reads the whole folder
    expect: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    cli: bool = True  # also run through the `pendling` command line

    def input_rows(self) -> int | None:
        return self.expect.get("input_rows")


def error(*contains: str) -> dict[str, Any]:
    return {"outcome": "error", "contains": list(contains)}


def attrition(rows: int | None = None, warnings: Sequence[str] = (), flags: dict[str, int] | None = None,
              results: Sequence[dict[str, Any]] = (), **stages: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Expected attrition: ``stages[stage][year] = {bucket: n}`` lists every non-zero bucket."""
    out: dict[str, Any] = {"outcome": "attrition", "attrition": stages}
    if rows is not None:
        out["input_rows"] = rows
    if warnings:
        out["warnings"] = list(warnings)
    if flags:
        out["flags"] = flags
    if results:
        out["results"] = list(results)
    return out


def _mover_panel() -> tuple[list[tuple], list[tuple], dict[str, Any]]:
    """Two years for the compute cases: six movers (one inside its municipality), a stayer, a job-changer.

    Every home at t-1 is outside Region Hovedstaden; every DISCO is 251200 (digital). Returns the
    2015 rows, the 2016 rows and the movers' expected mean relative change, computed here from
    :func:`synthetic_minutes` (home, work) before and after.
    """
    # pnr: (home 2015, home 2016, work municipality, addr 2015, addr 2016)
    movers = {
        1: (751, 461, 751, 1001, 2001),
        2: (461, 751, 461, 1002, 2002),
        3: (851, 751, 851, 1003, 2003),
        4: (561, 621, 630, 1004, 2004),
        5: (615, 630, 615, 1005, 2005),
        6: (751, 751, 751, 1006, 2006),  # new address in the same municipality: r = 0
    }
    y15, y16 = [], []
    rel = []
    for pnr, (h0, h1, w, a0, a1) in movers.items():
        y15.append((pnr, h0, a0, 9000 + pnr, w, "251200"))
        y16.append((pnr, h1, a1, 9000 + pnr, w, "251200"))
        rel.append(synthetic_minutes(h1, w) / synthetic_minutes(h0, w) - 1)
    y15.append((7, 751, 1007, 9007, 751, "251200"))  # stayer
    y16.append((7, 751, 1007, 9007, 751, "251200"))
    y15.append((8, 751, 1008, 9008, 751, "251200"))  # job-changer: LBNR 9008 → 9108, works in Odense
    y16.append((8, 751, 1008, 9108, 461, "251200"))
    expected = {"flow": "movers", "job_group": "all", "region": "all", "n": 6,
                "mean_rel_change": sum(rel) / len(rel)}
    return y15, y16, expected


def _codes() -> list[int]:
    sys.path.insert(0, str(HERE.parents[2] / "src"))
    from pendling.geo import valid_codes

    return sorted(valid_codes())


def cases() -> list[Case]:
    codes = _codes()
    base_pq = parquet(dst(BASE))
    y15, y16, mover_expect = _mover_panel()
    out: list[Case] = []
    add = out.append

    # --- columns: missing, renamed, ambiguous ------------------------------------------------
    add(Case("missing_column_lbnr", "panel", "LBNR column absent",
             {"ras2015.parquet": lambda: parquet(dst(BASE).drop("LBNR"))}, ["missing_column_lbnr/ras2015.parquet"],
             error("required column(s) not found", "ras2015.parquet", "column: work_id", "LBNR",
                   "ARBKOM", "--column-map")))
    add(Case("missing_column_disco", "panel", "no DISCO column in a CSV",
             {"ras2015.csv": csv(DST[:5], [r[:5] for r in BASE])}, ["missing_column_disco/ras2015.csv"],
             error("ras2015.csv", "column: disco", "DISCO08_ALLE_INDK_13 / DISCO_KODE", "column map")))
    add(Case("renamed_column_komarb", "panel", "workplace municipality under its AMR name KOMARB (a known alias)",
             {"ras2015.parquet": lambda: parquet(dst(BASE).rename({"ARBKOM": "KOMARB"}))},
             ["renamed_column_komarb/ras2015.parquet"], attrition(3, panel={"2015": {"kept": 3}})))
    add(Case("renamed_column_unknown", "panel", "workplace municipality under a name no map knows",
             {"ras2015.parquet": lambda: parquet(dst(BASE).rename({"ARBKOM": "ARB_KOMMUNE"}))},
             ["renamed_column_unknown/ras2015.parquet"],
             error("ras2015.parquet", "column: work_muni", "ARBKOM / KOMARB / ARB_BEL_KOM_KODE", "'ARB_KOMMUNE'",
                   "column map")))
    add(Case("lowercase_column_names", "panel", "column names in lower case (matching ignores case)",
             {"ras2015.parquet": lambda: parquet(dst(BASE).rename(str.lower))},
             ["lowercase_column_names/ras2015.parquet"], attrition(3, panel={"2015": {"kept": 3}})))
    add(Case("ambiguous_column_case", "panel", "both KOM and kom present: which is the home?",
             {"ras2015.parquet": lambda: parquet(dst(BASE).with_columns(pl.col("KOM").alias("kom")))},
             ["ambiguous_column_case/ras2015.parquet"],
             error("two columns match 'KOM'", "ras2015.parquet", "['KOM', 'kom']", "rename one of them")))
    add(Case("no_year_anywhere", "panel", "no YEAR/AAR column and no year in the file name",
             {"ras.parquet": base_pq}, ["no_year_anywhere/ras.parquet"],
             error("ras.parquet", "column: year", "YEAR / AAR", "put the year in the file name")))

    # --- types: codes as text with zeros, floats, garbage --------------------------------------
    add(Case("codes_text_leading_zeros", "panel", "municipality codes as text with leading zeros ('0101')",
             {"ras2015.csv": csv(DST, [(1, "0101", 1001, 9001, "0101", "251200"),
                                       (2, "0147", 1002, 9002, "0101", "4110"),
                                       (3, "0751", 1003, 9003, "0751", "7112")])},
             ["codes_text_leading_zeros/ras2015.csv"], attrition(3, panel={"2015": {"kept": 3}})))
    add(Case("codes_as_floats", "panel", "codes and ids stored as floats (101.0), as SAS and Stata do",
             {"ras2015.parquet": lambda: parquet(dst(BASE, PNR=pl.Float64, KOM=pl.Float64, LBNR=pl.Float64,
                                                     ARBKOM=pl.Float64))},
             ["codes_as_floats/ras2015.parquet"], attrition(3, panel={"2015": {"kept": 3}})))
    add(Case("codes_fractional", "panel", "a home code 101.5: not a whole number",
             {"ras2015.parquet": lambda: parquet(dst(BASE, KOM=pl.Float64).with_columns(
                 pl.when(pl.col("PNR") == 2).then(101.5).otherwise(pl.col("KOM")).alias("KOM")))},
             ["codes_fractional/ras2015.parquet"],
             error("1 value(s) in column KOM are not whole numbers", "ras2015.parquet", "column: KOM",
                   "'101.5'", "--lenient")))
    garbage = csv(DST, [(1, "101", 1001, 9001, "101", "251200"), (2, "KBH", 1002, 9002, "101", "4110"),
                        (3, "751", 1003, 9003, "751", "7112")])
    add(Case("codes_text_garbage", "panel", "a home code 'KBH' in a number column",
             {"ras2015.csv": garbage}, ["codes_text_garbage/ras2015.csv"],
             error("column KOM are not whole numbers", "ras2015.csv", "column: KOM", "'KBH'", "--lenient")))
    add(Case("codes_text_garbage_lenient", "panel", "the same with strict=False: missing home, counted",
             {}, ["codes_text_garbage/ras2015.csv"],
             attrition(3, flags={"unparseable_values": 1},
                       panel={"2015": {"kept": 2, "excluded_home_abroad_or_unknown": 1}}),
             options={"strict": False}))
    add(Case("decimal_comma", "panel", "';'-separated CSV with decimal commas in a code ('101,0')",
             {"ras2015.csv": csv(DST, [(1, "101,0", 1001, 9001, "101", "251200")], sep=";")},
             ["decimal_comma/ras2015.csv"],
             error("ras2015.csv", "column: KOM", "'101,0'", "--lenient")))
    add(Case("boolean_code_column", "panel", "KOM stored as booleans",
             {"ras2015.parquet": lambda: parquet(dst(BASE).with_columns(pl.col("KOM") > 200))},
             ["boolean_code_column/ras2015.parquet"],
             error("column has type Boolean, but home_muni must be a whole number", "ras2015.parquet",
                   "column: KOM", "is this the right column?")))
    add(Case("date_pnr_column", "panel", "PNR stored as dates (a wrong column picked)",
             {"ras2015.parquet": lambda: parquet(dst(BASE).with_columns(pl.col("PNR").cast(pl.Date)))},
             ["date_pnr_column/ras2015.parquet"],
             error("column has type Date, but pnr must be a whole number", "column: PNR", "ras2015.parquet")))

    # --- encodings ----------------------------------------------------------------------------
    header_names = (*DST, "KOMNAVN")
    add(Case("latin1_values", "panel", "latin-1 CSV: Danish names in an extra text column",
             {"ras2015.csv": csv(header_names, [(1, 101, 1001, 9001, 101, "251200", "København"),
                                                (2, 492, 1002, 9002, 492, "4110", "Ærø")],
                                 sep=";", encoding="latin-1")},
             ["latin1_values/ras2015.csv"], attrition(2, panel={"2015": {"kept": 2}})))
    add(Case("utf8_bom_header", "panel", "UTF-8 CSV with a byte-order mark before the header",
             {"ras2015.csv": csv(header_names, [(1, 101, 1001, 9001, 101, "251200", "Østerbro")], bom=True)},
             ["utf8_bom_header/ras2015.csv"], attrition(1, panel={"2015": {"kept": 1}})))
    latin_header = ("PNR", "BOPÆL_KOM", "ADRESSE_ID", "LBNR", "ARBKOM", "DISCO08_ALLE_INDK_13")
    add(Case("latin1_header_column_map", "panel",
             "latin-1 header 'BOPÆL_KOM' named by a (UTF-8) column map: names decoded as cp1252",
             {"ras2015.csv": csv(latin_header, [(1, 101, 1001, 9001, 101, "251200"),
                                                (2, 147, 1002, 9002, 101, "4110")], sep=";", encoding="latin-1"),
              "column_map.toml": '[columns]\nhome_muni = "BOPÆL_KOM"\n'.encode()},
             ["latin1_header_column_map/ras2015.csv"],
             attrition(2, warnings=["the header is not UTF-8"], panel={"2015": {"kept": 2}}),
             options={"column_map": "latin1_header_column_map/column_map.toml"}))

    # --- broken and empty files ---------------------------------------------------------------
    add(Case("truncated_parquet", "panel", "a Parquet file cut in half (copy interrupted)",
             {"ras2015.parquet": base_pq[: len(base_pq) // 2]}, ["truncated_parquet/ras2015.parquet"],
             error("cannot read this parquet file", "ras2015.parquet", "check that the file is complete")))
    add(Case("empty_parquet", "panel", "a zero-byte .parquet file",
             {"ras2015.parquet": b""}, ["empty_parquet/ras2015.parquet"],
             error("cannot read this parquet file", "ras2015.parquet", "check that the file is complete")))
    add(Case("empty_csv", "panel", "a zero-byte .csv file",
             {"ras2015.csv": b""}, ["empty_csv/ras2015.csv"],
             error("cannot read this csv file", "empty CSV", "ras2015.csv", "check that the file is complete")))
    add(Case("unsupported_suffix", "panel", "an Excel file given as an extract",
             {"ras2015.xlsx": b"PK\x03\x04"}, ["unsupported_suffix/ras2015.xlsx"],
             error("unsupported file type '.xlsx'", "ras2015.xlsx", "convert it to one of")))
    add(Case("directory_without_extracts", "panel", "a folder holding only notes",
             {"README.txt": b"extracts go here\n"}, ["directory_without_extracts"],
             error("the directory holds no readable extract", "directory_without_extracts",
                   "expected files like ras2015.parquet")))
    hidden = ".ras2016.parquet.otherhost-4242.k2j4h1x0.parquet"
    add(Case("hidden_partial_write", "panel",
             "a folder with a leftover temporary file of a killed write: ignored, with a warning",
             {"ras2015.parquet": base_pq, hidden: base_pq[:40]}, ["hidden_partial_write"],
             attrition(3, warnings=["hidden files", hidden], panel={"2015": {"kept": 3}})))
    year_rows = [(p, h, a, l, w, d) for p, h, a, l, w, d in BASE]
    add(Case("year_with_no_rows", "panel", "2016 delivered as a header-only file: a gap, reported",
             {"ras2015.csv": csv(DST, year_rows), "ras2016.csv": csv(DST, []), "ras2017.csv": csv(DST, year_rows)},
             ["year_with_no_rows"],
             attrition(6, warnings=["ras2016.csv: no rows", "gap in years: no rows for 2016"],
                       panel={"2015": {"kept": 3}, "2017": {"kept": 3}})))
    add(Case("all_rows_excluded", "panel", "every home abroad: nothing kept, said so",
             {"ras2015.parquet": lambda: parquet(dst([(p, 950, a, l, w, d) for p, _, a, l, w, d in BASE]))},
             ["all_rows_excluded/ras2015.parquet"],
             attrition(3, warnings=["no row was kept"], panel={"2015": {"excluded_home_abroad_or_unknown": 3}})))

    # --- keys: duplicates, negative and huge ids, years -----------------------------------------
    dup_rows = [(1, 101, 1001, 9001, 101, "251200"), (1, 147, 1001, 9001, 101, "251200"),
                (2, 147, 1002, 9002, 101, "4110"), (2, 147, 1002, 9012, 147, "4110"),
                (3, 751, 1003, 9003, 751, "7112")]
    add(Case("duplicate_pnr_year", "panel", "two person-years delivered twice (secondary jobs)",
             {"ras2015.csv": csv(DST, dup_rows)}, ["duplicate_pnr_year/ras2015.csv"],
             error("2 person-years (PNR, year) occur more than once (4 rows)", "ras2015.csv", "column: PNR",
                   "1 (2015)", "2 (2015)", "--on-duplicate drop")))
    add(Case("duplicate_pnr_year_drop", "panel", "the same with on_duplicate='drop'",
             {}, ["duplicate_pnr_year/ras2015.csv"],
             attrition(5, panel={"2015": {"kept": 1, "excluded_duplicate": 4}}), options={"on_duplicate": "drop"}))
    add(Case("duplicate_pnr_year_first", "panel", "the same with on_duplicate='first'",
             {}, ["duplicate_pnr_year/ras2015.csv"],
             attrition(5, panel={"2015": {"kept": 3, "excluded_duplicate": 2}}), options={"on_duplicate": "first"}))
    neg = [(1, 101, 1001, 9001, 101, "251200"), (-7, 147, 1002, 9002, 101, "4110"), (3, 751, 1003, 9003, 751, "7112")]
    add(Case("negative_pnr", "panel", "a negative PNR (a missing-value code in some exports)",
             {"ras2015.parquet": lambda: parquet(dst(neg))}, ["negative_pnr/ras2015.parquet"],
             error("1 value(s) in column PNR are not whole numbers of at least 0", "ras2015.parquet",
                   "column: PNR", "'-7'", "--lenient")))
    add(Case("negative_pnr_lenient", "panel", "the same with strict=False: missing PNR, counted",
             {}, ["negative_pnr/ras2015.parquet"],
             attrition(3, flags={"unparseable_values": 1}, panel={"2015": {"kept": 2, "excluded_null_pnr": 1}}),
             options={"strict": False}))
    add(Case("negative_lbnr", "panel", "LBNR -1 in a CSV",
             {"ras2015.csv": csv(DST, [(1, 101, 1001, -1, 101, "251200")])}, ["negative_lbnr/ras2015.csv"],
             error("column LBNR are not whole numbers of at least 0", "ras2015.csv", "column: LBNR", "'-1'")))
    add(Case("huge_pnr_uint64", "panel",
             "PNR beyond the Int64 range (unsigned 64-bit, e.g. a hashed pseudonym): a key like any other",
             {"ras2015.parquet": lambda: parquet(dst(BASE).with_columns(
                 (pl.col("PNR").cast(pl.UInt64) + (2**63 + 4)).alias("PNR")))},
             ["huge_pnr_uint64/ras2015.parquet"], attrition(3, panel={"2015": {"kept": 3}})))
    add(Case("huge_pnr_float", "panel", "PNR as a float above 2^53: no longer exact",
             {"ras2015.parquet": lambda: parquet(dst(BASE[:1]).with_columns(pl.lit(1e17).alias("PNR")))},
             ["huge_pnr_float/ras2015.parquet"],
             error("column PNR are not whole numbers", "column: PNR", "'1e+17'")))
    add(Case("large_ids_ok", "panel", "large but valid ids (10-digit PNR, 2^62 ADRESSE_ID) are kept",
             {"ras2015.parquet": lambda: parquet(dst([(9_999_999_999, 101, 2**62, 99_999_999, 101, "251200")]))},
             ["large_ids_ok/ras2015.parquet"], attrition(1, panel={"2015": {"kept": 1}})))
    add(Case("year_two_digits", "panel", "AAR written as 15 instead of 2015",
             {"ras.csv": csv(("AAR", *DST), [(15, *BASE[0])])}, ["year_two_digits/ras.csv"],
             error("column AAR are not years between 1900 and 2100", "column: AAR", "'15'", "ras.csv")))
    add(Case("year_missing_in_rows", "panel", "AAR empty in one row of a stacked file",
             {"ras.csv": csv(("AAR", *DST), [(2015, *BASE[0]), (None, *BASE[1]), (2016, *BASE[2])])},
             ["year_missing_in_rows/ras.csv"],
             attrition(3, panel={"2015": {"kept": 1}, "2016": {"kept": 1}, "none": {"excluded_year_missing": 1}})))
    add(Case("years_outside_filter", "panel", "a stacked file read with years=[2016]",
             {"ras.csv": csv(("AAR", *DST), [(2015, *r) for r in BASE] + [(2016, *r) for r in BASE])},
             ["years_outside_filter/ras.csv"],
             attrition(6, panel={"2015": {"excluded_year_out_of_range": 3}, "2016": {"kept": 3}}),
             options={"years": [2016]}))

    # --- municipality codes outside the 98 ----------------------------------------------------
    away = [(1, 0, 1, 9001, 101, "2512"), (2, 950, 2, 9002, 101, "2512"), (3, 995, 3, 9003, 101, "2512"),
            (4, 999, 4, 9004, 101, "2512"), (5, None, 5, 9005, 101, "2512")]
    add(Case("home_abroad_or_unknown", "panel", "home codes 0, 950, 995, 999 and missing",
             {"ras2015.parquet": lambda: parquet(dst(away))}, ["home_abroad_or_unknown/ras2015.parquet"],
             attrition(5, panel={"2015": {"excluded_home_abroad_or_unknown": 5}})))
    work_away = [(1, 101, 1, 9001, 0, "2512"), (2, 101, 2, 9002, 955, "2512"), (3, 101, 3, 9003, 999, "2512")]
    add(Case("work_abroad_or_unknown", "panel", "workplace codes 0, 955 (Greenland), 999",
             {"ras2015.parquet": lambda: parquet(dst(work_away))}, ["work_abroad_or_unknown/ras2015.parquet"],
             attrition(3, panel={"2015": {"excluded_work_abroad_or_unknown": 3}})))
    invalid = [(1, 98, 1, 9001, 101, "2512"), (2, 1010, 2, 9002, 101, "2512"), (3, 123, 3, 9003, 101, "2512"),
               (4, 101, 4, 9004, 555, "2512"), (5, -101, 5, 9005, 101, "2512")]
    add(Case("codes_not_municipalities", "panel",
             "codes that are no municipality: 98, 1010 (4-digit), 123 (pre-2007), -101; workplace 555",
             {"ras2015.parquet": lambda: parquet(dst(invalid))}, ["codes_not_municipalities/ras2015.parquet"],
             attrition(5, panel={"2015": {"excluded_home_invalid_code": 4, "excluded_work_invalid_code": 1}})))
    add(Case("christianso_411", "panel", "411 Christiansø at home and at work: kept as 400 Bornholm",
             {"ras2015.parquet": lambda: parquet(dst([(1, 411, 1, 9001, 400, "2512"),
                                                       (2, 400, 2, 9002, 411, "2512")]))},
             ["christianso_411/ras2015.parquet"],
             attrition(2, flags={"home_alias": 1, "work_alias": 1}, panel={"2015": {"kept_code_alias": 2}})))

    # --- DISCO and LBNR ----------------------------------------------------------------------
    add(Case("disco_all_null", "panel", "DISCO empty for everyone",
             {"ras2015.csv": csv(DST, [(p, h, a, l, w, None) for p, h, a, l, w, _ in BASE])},
             ["disco_all_null/ras2015.csv"],
             attrition(3, flags={"disco_unclassified": 3}, panel={"2015": {"kept_disco_unclassified": 3}})))
    add(Case("disco_3_4_6_digits", "panel",
             "DISCO as text with 3 (minor group 251), 4 and 6 digits: all classified by prefix",
             {"ras2015.csv": csv(DST, [(1, 101, 1, 9001, 101, "251"), (2, 101, 2, 9002, 101, "2512"),
                                       (3, 101, 3, 9003, 101, "251200")])},
             ["disco_3_4_6_digits/ras2015.csv"], attrition(3, panel={"2015": {"kept": 3}})))
    add(Case("disco_as_numbers", "panel",
             "DISCO stored as floats: 110 and 11000 lost their leading zero, restored as 0110 / 011000",
             {"ras2015.parquet": lambda: parquet(dst([(1, 101, 1, 9001, 101, None), (2, 101, 2, 9002, 101, None),
                                                       (3, 101, 3, 9003, 101, None)]).with_columns(
                 pl.Series("DISCO08_ALLE_INDK_13", [110.0, 11000.0, 251200.0])))},
             ["disco_as_numbers/ras2015.parquet"],
             attrition(3, flags={"disco_numeric": 3}, warnings=["DISCO was stored as numbers"],
                       panel={"2015": {"kept": 3}})))
    add(Case("disco_fractional", "panel", "DISCO 2512.5: not a code",
             {"ras2015.parquet": lambda: parquet(dst(BASE[:1]).with_columns(
                 pl.lit(2512.5).alias("DISCO08_ALLE_INDK_13")))},
             ["disco_fractional/ras2015.parquet"],
             error("column DISCO08_ALLE_INDK_13 are not whole numbers", "column: DISCO08_ALLE_INDK_13", "'2512.5'")))
    add(Case("lbnr0_everywhere_panel", "panel", "LBNR 0 (unknown workplace) for everyone",
             {"ras2015.parquet": lambda: parquet(dst([(p, h, a, 0, w, d) for p, h, a, _, w, d in BASE]))},
             ["lbnr0_everywhere_panel/ras2015.parquet"],
             attrition(3, flags={"lbnr0": 3}, panel={"2015": {"kept_lbnr0": 3}})))
    add(Case("lbnr_missing", "panel", "LBNR empty: stored as 0 and counted",
             {"ras2015.csv": csv(DST, [(1, 101, 1, None, 101, "2512"), (2, 101, 2, 9002, 101, "2512")])},
             ["lbnr_missing/ras2015.csv"],
             attrition(2, flags={"lbnr_missing": 1}, panel={"2015": {"kept_lbnr_missing": 1, "kept": 1}})))

    # --- column maps -------------------------------------------------------------------------
    add(Case("column_map_absent_column", "panel", "a column map naming a column the file does not have",
             {"ras2015.parquet": base_pq, "column_map.toml": b'[columns]\nwork_muni = "ARBKOMMUNE"\n'},
             ["column_map_absent_column/ras2015.parquet"],
             error("required column(s) not found", "ras2015.parquet", "column: work_muni", "ARBKOMMUNE",
                   "'ARBKOM'", "column map"),
             options={"column_map": "column_map_absent_column/column_map.toml"}))
    add(Case("column_map_renames_ok", "panel", "a column map naming the odd workplace column",
             {"column_map.toml": b'[columns]\nwork_muni = ["ARB_KOMMUNE"]\n'},
             ["renamed_column_unknown/ras2015.parquet"], attrition(3, panel={"2015": {"kept": 3}}),
             options={"column_map": "column_map_renames_ok/column_map.toml"}))
    add(Case("column_map_unknown_field", "panel", "a column map with a field pendling does not know",
             {"column_map.toml": b'[columns]\nkommune = "KOM"\n'}, ["renamed_column_komarb/ras2015.parquet"],
             error("column map names fields that pendling does not know", "column_map.toml", "column: [columns]",
                   "'kommune'", "canonical field names"),
             options={"column_map": "column_map_unknown_field/column_map.toml"}))
    add(Case("column_map_not_toml", "panel", "a column map that is not TOML",
             {"column_map.toml": b"work_muni: ARBKOM\n"}, ["renamed_column_komarb/ras2015.parquet"],
             error("column map is not valid TOML", "column_map.toml"),
             options={"column_map": "column_map_not_toml/column_map.toml"}))
    add(Case("column_map_empty_required", "panel", "a column map switching off PNR",
             {"column_map.toml": b"[columns]\npnr = []\n"}, ["renamed_column_komarb/ras2015.parquet"],
             error("pnr is required and needs at least one column name", "column_map.toml"),
             options={"column_map": "column_map_empty_required/column_map.toml"}))

    # --- matrices ----------------------------------------------------------------------------
    m97 = [c for c in codes if c != 860]
    add(Case("matrix_missing_municipality", "matrix", "a national matrix without 860 Hjørring",
             {"od_matrix.parquet": lambda: parquet(full_matrix(m97))},
             ["matrix_missing_municipality/od_matrix.parquet"],
             error("the matrix misses 1 of the 98 municipalities", "od_matrix.parquet", "[860]",
                   "pendling matrix build"),
             options={"require_all": True}))

    def mcase(id_: str, about: str, rows: list[tuple], expect: dict[str, Any], header=MATRIX_HEADER) -> None:
        add(Case(id_, "matrix", about, {"od_matrix.csv": csv(header, rows)}, [f"{id_}/od_matrix.csv"], expect,
                 options={"require_all": False}, cli=False))

    mcase("matrix_zero_minutes", "one pair with 0 minutes", small_matrix({(101, 147): 0.0}),
          error("1 matrix cells have minutes that are missing, NaN, infinite, zero or negative", "od_matrix.csv",
                "column: minutes", "101→147=0.0", "positive times"))
    mcase("matrix_nan_minutes", "one pair with NaN minutes", small_matrix({(147, 751): "NaN"}),
          error("1 matrix cells have minutes", "od_matrix.csv", "147→751=NaN"))
    mcase("matrix_missing_minutes", "one pair with an empty minutes field", small_matrix({(751, 101): None}),
          error("1 matrix cells have minutes", "od_matrix.csv", "751→101=missing"))
    mcase("matrix_infinite_minutes", "one unreachable pair written as inf", small_matrix({(101, 751): "inf"}),
          error("1 matrix cells have minutes", "od_matrix.csv", "101→751=inf"))
    mcase("matrix_zero_diagonal", "within-municipality times of 0 (built with --internal zero)",
          small_matrix({(c, c): 0.0 for c in (101, 147, 751)}),
          error("3 matrix cells have minutes", "(3 on the diagonal)", "101→101=0.0", "--internal area"))
    mcase("matrix_negative_minutes", "a negative time", small_matrix({(147, 101): -3.5}),
          error("1 matrix cells have minutes", "147→101=-3.5"))
    mcase("matrix_pair_missing", "not square: the pair 101→147 absent",
          [r for r in small_matrix() if r[:2] != (101, 147)],
          error("the matrix is not square: 8 pairs for 3 municipalities (expected 9)", "od_matrix.csv", "'101→147'",
                "every origin needs a row for every destination"))
    mcase("matrix_non_square_origins", "not square: 751 only ever a destination",
          [r for r in small_matrix() if r[0] != 751],
          error("the matrix is not square: 6 pairs for 3 municipalities", "'751→101'", "'751→751'"))
    mcase("matrix_duplicate_pair", "the pair 101→147 twice",
          small_matrix() + [(101, 147, 9.0, 10.8)],
          error("duplicate origin/destination pairs", "od_matrix.csv", "101→147", "each ordered pair must appear once"))
    mcase("matrix_alias_and_target", "both 400 Bornholm and its alias 411 Christiansø",
          small_matrix(codes=(400, 411)),
          error("duplicate origin/destination pairs", "400→400", "411 Christiansø counts as 400 Bornholm"))
    mcase("matrix_unknown_code", "a code 999 among the origins",
          small_matrix(codes=(101, 999)),
          error("matrix codes that are not among the 98 municipalities", "od_matrix.csv", "column: origin", "'999'"))
    mcase("matrix_fractional_code", "a code 101.5",
          [(101.5 if o == 101 else o, d, m, k) for o, d, m, k in small_matrix()],
          error("municipality codes must be whole numbers", "od_matrix.csv", "column: origin", "101.5"))
    mcase("matrix_code4_text", "codes written '0101' (DAGI style): accepted",
          [(f"{o:04d}", f"{d:04d}", m, k) for o, d, m, k in small_matrix()],
          {"outcome": "valid", "rows": 9, "codes": [101, 147, 751]})
    mcase("matrix_no_km", "the km column missing", [r[:3] for r in small_matrix()],
          error("the travel-time matrix lacks required columns", "od_matrix.csv", "column: km"),
          header=MATRIX_HEADER[:3])
    mcase("matrix_wide_format", "the human-readable wide form given instead of the long one",
          [(o, *(synthetic_minutes(o, d) for d in (101, 147, 751))) for o in (101, 147, 751)],
          error("lacks required columns", "column: destination, minutes, km"), header=("origin", "101", "147", "751"))
    add(Case("matrix_decimal_comma", "matrix", "';'-separated matrix with decimal commas (Danish Excel)",
             {"od_matrix.csv": csv(MATRIX_HEADER, [(o, d, str(m).replace(".", ","), str(k).replace(".", ","))
                                                   for o, d, m, k in small_matrix()], sep=";")},
             ["matrix_decimal_comma/od_matrix.csv"],
             error("matrix column minutes holds values that are not numbers", "od_matrix.csv", "'6,0'",
                   "not a decimal comma"), options={"require_all": False}, cli=False))
    mcase("matrix_negative_km", "a negative road distance", [(o, d, m, -k if (o, d) == (147, 751) else k)
                                                              for o, d, m, k in small_matrix()],
          error("1 matrix cells have km", "147→751=-"))
    full_pq = parquet(full_matrix(codes))
    small_pq = parquet(pl.DataFrame(small_matrix(), schema=list(MATRIX_HEADER), orient="row"))
    add(Case("matrix_truncated", "matrix", "a matrix file cut short (copy interrupted)",
             {"od_matrix.parquet": small_pq[: len(small_pq) // 2]}, ["matrix_truncated/od_matrix.parquet"],
             error("cannot read the travel-time matrix", "od_matrix.parquet", "not truncated or empty")))
    add(Case("matrix_empty_file", "matrix", "a zero-byte matrix CSV",
             {"od_matrix.csv": b""}, ["matrix_empty_file/od_matrix.csv"],
             error("cannot read the travel-time matrix", "od_matrix.csv", "empty CSV")))
    add(Case("matrix_unsupported_suffix", "matrix", "a matrix handed over as .xlsx",
             {"od_matrix.xlsx": b"PK\x03\x04"}, ["matrix_unsupported_suffix/od_matrix.xlsx"],
             error("unsupported matrix file type '.xlsx'", "od_matrix.xlsx", ".parquet or .csv")))

    # --- whole runs: panel + matrix ------------------------------------------------------------
    mover_csv = {
        "ras2015.csv": csv(DST, [(p, f"{h:04d}", a, l, f"{w:04d}", d) for p, h, a, l, w, d in y15]),
        "ras2016.csv": csv(DST, [(p, f"{h:04d}", a, l, f"{w:04d}", d) for p, h, a, l, w, d in y16]),
        "od_matrix.parquet": full_pq,
    }
    flows = {"2016": {"mover": 6, "stayer": 1, "job_changer": 1}}
    add(Case("codes_0101_panel_vs_int_matrix", "compute",
             "panel codes as text '0751', matrix codes as integers: same municipalities, same result",
             mover_csv, ["codes_0101_panel_vs_int_matrix"],
             attrition(flows=flows, panel={"2015": {"kept": 8}, "2016": {"kept": 8}}, results=[mover_expect]),
             options={"years": "2016", "matrix": "codes_0101_panel_vs_int_matrix/od_matrix.parquet",
                      "disclosure": False}))
    add(Case("codes_int_panel_vs_0101_matrix", "compute",
             "panel codes as integers, matrix codes as text '0101'",
             {"ras2015.parquet": lambda: parquet(dst(y15)), "ras2016.parquet": lambda: parquet(dst(y16)),
              "od_matrix.parquet": lambda: parquet(full_matrix(codes, as_code4=True))},
             ["codes_int_panel_vs_0101_matrix"],
             attrition(flows=flows, results=[mover_expect]),
             options={"years": "2016", "matrix": "codes_int_panel_vs_0101_matrix/od_matrix.parquet",
                      "disclosure": False}))
    lbnr0 = [(p, 751 if p % 2 else 461, p, 0, 751, "2512") for p in range(1, 7)]
    lbnr0_next = [(p, 461, p + 100, 0, 751, "2512") for p in range(1, 7)]  # odd pnr moved 751 → 461
    add(Case("lbnr0_everywhere_compute", "compute",
             "LBNR 0 for everyone in both years: no flow can be formed, all counted as fictive_workplace",
             {"ras2015.parquet": lambda: parquet(dst(lbnr0)), "ras2016.parquet": lambda: parquet(dst(lbnr0_next))},
             ["lbnr0_everywhere_compute"],
             attrition(flows={"2016": {"fictive_workplace": 6}},
                       panel={"2015": {"kept_lbnr0": 6}, "2016": {"kept_lbnr0": 6}},
                       results=[{"flow": "movers", "job_group": "all", "region": "all", "n": 0},
                                {"flow": "job_changers", "job_group": "all", "region": "all", "n": 0}]),
             options={"years": "2016"}))
    stayers = [(p, 751, p, 9000 + p, 751, "2512") for p in range(1, 7)]
    add(Case("previous_year_excluded", "compute",
             "a person whose 2015 row is excluded (home 999) is counted as no_previous_year in 2016",
             {"ras2015.parquet": lambda: parquet(dst(stayers + [(7, 999, 7, 9007, 751, "2512")])),
              "ras2016.parquet": lambda: parquet(dst(stayers + [(7, 751, 7, 9007, 751, "2512")]))},
             ["previous_year_excluded"],
             attrition(flows={"2016": {"stayer": 6, "no_previous_year": 1}},
                       panel={"2015": {"kept": 6, "excluded_home_abroad_or_unknown": 1}, "2016": {"kept": 7}}),
             options={"years": "2016", "disclosure": False}))
    add(Case("year_with_no_rows_compute", "compute", "flows for 2017 when 2016 has no rows",
             {}, ["year_with_no_rows"],
             error("so it needs both years", "[2017]", "the data hold 2015,2017", "load at least two consecutive years"),
             options={"years": "2017"}))
    add(Case("single_year_compute", "compute", "one year only: no flows can be formed",
             {}, ["renamed_column_komarb"],
             error("the panel has no two consecutive years", "[2015]", "load at least two consecutive years")))
    add(Case("compute_matrix_missing_municipality", "compute", "a run against the matrix without 860",
             {}, ["codes_int_panel_vs_0101_matrix"],
             error("the matrix misses 1 of the 98 municipalities", "od_matrix.parquet", "[860]"),
             options={"years": "2016", "matrix": "matrix_missing_municipality/od_matrix.parquet"}))
    add(Case("memory_limit_unreadable", "compute", "--memory-limit '2 gigs'",
             {}, ["codes_int_panel_vs_0101_matrix"],
             error("cannot read the memory limit", "'2 gigs'", "e.g. 2GB"),
             options={"years": "2016", "memory_limit": "2 gigs"}))
    add(Case("threads_zero", "compute", "threads=0 (the CLI refuses it while parsing options)",
             {}, ["codes_int_panel_vs_0101_matrix"],
             error("threads must be a whole number of at least 1", "[0]"),
             options={"years": "2016", "threads": 0}, cli=False))
    return out


# ---------------------------------------------------------------------------------------------
# manifest (TOML written by hand: the standard library reads TOML but does not write it)


def _is_flat(v: Any) -> bool:
    return isinstance(v, dict) and not any(isinstance(x, (dict, list)) and not _is_scalar_list(x) for x in v.values())


def _is_scalar_list(v: Any) -> bool:
    return isinstance(v, list) and not any(isinstance(x, dict) for x in v)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # JSON string escapes are valid TOML basic strings
    if _is_scalar_list(v):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if _is_flat(v):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {v!r} as a TOML value")


def _toml_table(prefix: str, table: dict[str, Any], lines: list[str]) -> None:
    """Scalars, lists and flat dicts inline; deeper dicts as [prefix.key]; lists of dicts as [[prefix.key]]."""
    nested = []
    for k, v in table.items():
        if isinstance(v, dict) and not _is_flat(v) or (isinstance(v, list) and not _is_scalar_list(v)):
            nested.append((k, v))
        else:
            lines.append(f"{k} = {_toml_value(v)}")
    for k, v in nested:
        name = f"{prefix}.{k}"
        if isinstance(v, dict):
            if any(_is_flat(x) or not isinstance(x, dict) for x in v.values()):
                lines.append(f"[{name}]")
            _toml_table(name, v, lines)
        else:
            for item in v:
                lines.append(f"[[{name}]]")
                _toml_table(name, item, lines)


def manifest(all_cases: Sequence[Case]) -> str:
    lines = [
        "# Malformed-input corpus: generated by make_corpus.py (edit the cases there, then rerun it).",
        "# kind: panel (load_panel / `pendling panel check`), matrix (load_matrix / `pendling matrix check`),",
        "#       compute (run / `pendling compute`). inputs and option paths are relative to this folder.",
        "# expect.outcome: error (message contains every string in `contains`), attrition (exact non-zero",
        "#       buckets per stage and year; year 'none' = rows without a year), valid (matrix loads).",
    ]
    for c in all_cases:
        lines.append("\n[[case]]")
        _toml_table("case", {"id": c.id, "kind": c.kind, "about": c.about, "inputs": c.inputs, "cli": c.cli,
                             **({"options": c.options} if c.options else {}), "expect": c.expect}, lines)
    return "\n".join(lines) + "\n"


def build(root: Path) -> list[Case]:
    """Write every case folder and ``cases.toml`` under ``root`` (removing old case folders first)."""
    all_cases = cases()
    ids = [c.id for c in all_cases]
    if len(set(ids)) != len(ids):
        raise SystemExit(f"repeated case ids: {sorted({i for i in ids if ids.count(i) > 1})}")
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        if old.is_dir() and not old.name.startswith("__"):
            shutil.rmtree(old)
    for c in all_cases:
        folder = root / c.id
        if c.files:  # cases reusing another case's files get no folder of their own
            folder.mkdir(exist_ok=True)
        for name, content in sorted(c.files.items()):
            (folder / name).write_bytes(content() if callable(content) else content)
    (root / MANIFEST).write_text(manifest(all_cases), encoding="utf-8")
    return all_cases


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    written = build(target)
    total = sum(p.stat().st_size for p in target.rglob("*") if p.is_file() and p.suffix != ".py")
    print(f"{len(written)} cases written to {target} ({total:,} bytes)")

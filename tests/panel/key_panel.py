"""A small deterministic register extract with integer keys, and the same extract with pseudonymised
text keys (for the string-key tests and ``data/make_key_fixtures.py``).

200 persons × 2019–2021 in DST names; each year a person may move (address, sometimes municipality),
change job (new LBNR and workplace municipality), or sit at the fictive workplace (LBNR 0), so both
flows and several attrition buckets are populated. Some ADRESSE_IDs are missing.
"""

from __future__ import annotations

import random

import polars as pl

YEARS = (2019, 2020, 2021)
CODES = (101, 147, 151, 159, 751, 461, 851, 561, 400, 411)  # 411 Christiansø → 400, an alias
DISCOS = ("251200", "2512", "4110", "7112", "5321", "9999")
COLUMNS = ("PNR", "KOM", "ADRESSE_ID", "LBNR", "ARBKOM", "DISCO08_ALLE_INDK_13")


def int_extract(persons: int = 200, seed: int = 13) -> dict[int, pl.DataFrame]:
    """One frame per year, integer PNR, ADRESSE_ID and LBNR."""
    rnd = random.Random(seed)
    rows: dict[int, list[tuple]] = {y: [] for y in YEARS}
    for pnr in range(1, persons + 1):
        pid = 1_000_000_000 + pnr * 7919  # 10 digits, like DST's pseudonymised PNR
        home, work = rnd.choice(CODES), rnd.choice(CODES)
        addr, lbnr, disco = rnd.randint(1, 10**7), rnd.randint(1, 10**8 - 1), rnd.choice(DISCOS)
        for year in YEARS:
            event = rnd.choice(("same", "same", "move", "move_muni", "job", "lbnr0"))
            if event in ("move", "move_muni"):
                addr = rnd.randint(1, 10**7)
                if event == "move_muni":
                    home = rnd.choice(CODES)
            elif event == "job":
                lbnr, work = rnd.randint(1, 10**8 - 1), rnd.choice(CODES)
            if rnd.random() < 0.9:
                rows[year].append((pid, home, None if rnd.random() < 0.05 else addr,
                                   0 if event == "lbnr0" else lbnr, work, disco))
    schema = {"PNR": pl.Int64, "KOM": pl.Int64, "ADRESSE_ID": pl.Int64, "LBNR": pl.Int64, "ARBKOM": pl.Int64,
              "DISCO08_ALLE_INDK_13": pl.String}
    return {y: pl.DataFrame(r, schema=schema, orient="row") for y, r in rows.items()}


def text_keys(df: pl.DataFrame) -> pl.DataFrame:
    """The same rows with pseudonymised text keys: PNR 'X00…Z', LBNR zero-padded to 8 digits (LBNR 0 as
    '00000000', still the fictive workplace), ADRESSE_ID 'a<n>'. One-to-one, so results must not change."""
    return df.with_columns(
        pl.format("X{}Z", pl.col("PNR").cast(pl.String).str.zfill(13)).alias("PNR"),
        pl.col("LBNR").cast(pl.String).str.zfill(8).alias("LBNR"),
        pl.format("a{}", pl.col("ADRESSE_ID")).alias("ADRESSE_ID"),
    )


def key_map(df: pl.DataFrame) -> dict[str, dict[int, str]]:
    """Integer key → text key per column (for comparing decoded panels)."""
    t = text_keys(df)
    return {c: dict(zip(df[c].to_list(), t[c].to_list(), strict=True)) for c in ("PNR", "LBNR", "ADRESSE_ID")}

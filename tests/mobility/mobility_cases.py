"""Hand-built inputs shared by the mobility tests (imported by conftest.py and the test modules): three municipalities, a 3×3 matrix, a tiny panel.

Municipalities: 101 København and 147 Frederiksberg (Region Hovedstaden 1084, kommunegruppe 1),
751 Aarhus (Region Midtjylland 1082, kommunegruppe 2). Car minutes below; the diagonal is the
within-municipality time.
"""

from __future__ import annotations

import polars as pl

MINUTES = {
    (101, 101): 8.0, (101, 147): 12.0, (101, 751): 180.0,
    (147, 101): 12.0, (147, 147): 6.0, (147, 751): 185.0,
    (751, 101): 180.0, (751, 147): 185.0, (751, 751): 10.0,
}

# pnr: (year, home_muni, home_addr, work_id, work_muni, disco, job_group as the mapping would give it)
PEOPLE = {
    # 1 mover across municipalities, same LBNR: 147→751, works in 101. T 12 → 180.
    1: [(2020, 147, 11, 5001, 101, "251110", "digital"), (2021, 751, 12, 5001, 101, "251110", "digital")],
    # 2 mover within a municipality (new address), works in 147. T 12 → 12, r = 0.
    2: [(2020, 101, 21, 5002, 147, "411010", "office"), (2021, 101, 22, 5002, 147, "411010", "office")],
    # 3 job-changer, same address in Aarhus: LBNR 6001 (751) → 6002 (101). T 10 → 180.
    3: [(2020, 751, 31, 6001, 751, "711200", "physical_social"), (2021, 751, 31, 6002, 101, "711200", "physical_social")],
    # 4 both changed: new address and new LBNR → in neither flow.
    4: [(2020, 101, 41, 5004, 101, "411010", "office"), (2021, 147, 42, 5005, 147, "411010", "office")],
    # 5 relocated workplace: same LBNR, workplace municipality 101 → 147, same home.
    5: [(2020, 147, 51, 5006, 101, "251110", "digital"), (2021, 147, 51, 5006, 147, "251110", "digital")],
    # 6 LBNR = 0 at t-1 (fictive workplace), moves home.
    6: [(2020, 101, 61, 0, 101, "911200", "physical_social"), (2021, 147, 62, 5007, 147, "911200", "physical_social")],
    # 7 missing in t-1: only a 2021 row.
    7: [(2021, 101, 71, 5008, 101, "251110", "digital")],
    # 8 mover with an unknown DISCO: 101→147, works in 147. T 12 → 6, r = -0.5.
    8: [(2020, 101, 81, 5009, 147, "999999", "unclassified"), (2021, 147, 82, 5009, 147, "999999", "unclassified")],
    # 9 stayer.
    9: [(2020, 751, 91, 6003, 751, "251110", "digital"), (2021, 751, 91, 6003, 751, "251110", "digital")],
    # 10 mover whose DISCO changes: job group is taken at t-1 (digital). 751→147, works in 101, T 180 → 12.
    10: [(2020, 751, 101, 6004, 101, "251110", "digital"), (2021, 147, 102, 6004, 101, "411010", "office")],
    # 11 job-changer with unknown addresses (null ADRESSE_ID) in the same municipality: 147 → works 147 then 101.
    11: [(2020, 147, None, 5010, 147, "411010", "office"), (2021, 147, None, 5011, 101, "411010", "office")],
    # 12 present only in t-1 (left the panel): no 2021 row, so not in 2021's attrition.
    12: [(2020, 101, 121, 5012, 101, "411010", "office")],
}


def panel_rows(people: dict = PEOPLE) -> pl.DataFrame:
    rows = [(pnr, *r) for pnr, recs in people.items() for r in recs]
    return pl.DataFrame(
        rows,
        schema={
            "pnr": pl.Int64, "year": pl.Int16, "home_muni": pl.Int16, "home_addr": pl.Int64,
            "work_id": pl.Int64, "work_muni": pl.Int16, "disco": pl.Utf8, "job_group": pl.Utf8,
        },
        orient="row",
    ).sort("pnr", "year")


def flow_kind(moved: bool, same_job: bool, moved_addr: bool) -> str:
    """The reference tests' reading of the flow rules for one person between two years (issue 4): the
    transition kind, given whether the home moved (by the definition in use), the job (LBNR) stayed,
    and the address changed."""
    if moved and same_job:
        return "mover"
    if moved:
        return "both_changed"
    if not same_job:
        return "job_changer"
    return "moved_within_municipality" if moved_addr else "stayer"

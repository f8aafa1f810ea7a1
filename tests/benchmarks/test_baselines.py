"""The benchmark baselines (benchmarks/baselines.py) on small hand-made panels: one cell family worked
out by hand, every baseline equal to every other, and all of them equal to pendling on a panel full of
edge cases (unknown addresses, contradictory residences, gaps, fictive and relocated workplaces).
Minutes are car minutes; r is a fraction."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import polars as pl
import pytest

REPO = Path(__file__).resolve().parents[2]
CELL_BASELINES = ("duckdb_bare", "pandas_idiomatic", "pandas_groupby_shift", "pandas_per_person")


@pytest.fixture(scope="module")
def baselines():
    # loaded by path under its own name: benchmarks/ is not a package and must not shadow test modules
    spec = importlib.util.spec_from_file_location("pendling_bench_baselines", REPO / "benchmarks" / "baselines.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(baselines, name: str, panel: pl.DataFrame, od: pl.DataFrame, years: tuple[int, int]) -> pl.DataFrame:
    fn = getattr(baselines, name)
    if name == "duckdb_bare":
        return fn(panel, od, years)
    return fn(panel.to_pandas(), od.select("origin", "destination", "minutes").to_pandas(), years)


# ----------------------------------------------------------------------------- a cell by hand

# toy matrix: 101, 147 in Region Hovedstaden (1084), 265 in Region Sjælland (1085)
TOY_MINUTES = {
    (101, 101): 10.0, (101, 147): 20.0, (101, 265): 40.0,
    (147, 101): 15.0, (147, 147): 8.0, (147, 265): 35.0,
    (265, 101): 40.0, (265, 147): 30.0, (265, 265): 12.0,
}  # fmt: skip
TOY_REGION = {101: 1084, 147: 1084, 265: 1085}

# pnr: (year, home_muni, home_addr, work_id, work_muni, job_group)
TOY_PEOPLE = {
    # movers, all office and living in Hovedstaden at t-1
    1: [(2020, 101, 1, 500, 101, "office"), (2021, 265, 2, 500, 101, "digital")],  # T 10 → 40; group/region at t-1
    2: [(2020, 147, 3, 600, 101, "office"), (2021, 101, 4, 600, 101, "office")],  # T 15 → 10
    # no ADRESSE_ID: the KOM change is the move; T 40 → 35
    3: [(2020, 101, None, 700, 265, "office"), (2021, 147, None, 700, 265, "office")],
    4: [(2020, 101, 11, 1600, 147, "office"), (2021, 101, 12, 1600, 147, "office")],  # new address, same KOM: 20 → 20
    # job changers, digital, Region Sjælland at t-1
    5: [(2020, 265, 6, 1000, 265, "digital"), (2021, 265, 6, 1100, 101, "digital")],  # T 12 → 40
    # ADRESSE_ID known in one year only: the KOM decides (no move); T 30 → 12
    6: [(2020, 265, 13, 1700, 147, "digital"), (2021, 265, None, 1800, 265, "digital")],
    # in neither flow
    7: [(2020, 101, 5, 800, 101, "office"), (2021, 147, 5, 900, 147, "office")],  # same ADRESSE_ID, other KOM
    8: [(2020, 101, 7, 0, 101, "office"), (2021, 147, 8, 1200, 101, "office")],  # LBNR 0 at t-1
    9: [(2019, 101, 9, 1300, 101, "office"), (2021, 265, 10, 1300, 101, "office")],  # no 2020 row
    10: [(2020, 101, 14, 1400, 101, "office"), (2021, 265, 15, 1400, 147, "office")],  # same LBNR, relocated
    11: [(2020, 101, 16, 1500, 101, "office"), (2021, 147, 17, 1501, 101, "office")],  # moved and new LBNR
    12: [(2020, 147, 18, 1900, 147, "digital"), (2021, 147, 18, 1900, 147, "digital")],  # stayer
}  # fmt: skip


def _toy() -> tuple[pl.DataFrame, pl.DataFrame]:
    rows = [(pnr, y, h, a, w, wm, jg, TOY_REGION[h]) for pnr, recs in TOY_PEOPLE.items() for y, h, a, w, wm, jg in recs]
    schema = {"pnr": pl.Int64, "year": pl.Int16, "home_muni": pl.Int16, "home_addr": pl.Int64, "work_id": pl.Int64,
              "work_muni": pl.Int16, "job_group": pl.Utf8, "region_code": pl.Int16}
    panel = pl.DataFrame(rows, schema=schema, orient="row").sort("pnr", "year")
    od = pl.DataFrame([(o, d, m) for (o, d), m in TOY_MINUTES.items()],
                      schema={"origin": pl.Int16, "destination": pl.Int16, "minutes": pl.Float64}, orient="row")
    return panel, od


def _expected_by_hand() -> pl.DataFrame:
    movers = [(10, 40), (15, 10), (40, 35), (20, 20)]  # (T_{t-1}, T_t) of persons 1–4
    changers = [(12, 40), (30, 12)]  # persons 5–6
    rows = []
    for flow, group, region, pairs in (("movers", "office", "hovedstaden", movers),
                                       ("job_changers", "digital", "rest", changers)):
        mean_r = sum(t1 / t0 - 1 for t0, t1 in pairs) / len(pairs)
        ratio = sum(t1 for _, t1 in pairs) / sum(t0 for t0, _ in pairs) - 1
        for reg in (region, "all"):  # one region only, so 'all' is the same cell
            rows.append((2021, flow, group, reg, len(pairs), mean_r, ratio))
    return pl.DataFrame(rows, schema={"year": pl.Int16, "flow": pl.String, "job_group": pl.String,
                                      "region": pl.String, "n": pl.Int64, "mean_rel_change": pl.Float64,
                                      "ratio_of_means": pl.Float64}, orient="row").sort("year", "flow", "job_group",
                                                                                        "region")


def test_per_person_baseline_matches_a_cell_computed_by_hand(baselines):
    panel, od = _toy()
    got = _run(baselines, "pandas_per_person", panel, od, (2020, 2021))
    expected = _expected_by_hand()
    # spelled out: movers (3 − 1/3 − 1/8 + 0) / 4, 105 / 85 − 1; job changers (7/3 − 3/5) / 2, 52 / 42 − 1
    assert expected["mean_rel_change"].to_list()[2] == pytest.approx((3 - 1 / 3 - 1 / 8 + 0) / 4)
    assert expected["ratio_of_means"].to_list()[0] == pytest.approx(52 / 42 - 1)
    assert got.select("year", "flow", "job_group", "region", "n").equals(
        expected.select("year", "flow", "job_group", "region", "n"))
    for col in ("mean_rel_change", "ratio_of_means"):
        assert np.allclose(got[col].to_numpy(), expected[col].to_numpy(), rtol=0, atol=1e-12), col


@pytest.mark.parametrize("name", CELL_BASELINES)
def test_every_baseline_gives_the_hand_computed_cells(baselines, name):
    panel, od = _toy()
    got = _run(baselines, name, panel, od, (2020, 2021))
    expected = _expected_by_hand()
    assert got.height == expected.height, got
    d = baselines.max_abs_difference(expected, got)
    assert d["cells_only_in_one"] == 0 and d["n"] == 0
    assert d["mean_rel_change"] <= 1e-12 and d["ratio_of_means"] <= 1e-12


def test_the_contradictory_residence_is_in_neither_flow(baselines):
    """Person 7 (same ADRESSE_ID, KOM 101 → 147, new LBNR) would be a job-changer by the address
    rule alone; with the contradiction rule there are exactly the two hand-picked job-changers."""
    panel, od = _toy()
    for name in CELL_BASELINES:
        got = _run(baselines, name, panel, od, (2020, 2021))
        changers = got.filter(pl.col("flow") == "job_changers", pl.col("region") == "all")
        assert changers["n"].sum() == 2, name
        assert "office" not in changers["job_group"].to_list(), name


# ----------------------------------------------------------------------------- against pendling

CODES = [101, 147, 151, 265, 751, 461, 851]  # three in Hovedstaden, one each in four other regions
DISCO = ["251200", "411000", "513100", "241100", "711200"]


def _edge_case_panel(persons: int = 600, seed: int = 7) -> pl.DataFrame:
    """Canonical person-years 2016–2021 with every kind of transition, including unknown addresses,
    contradictory residences (same ADRESSE_ID, other KOM), gaps and LBNR 0. Small test data: built
    person by person."""
    rng = np.random.default_rng(seed)
    rows = []
    next_addr, next_job = 10_000, 50_000
    for pnr in range(1, persons + 1):
        home, addr = int(rng.choice(CODES)), next_addr
        job, work, disco = next_job, int(rng.choice(CODES)), str(rng.choice(DISCO))
        next_addr, next_job = next_addr + 1, next_job + 1
        for year in range(2016, 2022):
            u = rng.random(6)
            if u[0] < 0.25:  # move: new address, mostly in another municipality
                addr, next_addr = next_addr, next_addr + 1
                home = home if u[1] < 0.3 else int(rng.choice(CODES))
            elif u[0] < 0.30:  # contradiction: same address, another municipality
                home = int(rng.choice([c for c in CODES if c != home]))
            if u[2] < 0.25:  # new workplace
                job, next_job = next_job, next_job + 1
                work = int(rng.choice(CODES))
            elif u[2] < 0.30:  # same LBNR, workplace municipality relocated
                work = int(rng.choice(CODES))
            if u[3] < 0.1:
                disco = str(rng.choice(DISCO))
            if u[4] < 0.06:  # gap year: no row
                continue
            unknown_addr = u[5] < 0.08
            fictive = rng.random() < 0.04
            rows.append((pnr, year, home, None if unknown_addr else addr, 0 if fictive else job, work, disco))
    schema = {"pnr": pl.Int64, "year": pl.Int16, "home_muni": pl.Int16, "home_addr": pl.Int64, "work_id": pl.Int64,
              "work_muni": pl.Int16, "disco": pl.Utf8}
    return pl.DataFrame(rows, schema=schema, orient="row").sort("pnr", "year")


def test_all_baselines_equal_pendling_on_edge_cases(baselines):
    import pendling.mobility as mob
    from pendling.odmatrix import load_matrix
    from pendling.panel.load import add_derived_columns

    frame = _edge_case_panel()
    pairs = frame.join(frame.with_columns(pl.col("year") + 1), on=["pnr", "year"], suffix="_0")
    contradictory_job_changes = pairs.filter(
        pl.col("home_addr") == pl.col("home_addr_0"), pl.col("home_muni") != pl.col("home_muni_0"),
        pl.col("work_id") != pl.col("work_id_0"), pl.col("work_id") != 0, pl.col("work_id_0") != 0,
    ).height
    assert contradictory_job_changes > 0  # the contradiction rule decides cells here
    assert pairs.filter(pl.col("home_addr").is_null() | pl.col("home_addr_0").is_null()).height > 0

    engine = mob.compute(frame, disclosure=False)
    derived = add_derived_columns(frame)
    od = load_matrix()
    for name in CELL_BASELINES:
        got = _run(baselines, name, derived, od, (2017, 2021))
        d = baselines.max_abs_difference(engine, got)
        assert d["cells"] > 30, (name, d)
        assert d["cells_only_in_one"] == 0 and d["n"] == 0, (name, d)
        assert d["mean_rel_change"] <= 1e-9 and d["ratio_of_means"] <= 1e-9, (name, d)

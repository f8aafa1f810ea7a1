"""Grid zones: the engine against a plain-Python re-implementation of the grid rules on a random panel
with home and workplace cells, and a zone-pair time table given directly (no routing here)."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict

import polars as pl
import pytest

import pendling.mobility as mob
from pendling.errors import InputError
from pendling.mobility.api import run
from mobility_cases import flow_kind

CELLS = {
    101: ["1km_6176_724", "1km_6176_725", "1km_6175_724"],
    147: ["1km_6175_721", "1km_6176_721"],
    751: ["1km_6224_574", "1km_6225_574", "1km_6224_575"],
    999: ["1km_6100_600"],
}
REGION = {101: 1084, 147: 1084, 751: 1082}
GROUPS = ["digital", "office", "physical_social", "unclassified"]
ALL_CELLS = sorted({c for cs in CELLS.values() for c in cs})


def zone_minutes(seed: int = 4) -> dict[tuple[str, str], float]:
    rng = random.Random(seed)
    out = {(o, d): round(rng.uniform(1.0, 200.0), 3) for o in ALL_CELLS for d in ALL_CELLS}
    del out[("1km_6176_725", "1km_6175_721")]  # one pair without a route: unroutable_zone
    return out


def random_grid_panel(n_people: int = 1500, years=range(2017, 2022), seed: int = 11) -> pl.DataFrame:
    rng = random.Random(seed)
    codes = [101, 147, 751]
    rows = []
    for pnr in range(1, n_people + 1):
        home, addr = rng.choice(codes), rng.randrange(1, 10**6)
        hz = rng.choice(CELLS[home])
        work_id, work = rng.randrange(1, 300), rng.choice(codes)
        wz = rng.choice(CELLS[work])
        group = rng.choice(GROUPS)
        for year in years:
            if rng.random() < 0.2:  # move: new address, often only a new cell in the same municipality
                addr = rng.randrange(1, 10**6)
                if rng.random() < 0.4:
                    home = rng.choice(codes + [999])
                hz = rng.choice(CELLS[home])
            if rng.random() < 0.15:
                work_id = rng.choice([0, rng.randrange(1, 300)])
                work = rng.choice(codes)
                wz = rng.choice(CELLS[work])
            if rng.random() < 0.03:  # same ADRESSE_ID, another cell: a contradiction
                hz = rng.choice(CELLS[home])
            if rng.random() < 0.04:  # workplace moved to another cell, same LBNR
                wz = rng.choice(CELLS[work])
            if rng.random() < 0.05:
                group = rng.choice(GROUPS)
            if rng.random() < 0.08:
                continue
            shown_addr = None if rng.random() < 0.3 else addr  # often unknown: the cell decides
            rows.append((pnr, year, home, shown_addr, work_id, work, None, group, hz, wz))
    return pl.DataFrame(rows, schema={
        "pnr": pl.Int64, "year": pl.Int16, "home_muni": pl.Int16, "home_addr": pl.Int64, "work_id": pl.Int64,
        "work_muni": pl.Int16, "disco": pl.Utf8, "job_group": pl.Utf8, "home_zone": pl.Utf8, "work_zone": pl.Utf8},
        orient="row")


def reference(frame: pl.DataFrame, definition: str, minutes: dict):
    by_key = {(r["pnr"], r["year"]): r for r in frame.iter_rows(named=True)}
    counts: dict[tuple[int, str], int] = defaultdict(int)
    cells: dict[tuple, list] = defaultdict(list)
    for (pnr, year), cur in by_key.items():
        if year == frame["year"].min():
            continue
        prev = by_key.get((pnr, year - 1))
        if prev is None:
            counts[(year, "no_previous_year")] += 1
            continue
        if prev["work_id"] == 0 or cur["work_id"] == 0:
            counts[(year, "fictive_workplace")] += 1
            continue
        same_job = prev["work_id"] == cur["work_id"]
        if same_job and (prev["work_muni"] != cur["work_muni"] or prev["work_zone"] != cur["work_zone"]):
            counts[(year, "workplace_relocated")] += 1
            continue
        moved_kom = prev["home_muni"] != cur["home_muni"]
        moved_cell = prev["home_zone"] != cur["home_zone"]
        both_addr = prev["home_addr"] is not None and cur["home_addr"] is not None
        moved_addr = (both_addr and prev["home_addr"] != cur["home_addr"]) or moved_cell
        if both_addr and prev["home_addr"] == cur["home_addr"] and (moved_kom or moved_cell):
            counts[(year, "address_conflict")] += 1
            continue
        moved = (moved_kom or moved_addr) if definition == "address" else moved_kom
        kind = flow_kind(moved, same_job, moved_addr)
        if kind not in ("mover", "job_changer"):
            counts[(year, kind)] += 1
            continue
        if any(c not in REGION for c in (prev["home_muni"], prev["work_muni"], cur["home_muni"], cur["work_muni"])):
            counts[(year, f"{kind}_unknown_municipality")] += 1
            continue
        before = minutes.get((prev["home_zone"], prev["work_zone"]))
        after = minutes.get((cur["home_zone"], cur["work_zone"]))
        if before is None or after is None:
            counts[(year, f"{kind}_unroutable_zone")] += 1
            continue
        counts[(year, kind)] += 1
        flow = "movers" if kind == "mover" else "job_changers"
        region = "hovedstaden" if REGION[prev["home_muni"]] == 1084 else "rest"
        for g in (prev["job_group"], *(["all"] if prev["job_group"] != "unclassified" else [])):
            for reg in (region, "all"):
                cells[(year, flow, g, reg)].append((before, after))
    return counts, cells


def _zt(minutes: dict) -> pl.DataFrame:
    return pl.DataFrame([(o, d, m) for (o, d), m in sorted(minutes.items())],
                        schema={"origin": pl.Utf8, "destination": pl.Utf8, "minutes": pl.Float64}, orient="row")


@pytest.mark.parametrize("definition", ["address", "municipality"])
def test_grid_engine_matches_reference(definition, matrix, municipalities):
    frame, minutes = random_grid_panel(), zone_minutes()
    counts, cells = reference(frame, definition, minutes)
    for b in ("address_conflict", "workplace_relocated", "mover_unroutable_zone", "mover_unknown_municipality"):
        assert counts[(2020, b)] > 0, b  # the panel exercises every rule
    kw = dict(municipalities=municipalities, mover_definition=definition, zones="grid1km", zone_times=_zt(minutes))
    att = mob.attrition(frame, matrix, disclosure=False, **kw)
    got = {(y, b): n for y, b, n in att.select("year", "bucket", "n").rows() if n}
    assert got == dict(counts)
    res = mob.compute(frame, matrix, disclosure=False, **kw)
    nonempty = res.filter(pl.col("n") > 0)
    assert nonempty.height == len(cells)
    for row in nonempty.iter_rows(named=True):
        pairs = cells[(row["year"], row["flow"], row["job_group"], row["region"])]
        assert row["n"] == len(pairs)
        rs = [a / b - 1 for b, a in pairs]
        assert row["mean_rel_change"] == pytest.approx(sum(rs) / len(rs), rel=1e-9, abs=1e-12)
        ratio = sum(a for _, a in pairs) / sum(b for b, _ in pairs) - 1
        assert row["ratio_of_means"] == pytest.approx(ratio, rel=1e-9, abs=1e-12)
        if row["median_rel_change"] is not None:
            assert row["median_rel_change"] == pytest.approx(statistics.median(rs), rel=1e-9, abs=1e-12)


def test_grid_movers_inside_a_municipality_get_a_real_change(matrix, municipalities):
    """At municipality level a move inside København has r = 0; at grid level it is the cell change."""
    frame = pl.DataFrame({
        "pnr": [1, 1], "year": [2020, 2021], "home_muni": [101, 101], "home_addr": [None, None],
        "work_id": [7, 7], "work_muni": [147, 147], "disco": [None, None], "job_group": ["digital", "digital"],
        "home_zone": ["1km_6176_724", "1km_6176_725"], "work_zone": ["1km_6175_721", "1km_6175_721"]},
        schema_overrides={"year": pl.Int16, "home_muni": pl.Int16, "work_muni": pl.Int16, "home_addr": pl.Int64})
    zt = _zt({("1km_6176_724", "1km_6175_721"): 10.0, ("1km_6176_725", "1km_6175_721"): 15.0})
    muni = run(frame, matrix, municipalities=municipalities, disclosure=False)
    assert muni.results.filter(pl.col("n") > 0).height == 0  # without ADRESSE_ID: no move seen at all
    grid = run(frame, matrix, municipalities=municipalities, disclosure=False, zones="grid1km", zone_times=zt)
    cell = grid.results.filter((pl.col("flow") == "movers") & (pl.col("job_group") == "digital")
                               & (pl.col("region") == "all"))
    assert cell["n"].item() == 1 and cell["mean_rel_change"].item() == pytest.approx(0.5)
    notes = dict(grid.method.iter_rows())
    assert notes["zones"].startswith("grid1km") and "heavier tails" in notes["zones"]
    assert "mover_unroutable_zone" in grid.attrition["bucket"].to_list()
    assert "mover_unroutable_zone" not in muni.attrition["bucket"].to_list()
    assert "zones" not in dict(muni.method.iter_rows())
    # 100 m cells are coarsened to the 1 km cell holding them
    fine = frame.with_columns(pl.Series("home_zone", ["100m_61765_7245", "100m_61769_7251"]))
    g2 = run(fine, matrix, municipalities=municipalities, disclosure=False, zones="grid1km", zone_times=zt)
    assert g2.results.equals(grid.results)


def test_grid_zone_errors(matrix, municipalities):
    frame = random_grid_panel(20, years=range(2020, 2022))
    with pytest.raises(InputError, match="coarser"):
        mob.compute(frame, matrix, municipalities=municipalities, zones="grid100m", zone_times=_zt(zone_minutes()))
    with pytest.raises(InputError, match="home and workplace grid cells"):
        mob.compute(frame.drop("work_zone"), matrix, municipalities=municipalities, zones="grid1km")
    with pytest.raises(InputError, match="unknown zones"):
        mob.compute(frame, matrix, municipalities=municipalities, zones="grid2km")
    bad = frame.with_columns(pl.lit("junk").alias("home_zone"))
    with pytest.raises(InputError, match="not DDKN"):
        mob.compute(bad, matrix, municipalities=municipalities, zones="grid1km", zone_times=_zt(zone_minutes()))

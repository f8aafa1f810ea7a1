"""Acceptance at grid level: ``compute --zones grid1km`` recovers the planted cell-level truth
(``truth_grid1km.parquet``), finds nothing where nothing was planted, and the truth itself equals a
brute-force enumeration of cells on a tiny case.

The cell time source is a toy (straight-line km between cell centres at 40 km/h plus 2 minutes, as
in test_grid_synth.py): the truth and the engine are given the same times, so the test is about the
expectation, not about routing (the engine vs an independent reference at grid level:
tests/mobility/test_reference_grid.py).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats

from pendling import mobility
from pendling import zones as Z
from pendling.panel import load_panel
from pendling.synth import generate
from pendling.synth import gridtruth as G

KEYS = ["year", "flow", "job_group", "region"]
MIN_N = 300
FALSE_POSITIVE = 0.05
PERSONS = 40_000
MIN_PROB = 1e-5


def crow_times(pairs: pl.DataFrame) -> pl.DataFrame:
    """Minutes = 2 + straight-line km between cell centres at 40 km/h (an independent toy time); ids
    as DDKN text (the panel's Int64 cell codes are turned into text first)."""
    if pairs["origin"].dtype != pl.Utf8:
        pairs = pairs.with_columns(Z.cell_text(pairs["origin"]), Z.cell_text(pairs["destination"]))
    o, d = Z.parse_cells(pairs["origin"]), Z.parse_cells(pairs["destination"])
    km = np.hypot((o["east_m"] - d["east_m"]).to_numpy(), (o["north_m"] - d["north_m"]).to_numpy()) / 1000
    return pairs.with_columns(pl.Series("minutes", 2.0 + km / 40 * 60))


def _engine_vs_truth(result) -> pl.DataFrame:
    panel = load_panel(result.directory, zones=True)
    used = panel.frame.select(pl.col("home_zone").alias("origin"), pl.col("work_zone").alias("destination")).unique()
    res = mobility.compute(panel, zones="grid1km", zone_times=crow_times(used), disclosure=False)
    return result.grid_truth.join(res, on=KEYS, how="left", suffix="_engine")


@pytest.fixture(scope="module")
def default_grid(tmp_path_factory, matrix):
    out = tmp_path_factory.mktemp("grid-default")
    return generate(out, persons=PERSONS, years="2019-2021", seed=21, scenario="default", matrix=matrix,
                    zones="grid1km", cell_truth=crow_times, cell_truth_min_prob=MIN_PROB)


@pytest.fixture(scope="module")
def null_grid(tmp_path_factory, matrix):
    out = tmp_path_factory.mktemp("grid-null")
    return generate(out, persons=PERSONS, years="2019-2021", seed=22, scenario="null", matrix=matrix,
                    zones="grid1km", cell_truth=crow_times, cell_truth_min_prob=MIN_PROB)


@pytest.fixture(scope="module")
def default_results(default_grid) -> pl.DataFrame:
    return _engine_vs_truth(default_grid)


def test_cell_truth_is_written_beside_the_municipality_truth(default_grid):
    t = pl.read_parquet(default_grid.directory / "truth_grid1km.parquet")
    assert t.equals(default_grid.grid_truth)
    assert (t["zones"] == "grid1km").all() and (t["tail_mass"] < 0.02).all()
    info = default_grid.manifest["zones"]["cell_truth"]
    assert info["file"] == "truth_grid1km.parquet" and info["min_prob"] == MIN_PROB and info["pairs_timed"] > 0
    # the same persons as the municipality-level truth: cells change nothing about who is classified
    both = t.join(default_grid.truth, on=KEYS, suffix="_muni")
    assert both.height == t.height == default_grid.truth.height
    assert (both["n"] == both["n_muni"]).all()
    # and the grid answer differs from it: a move inside a municipality is no longer r = 0
    movers = both.filter(pl.col("flow") == "movers", pl.col("job_group") == "all", pl.col("region") == "all")
    assert (movers["expected_mean_rel_change"] != movers["expected_mean_rel_change_muni"]).all()


def test_engine_counts_the_same_persons(default_results):
    assert (default_results["n"] == default_results["n_engine"]).all()


def test_planted_cells_recovered_within_tolerance_and_sign(default_results):
    big = default_results.filter(pl.col("n") >= MIN_N)
    assert big.height >= 12
    dev = (big["mean_rel_change"] - big["expected_mean_rel_change"]).abs()
    assert (dev <= big["tolerance"]).all(), big.filter(dev > big["tolerance"]).select(
        *KEYS, "n", "expected_mean_rel_change", "mean_rel_change", "tolerance")
    clear = big.filter(pl.col("expected_mean_rel_change").abs() > pl.col("tolerance"))
    assert clear.height >= 4
    assert (np.sign(clear["mean_rel_change"]) == np.sign(clear["expected_mean_rel_change"])).all()


def test_planted_rise_is_in_the_grid_truth_and_the_engine(default_results):
    # the default scenario weakens office movers' distance decay from 2020 to 2021 (report: 6 % -> 14-16 %)
    # while physical & social keep theirs: at grid level too the truth rises more for office, and the
    # engine's change from 2020 to 2021 lies within 4 standard errors of the truth's
    rise = {}
    for g in ("office", "physical_social"):
        cell = default_results.filter(pl.col("flow") == "movers", pl.col("job_group") == g,
                                      pl.col("region") == "all").sort("year")
        truth, eng = cell["expected_mean_rel_change"].to_numpy(), cell["mean_rel_change"].to_numpy()
        se = float(np.hypot(*(cell["sd_rel_change"] / cell["n_engine"].sqrt()).to_numpy()))
        assert abs((eng[1] - eng[0]) - (truth[1] - truth[0])) < 4 * se
        rise[g] = truth[1] - truth[0]
    assert rise["office"] > 0 and rise["office"] - rise["physical_social"] > 0.05, rise


def test_null_scenario_agrees_with_its_grid_truth(null_grid):
    res = _engine_vs_truth(null_grid)
    assert (res["n"] == res["n_engine"]).all()
    cells = res.filter(pl.col("n") >= 100, pl.col("job_group") != "all", pl.col("region") != "all")
    z = (cells["mean_rel_change"] - cells["expected_mean_rel_change"]) / cells["standard_error"]
    significant = int((z.abs() > stats.norm.ppf(1 - FALSE_POSITIVE / 2)).sum())
    assert cells.height >= 12
    assert significant <= int(stats.binom.ppf(0.999, cells.height, FALSE_POSITIVE))


# -- the expectation itself, by brute force -------------------------------------------------------


def _tiny_case(seed: int = 3):
    """Five municipalities with 2-6 cells each (ids of a real 1 km grid strip), random rows."""
    rng = np.random.default_rng(seed)
    n_cells = rng.integers(2, 7, 5)
    cell_muni = np.repeat(np.arange(5), n_cells)
    zone = pl.Series([f"1km_{6100 + i}_{600 + 3 * i % 17}" for i in range(cell_muni.size)])
    within = rng.random(cell_muni.size) ** 3
    within[rng.random(cell_muni.size) < 0.15] = 0.0
    within[np.r_[0, np.cumsum(n_cells)[:-1]]] += 0.01  # every municipality has a cell
    within /= np.bincount(cell_muni, weights=within)[cell_muni]
    R = rng.random((4, 5)) ** 4
    R[1, 2] = 0.0
    R /= R.sum(axis=1, keepdims=True)
    return zone, cell_muni, within, R


def test_expected_times_equal_brute_force_enumeration():
    zone, cell_muni, within, R = _tiny_case()
    times = G.PairTimes(zone, crow_times)
    key_row, key_fixed = np.array([0, 1, 2, 3, 0, 2, 0]), np.array([0, 3, 5, 1, 0, 9, 7])
    for fixed_is_origin in (False, True):
        m1, m2 = G.expected_times(G.support(R, within, cell_muni, 0.0), key_row, key_fixed, fixed_is_origin, times)
        for k, (d, f) in enumerate(zip(key_row, key_fixed, strict=True)):
            e1 = e2 = 0.0
            for c in range(zone.len()):  # every cell, one at a time
                p = R[d, cell_muni[c]] * within[c]
                o, dd = (zone[int(f)], zone[c]) if fixed_is_origin else (zone[c], zone[int(f)])
                t = crow_times(pl.DataFrame({"origin": [o], "destination": [dd]}))["minutes"][0]
                e1, e2 = e1 + p * t, e2 + p * t * t
            assert m1[k] == pytest.approx(e1, rel=1e-12) and m2[k] == pytest.approx(e2, rel=1e-12)
    assert times.asked <= 2 * zone.len() * len(set(key_fixed.tolist()))  # each distinct pair timed once


def test_support_threshold_moves_mass_onto_the_top_cell_and_reports_it():
    zone, cell_muni, within, R = _tiny_case()
    exact = G.support(R, within, cell_muni, 0.0)
    cut = G.support(R, within, cell_muni, 0.02)
    for d in range(R.shape[0]):
        c_ex = exact.cell[exact.start[d]:exact.start[d + 1]]
        p_ex = exact.prob[exact.start[d]:exact.start[d + 1]]
        c_cut = cut.cell[cut.start[d]:cut.start[d + 1]]
        p_cut = cut.prob[cut.start[d]:cut.start[d + 1]]
        assert p_cut.sum() == pytest.approx(1.0) and p_ex.sum() == pytest.approx(1.0)
        assert cut.tail[d] == pytest.approx(p_ex[p_ex < 0.02].sum() - p_ex[(p_ex < 0.02) & np.isin(
            c_ex, [np.flatnonzero(cell_muni == m)[np.argmax(within[cell_muni == m])] for m in range(5)])].sum())
        # per municipality the truncated row keeps the municipality's mass
        for m in range(5):
            assert p_cut[cell_muni[c_cut] == m].sum() == pytest.approx(p_ex[cell_muni[c_ex] == m].sum())
    assert exact.tail.max() == 0.0 and cut.tail.max() > 0


def test_cell_truth_of_a_tiny_extract_equals_brute_force(matrix, tmp_path):
    """Every mover's and job changer's E[r] of a tiny run, re-derived from the written files, the
    gravity model's choice rows and the cell weights by enumerating every cell (exact: min_prob 0)."""
    from pendling.synth.api import build_world
    from pendling.synth.cells import cell_weights
    from pendling.synth.model import Simulation, build_kernels
    from pendling.synth.scenario import load_scenario

    persons, seed = 1_000, 7
    scen = load_scenario("default")
    res = generate(tmp_path, persons=persons, years="2020-2021", seed=seed, scenario=scen, matrix=matrix,
                   zones="grid1km", cell_truth=crow_times)
    # the workplaces of 2021 (sizes and municipalities) from a replay of the same run
    world = build_world(persons, seed, scen, matrix=matrix, zones="grid1km")  # the grid run's own gravity
    sim = Simulation(world)
    sim.first_year(2020)
    sim.next_year(2021)
    wp = sim.wp
    y0, y1 = (pl.read_parquet(tmp_path / f"ras{y}.parquet") for y in (2020, 2021))
    pairs = y0.join(y1, on="PNR", suffix="_1").filter((pl.col("LBNR") != 0) & (pl.col("LBNR_1") != 0))
    moved = pl.col("ADRESSE_ID") != pl.col("ADRESSE_ID_1")
    same = pl.col("LBNR") == pl.col("LBNR_1")
    movers = pairs.filter(moved & same & (pl.col("ARBKOM") == pl.col("ARBKOM_1")))
    changers = pairs.filter(~moved & ~same)
    cw = cell_weights("grid1km")
    codes = world.gravity.codes.astype(int)
    ix = {int(c): i for i, c in enumerate(codes)}
    cw_muni = np.array([ix[int(c)] for c in cw["municipality"]])
    p_home = cw["w_home"].to_numpy() / np.bincount(cw_muni, weights=cw["w_home"].to_numpy())[cw_muni]
    zone_list = cw["zone"].to_list()
    kern = build_kernels(world, 2021)
    from pendling.panel.jobgroups import JOB_GROUPS, assign_job_group

    def group(frame):
        return assign_job_group(frame, disco_column="DISCO08_ALLE_INDK_13")["job_group"].to_list()

    def t_from(origins, dest):  # T(origin_i, dest) for a list of origins
        return crow_times(pl.DataFrame({"origin": origins, "destination": [dest] * len(origins)}))["minutes"].to_numpy()

    sums: dict[tuple[str, str], list[float]] = {}
    region = world.region
    a = world.local_move_share
    for row in movers.with_columns(pl.Series("g", group(movers))).iter_rows(named=True):
        h0, w0, gi = ix[row["KOM"]], ix[row["ARBKOM"]], JOB_GROUPS.index(row["g"])
        r = int(region[h0])
        t_all = t_from(zone_list, row["ARB_DDKN"])
        K = kern.home[(gi * 2 + r) * len(codes) + w0]
        far = sum(K[h] * (p_home[cw_muni == h] * t_all[cw_muni == h]).sum() for h in range(len(codes)))
        near = (p_home[cw_muni == h0] * t_all[cw_muni == h0]).sum()
        t0 = t_from([row["BOP_DDKN"]], row["ARB_DDKN"])[0]
        sums.setdefault(("movers", row["g"]), []).append((a * near + (1 - a) * far) / t0 - 1)
    from pendling.synth.cells import place

    lbnr_pos = {int(v): i for i, v in enumerate(wp.lbnr)}
    wp_cell = place(pl.Series(wp.lbnr), pl.Series(world.gravity.codes[wp.muni]), "w_work", "grid1km", seed).to_list()
    for row in changers.with_columns(pl.Series("g", group(changers))).iter_rows(named=True):
        h0, gi = ix[row["KOM"]], JOB_GROUPS.index(row["g"])
        Q = kern.job[gi * len(codes) + h0]
        old = lbnr_pos[row["LBNR"]]
        t_wp = crow_times(pl.DataFrame({"origin": [row["BOP_DDKN"]] * wp.lbnr.size, "destination": wp_cell}))
        t_wp = t_wp["minutes"].to_numpy()
        e = 0.0
        for w in range(len(codes)):  # every workplace of every municipality by size, the old job excluded
            ids = np.flatnonzero(wp.muni == w)  # in the generator's order
            p = wp.weight[ids] / wp.weight[ids].sum()
            if old in ids:  # drawing the old job takes the next one instead
                k = int(np.flatnonzero(ids == old)[0])
                p[(k + 1) % ids.size] += p[k]
                p[k] = 0.0
            e += Q[w] * (p * t_wp[ids]).sum()
        t0 = t_from([row["BOP_DDKN"]], row["ARB_DDKN"])[0]
        sums.setdefault(("job_changers", row["g"]), []).append(e / t0 - 1)
    truth = res.grid_truth.filter(pl.col("region") == "all", pl.col("job_group") != "all")
    assert sum(len(v) for v in sums.values()) > 100
    for (flow, g), values in sums.items():
        cell = truth.filter(pl.col("flow") == flow, pl.col("job_group") == g)
        assert cell["n"].item() == len(values)
        assert cell["expected_mean_rel_change"].item() == pytest.approx(np.mean(values), rel=1e-9, abs=1e-12)


def test_panel_reads_the_extract_without_the_truth_files(default_grid):
    p = load_panel(default_grid.directory)
    assert not any("truth" in w for w in p.warnings), p.warnings


def test_cli_writes_the_cell_truth(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pendling.cli import app

    # routing needs the [routing] extra and minutes: the CLI's plumbing is the same with the toy times
    monkeypatch.setattr(G, "routed_times", lambda zones="grid1km", **kw: crow_times)
    out = tmp_path / "g"
    res = CliRunner().invoke(app, ["synth", "--out", str(out), "--persons", "2000", "--years", "2020-2021",
                                   "--zones", "grid1km", "--cell-truth", "routed", "--cell-truth-min-prob", "1e-4"])
    assert res.exit_code == 0, res.output
    assert "truth_grid1km.parquet" in res.output and (out / "truth_grid1km.parquet").is_file()
    again = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "g2"), "--persons", "2000", "--years", "2020-2021",
                                     "--zones", "grid1km", "--cell-truth", "routed", "--cell-truth-min-prob", "1e-4"])
    assert again.exit_code == 0, again.output
    for name in ("truth_grid1km.parquet", "manifest.json"):  # reruns are byte-identical
        assert (out / name).read_bytes() == (tmp_path / "g2" / name).read_bytes()
    bad = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "b"), "--persons", "2000", "--cell-truth", "osrm"])
    assert bad.exit_code == 2 and "--cell-truth" in bad.output


def test_cell_truth_needs_grid_zones_and_a_valid_threshold(tmp_path, matrix):
    from pendling.errors import InputError

    with pytest.raises(InputError, match="grid zones"):
        generate(tmp_path / "a", persons=2_000, years="2020-2021", matrix=matrix, cell_truth=crow_times)
    with pytest.raises(InputError, match=r"\[0, 1\)"):
        generate(tmp_path / "b", persons=2_000, years="2020-2021", matrix=matrix, zones="grid1km",
                 cell_truth=crow_times, cell_truth_min_prob=1.5)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # refused before writing

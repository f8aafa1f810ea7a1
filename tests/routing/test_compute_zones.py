"""compute --zones grid1km end to end on a small real graph (Sindal, Hjørring 860): a register-style
extract with cell columns → load_panel → distinct cell pairs routed → the same cells as the API on the
routed pair table; cached pairs reused; the method notes name the zones."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from pendling import routing, zones
from pendling.cli import app
from pendling.mobility.api import run
from pendling.panel import load_panel
from pendling.routing import pairs as pairs_mod


@pytest.fixture(scope="module")
def hjoerring_cells(sindal_raw) -> list[str]:
    x, y = zones._xy(sindal_raw.nodes["lon"].to_numpy(), sindal_raw.nodes["lat"].to_numpy())
    ids = zones.cell_ids(x, y, 1000).value_counts().filter(pl.col("count") >= 20)["zone"].sort()
    t = zones.snap_zones(zones.zone_table(ids, "grid1km"), sindal_raw)
    ok = t.filter((pl.col("status") == "ok") & (pl.col("municipality") == 860))["zone"].to_list()
    assert len(ok) >= 6
    return ok


def _extract(cells: list[str], tmp_path) -> None:
    rng = np.random.default_rng(8)
    n = 60
    hz0, wz = rng.choice(cells, n), rng.choice(cells, n)
    moved = rng.random(n) < 0.5
    hz1 = np.where(moved, rng.choice(cells, n), hz0)
    base = {"PNR": np.arange(1, n + 1), "KOM": [860] * n, "ARBKOM": [860] * n, "DISCO_KODE": ["2512"] * n}
    lbnr0 = rng.integers(1, 9, n)
    lbnr1 = np.where(moved, lbnr0, lbnr0 + 10)  # movers keep the job, the others change it
    hzm = np.where(rng.random(n) < 0.5, rng.choice(cells, n), hz0)  # 2019: earlier homes
    ids = np.arange(1, n + 1)
    addr = {2019: np.where(hzm != hz0, ids + 1000, ids), 2020: ids, 2021: np.where(moved, ids + 2000, ids)}
    for year, hz, lb in ((2019, hzm, lbnr0), (2020, hz0, lbnr0), (2021, hz1, lbnr1)):
        pl.DataFrame({**base, "ADRESSE_ID": addr[year], "LBNR": lb, "BOP_DDKN": hz, "ARB_DDKN": wz}).write_parquet(
            tmp_path / f"ras{year}.parquet")


def test_compute_grid_cli_equals_api_on_routed_pairs(sindal_raw, hjoerring_cells, tmp_path, monkeypatch):
    monkeypatch.setenv("PENDLING_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "ex"
    src.mkdir()
    _extract(hjoerring_cells, src)
    gdir = routing.save_graph(sindal_raw, tmp_path / "graph")
    out = tmp_path / "r.parquet"
    res = CliRunner().invoke(app, ["compute", "--panel", str(src), "--zones", "grid1km", "--graph", str(gdir),
                                   "--no-disclosure", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "grid1km cells" in res.output
    got = pl.read_parquet(out)
    panel = load_panel(src, zones="grid1km")
    pairs = panel.frame.select(pl.col("home_zone").alias("origin"), pl.col("work_zone").alias("destination")).unique()
    pairs = pairs.select(zones.cell_text(pairs["origin"]), zones.cell_text(pairs["destination"]))  # codes → DDKN ids
    zt = routing.pair_times(pairs, "grid1km", graph=sindal_raw, cache=False)
    assert zt["minutes"].null_count() == 0
    want = run(panel, disclosure=False, zones="grid1km", zone_times=zt.select("origin", "destination", "minutes"))
    shared = [c for c in want.results.columns if c in got.columns and c not in ("suppressed", "suppression")]
    assert len(shared) >= 18
    assert got.select(shared).equals(want.results.select(shared))
    movers = got.filter((pl.col("flow") == "movers") & (pl.col("job_group") == "digital") & (pl.col("region") == "all")
                        & (pl.col("year") == 2021))
    assert movers["n"].item() > 10
    notes = pl.read_csv(tmp_path / "r.method.csv")
    assert "grid1km" in dict(notes.iter_rows())["zones"]
    # the second run reads the routed node pairs back from the cache
    run(load_panel(src, zones=True), disclosure=False, zones="grid1km", graph=sindal_raw)
    assert pairs_mod.last_summary().node_pairs_routed == 0


def test_sensitivity_zone_section(sindal_raw, hjoerring_cells, tmp_path, monkeypatch):
    monkeypatch.setenv("PENDLING_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "ex"
    src.mkdir()
    _extract(hjoerring_cells, src)
    gdir = routing.save_graph(sindal_raw, tmp_path / "graph")
    res = CliRunner().invoke(app, ["sensitivity", "--panel", str(src), "--contrast", "2020:2021", "--internal", "area",
                                   "--zones", "grid1km", "--graph", str(gdir), "--no-disclosure",
                                   "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "Municipality vs grid1km" in res.output
    movers = pl.read_csv(tmp_path / "out" / "zones_movers.csv")
    m = movers.filter((pl.col("flow") == "movers") & (pl.col("year") == 2021))
    # every 2021 mover stays in Hjørring: r = 0 at municipality level, a cell change at grid level
    assert m["r_zero_municipality"].item() == m["n_municipality"].item() > 10
    assert m["r_zero_municipality_nonzero_grid"].item() >= 0.8 * m["r_zero_municipality"].item()
    cells = pl.read_csv(tmp_path / "out" / "zones_cells.csv")
    assert {"mean_rel_change_municipality", "mean_rel_change_grid", "mean_rel_change_diff"} <= set(cells.columns)

"""Optional grid cells in the panel: read through the column map, validated into counted buckets."""

from __future__ import annotations

import polars as pl
import pytest

from pendling import zones as Z
from pendling.panel import load_panel
from pendling.panel.buckets import PANEL_BUCKETS, ZONE_BUCKETS, check_attrition
from pendling.panel.zonecheck import BORDER_TOLERANCE_M, cell_states

CPH = "1km_6176_724"  # centre in 101 København


def _frathe_cell() -> str:
    """A 1 km cell whose centre lies in 147 Frederiksberg (enclosed by 101 København)."""
    ids = [f"1km_{n}_{e}" for n in range(6172, 6178) for e in range(718, 724)]
    t = Z.zone_table(ids, "grid1km")
    return t.filter(pl.col("municipality") == 147)["zone"][0]


def _rows(home_zone, work_zone, kom=101, arbkom=101) -> pl.DataFrame:
    n = len(home_zone)
    return pl.DataFrame({
        "PNR": list(range(1, n + 1)), "AAR": [2020] * n, "KOM": kom if isinstance(kom, list) else [kom] * n,
        "ARBKOM": arbkom if isinstance(arbkom, list) else [arbkom] * n, "LBNR": [5] * n, "DISCO_KODE": ["2512"] * n,
        "BOP_DDKN": home_zone, "ARB_DDKN": work_zone,
    })


def test_cell_states_rule():
    fb = _frathe_cell()
    got = cell_states(
        pl.Series([CPH, CPH, "junk", None, "1km_9999_999", fb, fb, " 1km_6176_724 "]),
        pl.Series([101, 751, 101, 101, 101, 101, 147, 101]),
    ).to_list()
    # a Frederiksberg cell claimed for København: neighbour within the tolerance → note, kept
    assert got == ["ok", "outside_municipality", "malformed", "malformed", "outside_denmark", "near_border", "ok", "ok"]
    assert BORDER_TOLERANCE_M == 500.0


def test_panel_reads_cells_and_counts_buckets():
    fb = _frathe_cell()
    df = _rows(
        [CPH, "junk", None, "1km_9999_999", CPH, CPH, fb],
        [CPH, CPH, CPH, CPH, CPH, "10km_617_72", CPH],
        kom=[101, 101, 101, 101, 751, 101, 101],
    )
    p = load_panel(df, zones="auto")
    assert p.frame.columns[-2:] == ["home_zone", "work_zone"]
    assert p.frame.schema["home_zone"] == pl.Int64  # integer cell codes inside the engine
    assert Z.cell_text(p.frame["home_zone"]).to_list() == [CPH, CPH, fb]
    assert p.frame["pnr"].to_list() == [1, 6, 7]  # 10 km workplace cells are valid DDKN ids too
    n = dict(p.attrition.select("bucket", "n").iter_rows())
    assert n["excluded_zone_malformed"] == 2
    assert n["excluded_zone_outside_denmark"] == 1
    assert n["excluded_zone_outside_municipality"] == 1
    assert n["kept"] == 3
    check_attrition(p.attrition, df.height)
    flags = dict(p.flags.select("flag", "n").iter_rows())
    assert flags["home_zone_near_border"] == 1 and flags["work_zone_near_border"] == 0
    # zone buckets sit after the municipality checks in the table's order
    order = p.attrition["bucket"].to_list()
    assert order.index("excluded_work_invalid_code") + 1 == order.index("excluded_zone_malformed")


def test_municipality_codes_are_checked_first():
    p = load_panel(_rows(["junk"], [CPH], kom=999), zones=True)
    n = dict(p.attrition.select("bucket", "n").iter_rows())
    assert n["excluded_home_abroad_or_unknown"] == 1 and n["excluded_zone_malformed"] == 0


def test_without_zone_columns_nothing_changes():
    df = _rows([CPH], [CPH]).drop("BOP_DDKN", "ARB_DDKN")
    p = load_panel(df, zones="auto")
    assert "home_zone" not in p.frame.columns
    assert p.attrition["bucket"].to_list() == list(PANEL_BUCKETS)
    assert not set(ZONE_BUCKETS) & set(p.attrition["bucket"].to_list())
    assert "home_zone_near_border" not in p.flags["flag"].to_list()


def test_column_map_and_csv(tmp_path):
    df = _rows([CPH, CPH], [CPH, "1km_6176_724"]).rename({"BOP_DDKN": "CELL_HOME", "ARB_DDKN": "CELL_WORK"})
    f = tmp_path / "ras2020.csv"
    df.write_csv(f)
    p = load_panel(f, column_map={"home_zone": "CELL_HOME", "work_zone": ["CELL_WORK"]}, zones=True)
    assert Z.cell_text(p.frame["home_zone"]).to_list() == [CPH, CPH]
    # canonical names are always tried last, as for every field
    p2 = load_panel(df.rename({"CELL_HOME": "home_zone", "CELL_WORK": "work_zone"}), zones=True)
    assert Z.cell_text(p2.frame["work_zone"]).to_list() == [CPH, CPH]


def test_only_home_cells_checks_only_home():
    p = load_panel(_rows([CPH, "junk"], [None, None]).drop("ARB_DDKN"), zones=True)
    assert "work_zone" not in p.frame.columns and p.frame.height == 1


@pytest.mark.parametrize("bad", ["1km_6176_72", "2km_6176_724", "1km_6176_724_1"])
def test_malformed_ids(bad):
    assert cell_states(pl.Series([bad]), pl.Series([101])).to_list() == ["malformed"]

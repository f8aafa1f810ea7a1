"""Seasonal ferries (the ``months`` column, a November network by default) and the small-island routes."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pendling import routing
from pendling.errors import InputError
from pendling.routing.ferries import DEFAULT_MONTH, months_set
from pendling.routing.graph import assemble


def test_months_parsing():
    assert months_set("1-12") == set(range(1, 13))
    assert months_set(None) == months_set("") == set(range(1, 13))
    assert months_set("4-10") == {4, 5, 6, 7, 8, 9, 10}
    assert months_set("11-2") == {11, 12, 1, 2}
    assert months_set("5,7-8") == {5, 7, 8}
    assert months_set("13") is None and months_set("summer") is None and months_set("3-") is None


def test_shipped_table_is_a_november_network_with_the_small_islands():
    t = routing.load_ferries()
    assert DEFAULT_MONTH == 11
    season = {r: months_set(m) for r, m in t.select("route", "months").iter_rows()}
    assert 11 not in season["odde_ebeltoft"]  # seasonal in 2019–2021
    assert all(11 in s for r, s in season.items() if r != "odde_ebeltoft")
    islands = {"faaborg_avernakoe", "faaborg_lyoe", "lyoe_avernakoe", "svendborg_skaroe", "skaroe_drejoe", "svendborg_drejoe"}
    assert islands <= set(t["route"])
    assert t.filter(pl.col("route").is_in(list(islands)))["source"].str.contains("±").all()  # uncertainty stated


def _two_islands(months: str) -> tuple[routing.RoadGraph, pl.DataFrame]:
    prof = routing.load_profile()
    nodes = pl.DataFrame({"key": [1, 2, 3, 4], "lon": [10.0, 10.01, 10.2, 10.21], "lat": [56.0, 56.0, 56.0, 56.0]})
    seg = pl.DataFrame(
        {"u": [1, 3], "v": [2, 4], "highway": ["tertiary", "tertiary"], "oneway": [0, 0], "maxspeed": [None, None]},
        schema_overrides={"oneway": pl.Int8, "maxspeed": pl.String},
    )
    table = pl.DataFrame(
        {"route": ["x"], "terminal_a": ["A"], "lon_a": [10.0102], "lat_a": [56.0], "terminal_b": ["B"], "lon_b": [10.1998],
         "lat_b": [56.0], "crossing_minutes": [30.0], "wait_minutes": [15.0], "extra_minutes": [0.0], "km": [12.0],
         "snap_class_b": [None], "source": ["test"], "months": [months]},
        schema_overrides={"snap_class_b": pl.String},
    ).with_columns(minutes=pl.col("crossing_minutes") + pl.col("wait_minutes"))  # fmt: skip
    return assemble(seg, nodes, prof), table


def test_out_of_season_route_is_left_out_and_reported():
    g, table = _two_islands("4-10")
    summer, _ = routing.add_ferries(g, table, min_component=2, month=7)
    november, _ = routing.add_ferries(g, table, min_component=2, month=11)
    every, _ = routing.add_ferries(g, table, min_component=2, month=None)
    assert summer.edges.filter(pl.col("ferry") == "x").height == 2 and every.edges.filter(pl.col("ferry") == "x").height == 2
    assert november.edges.filter(pl.col("ferry") == "x").height == 0
    assert november.info["ferries"]["routes_out_of_season"] == ["x"] and november.info["ferries"]["month"] == 11
    assert not np.isfinite(routing.route_nodes(november, np.array([0]), np.array([3]))["minutes"][0, 0])  # unreachable
    with pytest.raises(InputError, match="month"):
        routing.add_ferries(g, table, month=13)


def test_bad_months_value_is_named(tmp_path):
    p = tmp_path / "f.csv"
    src = routing.ferries.default_ferries_path().read_text(encoding="utf-8").splitlines()
    p.write_text("\n".join([src[0], src[1].rsplit(",", 1)[0] + ",summer"]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="months") as exc:
        routing.load_ferries(p)
    assert "summer" in str(exc.value)

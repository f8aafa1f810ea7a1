"""Scenario TOML: the shipped files, multipliers by cell and year, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from pendling.errors import InputError
from pendling.panel.jobgroups import JOB_GROUPS
from pendling.synth.scenario import REGIONS, load_scenario, parse_scenario

DIGITAL, OFFICE, PHYS = (JOB_GROUPS.index(g) for g in ("digital", "office", "physical_social"))
HOV, REST = REGIONS.index("hovedstaden"), REGIONS.index("rest")


def test_default_scenario_plants_the_reported_pattern() -> None:
    # the calibrated default (scripts/calibrate_default_scenario.py): levels differ by cell in every
    # year; from 2020 digital and office movers in Hovedstaden get a weaker decay, physical & social
    # and every job changer keep theirs
    s = load_scenario("default")
    assert s.name == "default" and not s.has_dirt and s.initial_job_choice > 1  # shorter commutes in 2014
    before = s.multipliers("movers", 2019)
    for year in (2020, 2021, 2022, 2023):
        m = s.multipliers("movers", year)
        assert m[PHYS].tolist() == before[PHYS].tolist()  # physical & social movers: no change
        for g in (DIGITAL, OFFICE):
            assert m[g, HOV] < before[g, HOV]  # weaker decay from 2020 in Hovedstaden
        assert (s.multipliers("job_changers", year) == s.multipliers("job_changers", 2019)).all()
        assert (s.locals("job_changers", year) == 1.0).all()
    # the list ramps year by year and its last value is held
    assert s.multipliers("movers", 2021)[DIGITAL, HOV] < s.multipliers("movers", 2020)[DIGITAL, HOV]
    assert s.multipliers("movers", 2030)[DIGITAL, HOV] == s.multipliers("movers", 2022)[DIGITAL, HOV]
    # outside Hovedstaden digital movers are pulled towards the workplace's municipality, less so from 2020
    assert s.locals("movers", 2019)[DIGITAL, REST] > s.locals("movers", 2021)[DIGITAL, REST] >= 1.0


def test_null_and_dirty_scenarios() -> None:
    null = load_scenario("null")
    for year in range(2010, 2030):
        assert (null.multipliers("movers", year) == 1).all()
        assert (null.multipliers("job_changers", year) == 1).all()
    dirty = load_scenario("dirty")
    assert dirty.has_dirt and dirty.dirt["duplicate_rows"] > 0


def test_later_effects_override_and_wildcards_cover() -> None:
    s = parse_scenario({
        "movers": {"default": 1.0, "effect": [
            {"from": 2020, "multiplier": 0.9},
            {"job_group": "digital", "region": "rest", "from": 2021, "to": 2021, "multiplier": 0.5},
        ]},
    })
    m20, m21, m22 = (s.multipliers("movers", y) for y in (2020, 2021, 2022))
    assert np.allclose(m20, 0.9)
    assert m21[DIGITAL, REST] == 0.5 and m21[DIGITAL, HOV] == 0.9
    assert m22[DIGITAL, REST] == 0.9


@pytest.mark.parametrize(
    "doc, needle",
    [
        ({"movers": {"effect": [{"from": 2020, "multiplier": 0}]}}, "multiplier"),
        ({"movers": {"effect": [{"job_group": "it", "from": 2020, "multiplier": 0.9}]}}, "job group"),
        ({"movers": {"effect": [{"region": "jylland", "from": 2020, "multiplier": 0.9}]}}, "region"),
        ({"movers": {"effect": [{"multiplier": 0.9}]}}, "bad keys"),
        ({"rates": {"move": 1.5}}, "between 0 and 1"),
        ({"rates": {"moves": 0.1}}, "unknown keys"),
        ({"planted": {}}, "unknown scenario keys"),
    ],
)
def test_bad_scenarios_raise_input_errors(doc: dict, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        parse_scenario(doc)


def test_missing_scenario_file_names_the_shipped_ones(tmp_path) -> None:
    with pytest.raises(InputError, match="default"):
        load_scenario(tmp_path / "nope.toml")

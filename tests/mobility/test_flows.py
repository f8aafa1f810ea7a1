"""Classification of person-years into flows and attrition buckets (hand-built panel in conftest)."""

from __future__ import annotations

import math

import polars as pl
import pytest

import pendling.mobility as mob
from pendling.errors import InputError

EXPECTED_ADDRESS = {
    1: "mover",  # across municipalities, same LBNR
    2: "mover",  # within a municipality (new ADRESSE_ID)
    3: "job_changer",
    4: "both_changed",
    5: "workplace_relocated",
    6: "fictive_workplace",
    7: "no_previous_year",
    8: "mover",  # unknown DISCO: still a mover, job group 'unclassified'
    9: "stayer",
    10: "mover",
    11: "job_changer",  # addresses unknown in both years: KOM decides, unchanged
}


def _buckets(t: pl.DataFrame) -> dict[int, str]:
    return dict(zip(t["pnr"].to_list(), t["bucket"].to_list(), strict=True))


def test_every_person_year_gets_the_expected_bucket(panel, matrix, municipalities):
    t = mob.transitions(panel, matrix, 2021, municipalities=municipalities)
    assert _buckets(t) == EXPECTED_ADDRESS
    assert t.height == panel.filter(pl.col("year") == 2021).height  # person 12 (left) is not a 2021 row


def test_commute_times_come_from_the_matrix_including_the_diagonal(panel, matrix, municipalities):
    t = mob.transitions(panel, matrix, 2021, municipalities=municipalities).filter(pl.col("flow").is_not_null())
    got = {p: (b, a, r) for p, b, a, r in t.select("pnr", "minutes_before", "minutes_after", "rel_change").rows()}
    # by hand from mobility_cases.MINUTES: (home, work) at t-1 and at t
    assert got[1] == (12.0, 180.0, 180.0 / 12.0 - 1)  # (147,101) → (751,101)
    assert got[2] == (12.0, 12.0, 0.0)  # (101,147) → (101,147): moved inside København, r = 0
    assert got[3] == (10.0, 180.0, 180.0 / 10.0 - 1)  # (751,751) diagonal → (751,101)
    assert got[8] == (12.0, 6.0, -0.5)  # (101,147) → (147,147) diagonal
    assert got[11] == (6.0, 12.0, 1.0)


def test_job_group_and_region_are_taken_at_t_minus_1(panel, matrix, municipalities):
    t = mob.transitions(panel, matrix, 2021, municipalities=municipalities)
    p10 = t.filter(pl.col("pnr") == 10).row(0, named=True)
    assert p10["job_group_before"] == "digital"  # DISCO changed to an office code in 2021
    assert p10["region_code"] == 1082  # lived in Aarhus in 2020, in Frederiksberg in 2021


def test_attrition_explains_every_person_year(panel, matrix, municipalities):
    att = mob.attrition(panel, matrix, 2021, municipalities=municipalities, disclosure=False)
    flows = att.filter(pl.col("stage") == "flows")
    assert flows.columns[:5] == ["stage", "year", "bucket", "n", "description"]
    assert flows["n"].sum() == panel.filter(pl.col("year") == 2021).height
    got = dict(zip(flows["bucket"].to_list(), flows["n"].to_list(), strict=True))
    expected: dict[str, int] = {}
    for bucket in EXPECTED_ADDRESS.values():
        expected[bucket] = expected.get(bucket, 0) + 1
    assert {k: v for k, v in got.items() if v} == expected
    assert set(got) == set(mob.BUCKETS)  # every bucket listed, zeros included


def test_municipality_definition_keeps_within_municipality_moves_out(panel, matrix, municipalities):
    t = mob.transitions(panel, matrix, 2021, municipalities=municipalities, mover_definition="municipality")
    b = _buckets(t)
    assert b[2] == "moved_within_municipality"
    assert b[1] == "mover" and b[8] == "mover" and b[10] == "mover"
    # every municipality mover is an address mover (the definitions nest)
    a = _buckets(mob.transitions(panel, matrix, 2021, municipalities=municipalities))
    assert {p for p, v in b.items() if v == "mover"} <= {p for p, v in a.items() if v == "mover"}


def test_job_changer_with_a_within_municipality_move_depends_on_the_definition(matrix, municipalities):
    from mobility_cases import panel_rows

    people = {1: [(2020, 101, 1, 10, 101, "251110", "digital"), (2021, 101, 2, 11, 147, "251110", "digital")]}
    frame = panel_rows(people)
    assert _buckets(mob.transitions(frame, matrix, 2021, municipalities=municipalities))[1] == "both_changed"
    by_kom = mob.transitions(frame, matrix, 2021, municipalities=municipalities, mover_definition="municipality")
    assert _buckets(by_kom)[1] == "job_changer"


def test_unknown_municipality_and_bad_times_are_counted_never_infinite(panel, matrix, municipalities):
    # drop the pair person 1 needs after the move, zero the diagonal person 3 starts from
    m = matrix.filter(~((pl.col("origin") == 751) & (pl.col("destination") == 101))).with_columns(
        pl.when((pl.col("origin") == 751) & (pl.col("destination") == 751)).then(0.0)
        .otherwise(pl.col("minutes")).alias("minutes")
    )
    t = mob.transitions(panel, m, 2021, municipalities=municipalities)
    b = _buckets(t)
    assert b[1] == "mover_unknown_municipality"
    assert b[3] == "job_changer_unknown_municipality"  # also needs (751,101)
    res = mob.compute(panel, m, 2021, municipalities=municipalities, disclosure=False)
    finite = res.filter(pl.col("n") > 0)["mean_rel_change"].to_list()
    assert all(math.isfinite(v) for v in finite)


def test_negative_and_nan_travel_times_go_to_invalid_travel_time(panel, matrix, municipalities):
    m = matrix.with_columns(
        pl.when((pl.col("origin") == 751) & (pl.col("destination") == 751)).then(-1.0)
        .when((pl.col("origin") == 147) & (pl.col("destination") == 101)).then(float("nan"))
        .otherwise(pl.col("minutes")).alias("minutes")
    )
    b = _buckets(mob.transitions(panel, m, 2021, municipalities=municipalities))
    assert b[3] == "job_changer_invalid_travel_time"  # T_{t-1} < 0 (T_{t-1} = 0: test_zero_diagonal.py)
    assert b[1] == "mover_invalid_travel_time"  # NaN
    assert b[10] == "mover_invalid_travel_time"  # (147,101) after the move


def test_home_without_region_is_counted(panel, matrix, municipalities):
    munis = municipalities.filter(pl.col("code") != 751)
    b = _buckets(mob.transitions(panel, matrix, 2021, municipalities=munis))
    assert b[10] == "mover_unknown_municipality"  # lived in 751 at t-1: region unknown
    assert b[3] == "job_changer_unknown_municipality"


def test_years_need_a_previous_year(panel, matrix, municipalities):
    with pytest.raises(InputError, match="the data hold 2020-2021(.|\n)*ask for flow years among 2021"):
        mob.transitions(panel, matrix, 2020, municipalities=municipalities)
    with pytest.raises(InputError):
        mob.transitions(panel.filter(pl.col("year") == 2021), matrix, municipalities=municipalities)


def test_default_years_are_all_with_a_previous_year(panel, matrix, municipalities):
    t = mob.transitions(panel, matrix, municipalities=municipalities)
    assert t["year"].unique().to_list() == [2021]


def test_duplicate_person_years_are_rejected(panel, matrix, municipalities):
    dup = pl.concat([panel, panel.filter(pl.col("pnr") == 3)])
    with pytest.raises(InputError, match="more than one row"):
        mob.transitions(dup, matrix, municipalities=municipalities)
    # an unsorted frame without duplicates is fine
    shuffled = panel.sample(fraction=1.0, shuffle=True, seed=3)
    assert _buckets(mob.transitions(shuffled, matrix, municipalities=municipalities)) == EXPECTED_ADDRESS


def test_missing_columns_and_nulls_are_input_errors(panel, matrix, municipalities):
    with pytest.raises(InputError, match="canonical columns"):
        mob.transitions(panel.drop("work_id"), matrix, municipalities=municipalities)
    nulls = panel.with_columns(pl.when(pl.col("pnr") == 1).then(None).otherwise(pl.col("home_muni")).alias("home_muni"))
    with pytest.raises(InputError, match="missing values"):
        mob.transitions(nulls, matrix, municipalities=municipalities)
    with pytest.raises(InputError, match="mover definition"):
        mob.transitions(panel, matrix, municipalities=municipalities, mover_definition="street")


def test_home_addr_optional(panel, matrix, municipalities):
    t = mob.transitions(panel.drop("home_addr"), matrix, municipalities=municipalities)
    b = _buckets(t)
    assert b[2] == "stayer"  # without ADRESSE_ID a move inside København is invisible
    assert b[1] == "mover"


def test_real_job_group_mapping_matches_hand_labels(panel, matrix, municipalities):
    pytest.importorskip("pendling.panel.jobgroups")
    hand = mob.compute(panel, matrix, municipalities=municipalities, disclosure=False)
    mapped = mob.compute(panel.drop("job_group"), matrix, municipalities=municipalities, disclosure=False)
    assert hand.equals(mapped)


def test_transitions_maps_disco_when_the_panel_has_no_job_group(panel, matrix, municipalities):
    pytest.importorskip("pendling.panel.jobgroups")
    hand = mob.transitions(panel, matrix, municipalities=municipalities)
    mapped = mob.transitions(panel.drop("job_group"), matrix, municipalities=municipalities)
    assert mapped["job_group_before"].to_list() == hand["job_group_before"].to_list()
    assert mapped.filter(pl.col("pnr") == 7)["job_group_before"][0] is None  # no t-1 row

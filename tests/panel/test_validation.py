"""Hand-built panels: every rule of the attrition table, hard errors, and a reference classifier."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from panel_fixtures import assert_attrition_complete
from polars.testing import assert_frame_equal

from pendling.errors import InputError
from pendling.panel import PANEL_BUCKETS, load_panel


def dst(rows: list[tuple], **extra: list) -> pl.DataFrame:
    """Rows (AAR, PNR, KOM, LBNR, ARBKOM, DISCO) → a frame in DST names."""
    df = pl.DataFrame(
        rows,
        schema={
            "AAR": pl.Int64,
            "PNR": pl.Int64,
            "KOM": pl.Int64,
            "LBNR": pl.Int64,
            "ARBKOM": pl.Int64,
            "DISCO08_ALLE_INDK_13": pl.String,
        },
        orient="row",
    )
    return df.with_columns(**{k: pl.Series(v) for k, v in extra.items()})


def bucket_counts(panel) -> dict[tuple[int | None, str], int]:
    att = panel.attrition.filter(pl.col("n") > 0)
    return {(y, b): n for y, b, n in att.select("year", "bucket", "n").iter_rows()}


def test_christianso_411_is_kept_as_bornholm_and_counted() -> None:
    df = dst([(2015, 1, 411, 7, 101, "2512"), (2015, 2, 101, 8, 411, "2512"), (2015, 3, 400, 9, 400, "2512")])
    panel = load_panel(df)
    assert_attrition_complete(panel, 3)
    assert panel.frame["home_muni"].to_list() == [400, 101, 400]
    assert panel.frame["work_muni"].to_list() == [101, 400, 400]
    assert bucket_counts(panel) == {(2015, "kept_code_alias"): 2, (2015, "kept"): 1}
    flags = dict(panel.flags.select("flag", "n").iter_rows())
    assert flags["home_alias"] == 1 and flags["work_alias"] == 1


def test_unknown_disco_is_kept_unclassified_and_counted() -> None:
    df = dst(
        [
            (2015, 1, 101, 7, 101, None),
            (2015, 2, 101, 7, 101, "999999"),  # an unknown 6-digit code: no error
            (2015, 3, 101, 7, 101, "0000"),
            (2015, 4, 101, 7, 101, "251200"),
        ]
    )
    panel = load_panel(df)
    assert_attrition_complete(panel, 4)
    assert panel.frame.height == 4
    assert bucket_counts(panel) == {(2015, "kept_disco_unclassified"): 3, (2015, "kept"): 1}
    assert panel.frame["disco"].to_list() == [None, "999999", "0000", "251200"]


def test_duplicate_person_year_is_a_hard_error_naming_file_column_and_pnrs(tmp_path: Path) -> None:
    df = dst(
        [
            (2015, 1, 101, 7, 101, "2512"),
            (2015, 1, 147, 8, 101, "2512"),
            (2015, 2, 101, 7, 101, "2512"),
            (2016, 1, 101, 7, 101, "2512"),
            (2015, 42, 101, 7, 101, "2512"),
            (2015, 42, 101, 7, 101, "2512"),
        ]
    )
    path = tmp_path / "ras_dups.parquet"
    df.write_parquet(path)
    with pytest.raises(InputError) as err:
        load_panel(path)
    e = err.value
    assert e.file == str(path)
    assert e.column == "PNR"
    assert e.values == ["1 (2015)", "42 (2015)"]
    assert "on_duplicate='drop'" in (e.hint or "")


def test_duplicates_dropped_or_first_are_counted() -> None:
    df = dst(
        [
            (2015, 1, 101, 7, 101, "2512"),
            (2015, 1, 147, 8, 101, "2512"),
            (2015, 2, 101, 7, 101, "2512"),
            (2016, 1, 101, 7, 101, "2512"),
        ]
    )
    dropped = load_panel(df, on_duplicate="drop")
    assert_attrition_complete(dropped, 4)
    assert bucket_counts(dropped) == {(2015, "excluded_duplicate"): 2, (2015, "kept"): 1, (2016, "kept"): 1}
    assert dropped.frame.select("pnr", "year").rows() == [(1, 2016), (2, 2015)]

    first = load_panel(df, on_duplicate="first")
    assert_attrition_complete(first, 4)
    assert bucket_counts(first)[(2015, "excluded_duplicate")] == 1
    assert first.frame.filter((pl.col("pnr") == 1) & (pl.col("year") == 2015))["home_muni"].to_list() == [101]

    lenient = load_panel(df, strict=False)  # not strict → drop by default
    assert_frame_equal(lenient.frame, dropped.frame)
    with pytest.raises(InputError, match="on_duplicate"):
        load_panel(df, on_duplicate="keep")  # type: ignore[arg-type]


def test_duplicates_across_two_files_name_both(tmp_path: Path) -> None:
    a, b = tmp_path / "ras2015a.parquet", tmp_path / "ras2015b.parquet"
    dst([(2015, 5, 101, 7, 101, "2512")]).write_parquet(a)
    dst([(2015, 5, 147, 7, 101, "2512")]).write_parquet(b)
    with pytest.raises(InputError) as err:
        load_panel([a, b])
    assert str(a) in err.value.file and str(b) in err.value.file


@pytest.mark.parametrize("code", [0, 950, 955, 960, 995, 999, None])
def test_abroad_and_unknown_codes_are_excluded(code: int | None) -> None:
    df = dst([(2015, 1, code, 7, 101, "2512"), (2015, 2, 101, 7, code, "2512"), (2015, 3, 101, 7, 101, "2512")])
    panel = load_panel(df)
    assert_attrition_complete(panel, 3)
    assert bucket_counts(panel) == {
        (2015, "excluded_home_abroad_or_unknown"): 1,
        (2015, "excluded_work_abroad_or_unknown"): 1,
        (2015, "kept"): 1,
    }


def test_codes_outside_the_98_are_invalid_not_abroad() -> None:
    df = dst([(2015, 1, 123, 7, 101, "2512"), (2015, 2, 101, 7, 1081, "2512"), (2015, 3, 165, 7, 165, "2512")])
    panel = load_panel(df)
    assert bucket_counts(panel) == {
        (2015, "excluded_home_invalid_code"): 1,
        (2015, "excluded_work_invalid_code"): 1,
        (2015, "kept"): 1,
    }


def test_home_takes_precedence_over_work_and_exclusions_over_notes() -> None:
    # unknown home AND unknown work AND LBNR 0 AND unknown DISCO: one row, counted once, under home
    df = dst([(2015, 1, 999, 0, 999, None)])
    panel = load_panel(df)
    assert_attrition_complete(panel, 1)
    assert bucket_counts(panel) == {(2015, "excluded_home_abroad_or_unknown"): 1}


def test_lbnr0_and_missing_lbnr_are_kept_and_counted() -> None:
    df = dst([(2015, 1, 101, 0, 101, "9112"), (2015, 2, 101, None, 101, "9112"), (2015, 3, 101, 5, 101, "9112")])
    panel = load_panel(df)
    assert_attrition_complete(panel, 3)
    assert panel.frame["work_id"].to_list() == [0, 0, 5]
    assert bucket_counts(panel) == {(2015, "kept_lbnr0"): 1, (2015, "kept_lbnr_missing"): 1, (2015, "kept"): 1}


def test_year_gaps_are_reported() -> None:
    df = dst([(y, 1, 101, 7, 101, "2512") for y in (2010, 2011, 2014, 2016)])
    panel = load_panel(df)
    gap = [w for w in panel.warnings if w.startswith("gap in years")]
    assert len(gap) == 1 and "2012, 2013, 2015" in gap[0]
    assert not [w for w in load_panel(dst([(2015, 1, 101, 7, 101, "2512")])).warnings if "gap" in w]


def test_years_filter_counts_rows_and_skips_files(tmp_path: Path) -> None:
    df = dst([(2015, 1, 101, 7, 101, "2512"), (2016, 1, 101, 7, 101, "2512"), (2017, 1, 101, 7, 101, "2512")])
    panel = load_panel(df, years=[2016, 2017, 2019])
    assert_attrition_complete(panel, 3)
    assert bucket_counts(panel)[(2015, "excluded_year_out_of_range")] == 1
    assert any("2019" in w for w in panel.warnings)
    for y in (2015, 2016):
        df.filter(pl.col("AAR") == y).drop("AAR").write_parquet(tmp_path / f"ras{y}.parquet")
    only = load_panel(tmp_path, years=[2016])
    assert [Path(s).name for s in only.sources] == ["ras2016.parquet"]
    assert any("ras2015.parquet" in w for w in only.warnings)
    assert_attrition_complete(only, 1)
    with pytest.raises(InputError, match="no input file is named for the years asked for"):
        load_panel(tmp_path, years=[2030])
    with pytest.raises(InputError, match="whole years"):
        load_panel(df, years=["2015"])  # type: ignore[list-item]


def test_null_pnr_and_null_year_buckets() -> None:
    df = dst([(2015, None, 101, 7, 101, "2512"), (None, 3, 101, 7, 101, "2512"), (2015, 4, 101, 7, 101, "2512")])
    panel = load_panel(df)
    assert_attrition_complete(panel, 3)
    assert bucket_counts(panel) == {
        (2015, "excluded_null_pnr"): 1,
        (None, "excluded_year_missing"): 1,
        (2015, "kept"): 1,
    }


def test_text_in_a_number_column_is_an_error_naming_values(tmp_path: Path) -> None:
    path = tmp_path / "ras2015.csv"
    path.write_text("PNR,KOM,LBNR,ARBKOM,DISCO08_ALLE_INDK_13\n1,101,7,101,2512\n2,KBH,7,101,2512\n3,1.5,7,101,2512\n")
    with pytest.raises(InputError) as err:
        load_panel(path)
    e = err.value
    assert e.file == str(path) and e.column == "KOM"
    assert e.values == ["1.5", "KBH"]
    assert "2 value(s)" in str(e)
    lenient = load_panel(path, strict=False)
    assert_attrition_complete(lenient, 3)
    assert bucket_counts(lenient) == {(2015, "excluded_home_abroad_or_unknown"): 2, (2015, "kept"): 1}
    assert int(lenient.flags.filter(pl.col("flag") == "unparseable_values")["n"].sum()) == 2


def test_implausible_year_and_wrong_type_are_errors() -> None:
    with pytest.raises(InputError, match="years between 1900 and 2100"):
        load_panel(dst([(15, 1, 101, 7, 101, "2512")]))
    df = dst([(2015, 1, 101, 7, 101, "2512")]).with_columns(pl.lit(True).alias("KOM"))
    with pytest.raises(InputError, match="must be a whole number") as err:
        load_panel(df)
    assert err.value.column == "KOM"


def test_canonical_frame_is_validated_too() -> None:
    good = pl.DataFrame(
        {
            "pnr": [1, 2],
            "year": [2015, 2015],
            "home_muni": [101, 411],
            "home_addr": [None, 5],
            "work_id": [3, 4],
            "work_muni": [101, 101],
            "disco": ["2512", "4110"],
        }
    )
    panel = load_panel(good)
    assert_attrition_complete(panel, 2)
    assert panel.frame["home_muni"].to_list() == [101, 400]
    with pytest.raises(InputError, match="required column"):
        load_panel(good.drop("work_muni"))


def test_column_map_override_from_dict_and_toml(tmp_path: Path) -> None:
    df = dst([(2015, 1, 101, 7, 101, "2512")]).rename({"ARBKOM": "ARB_KOMMUNE", "KOM": "BOPKOM"})
    with pytest.raises(InputError):
        load_panel(df)
    via_dict = load_panel(df, column_map={"work_muni": "ARB_KOMMUNE", "home_muni": ["BOPKOM"]})
    toml = tmp_path / "map.toml"
    toml.write_text('[columns]\nwork_muni = "ARB_KOMMUNE"\nhome_muni = ["BOPKOM"]\n')
    via_toml = load_panel(df, column_map=toml)
    assert_frame_equal(via_dict.frame, via_toml.frame)
    assert via_toml.provenance["column_map"] == str(toml)
    bad = tmp_path / "bad.toml"
    bad.write_text('[columns]\nworkplace = "X"\n')
    with pytest.raises(InputError, match="does not know"):
        load_panel(df, column_map=bad)


# --- a reference classifier written row by row, independent of the engine's expressions -------------

VALID = {101, 147, 400, 751, 851}
CODES = [*VALID, 411, 0, 950, 995, 999, 123, None]


def reference_bucket(row: dict, seen: dict, years: set[int] | None) -> str:
    if row["PNR"] is None:
        return "excluded_null_pnr"
    if years is not None and row["AAR"] not in years:
        return "excluded_year_out_of_range"
    if seen[(row["PNR"], row["AAR"])] > 1:
        return "excluded_duplicate"
    for side, col in (("home", "KOM"), ("work", "ARBKOM")):
        code = row[col]
        if code is None or code in (0, 995, 999) or 950 <= code <= 960:
            return f"excluded_{side}_abroad_or_unknown"
        if code not in VALID and code != 411:
            return f"excluded_{side}_invalid_code"
    if 411 in (row["KOM"], row["ARBKOM"]):
        return "kept_code_alias"
    if row["LBNR"] == 0:
        return "kept_lbnr0"
    if row["LBNR"] is None:
        return "kept_lbnr_missing"
    if row["DISCO08_ALLE_INDK_13"] in (None, "9999", "XX"):
        return "kept_disco_unclassified"
    return "kept"


row_strategy = st.tuples(
    st.sampled_from([2015, 2016, 2017]),
    st.one_of(st.none(), st.integers(1, 8)),
    st.sampled_from(CODES),
    st.sampled_from([0, None, 5, 6]),
    st.sampled_from(CODES),
    st.sampled_from([None, "9999", "XX", "2512", "411000"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row_strategy, min_size=1, max_size=40), use_years=st.booleans())
def test_engine_matches_a_row_by_row_reference(rows: list[tuple], use_years: bool) -> None:
    years = {2015, 2016} if use_years else None
    df = dst(rows)
    panel = load_panel(df, on_duplicate="drop", years=years)
    assert_attrition_complete(panel, len(rows))
    records = df.to_dicts()
    seen: dict = {}
    for r in records:
        if r["PNR"] is not None and (years is None or r["AAR"] in years):
            seen[(r["PNR"], r["AAR"])] = seen.get((r["PNR"], r["AAR"]), 0) + 1
    want: dict[tuple[int, str], int] = {}
    for r in records:
        key = (r["AAR"], reference_bucket(r, seen, years))
        want[key] = want.get(key, 0) + 1
    assert bucket_counts(panel) == want
    assert set(panel.attrition["bucket"].unique()) == set(PANEL_BUCKETS)

"""DISCO-08 → job group by longest prefix: spot checks, 6-digit codes, user mappings, bad mappings."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pendling.errors import InputError
from pendling.panel import JOB_GROUPS, assign_job_group, load_mapping

SPOT_CHECKS = {
    "2512": "digital",  # software developer
    "2611": "digital",  # lawyer
    "2642": "digital",  # journalist
    "4110": "office",  # general office clerk
    "1211": "office",  # finance manager
    "3322": "office",  # commercial sales representative
    "2221": "physical_social",  # nurse
    "2341": "physical_social",  # primary school teacher
    "5223": "physical_social",  # shop sales assistant
    "9112": "physical_social",  # cleaner
    "7115": "physical_social",  # carpenter
}

# ISCO-08 sub-major groups (2 digits), from the ILO structure; DISCO-08 has all but 63.
ISCO_SUBMAJOR = (
    "01 02 03 11 12 13 14 21 22 23 24 25 26 31 32 33 34 35 41 42 43 44 51 52 53 54 "
    "61 62 63 71 72 73 74 75 81 82 83 91 92 93 94 95 96"
).split()


def groups(codes: list[str | None], mapping=None) -> list[str]:
    df = assign_job_group(pl.DataFrame({"disco": codes}, schema={"disco": pl.String}), mapping)
    return df["job_group"].to_list()


@pytest.mark.parametrize(("code", "group"), SPOT_CHECKS.items())
def test_spot_checks_4_and_6_digits(code: str, group: str) -> None:
    assert groups([code, code + "00", code + "10"]) == [group] * 3


def test_longest_prefix_wins() -> None:
    # 241 finance professionals → office, but 2413 financial analysts → digital
    assert groups(["241100", "241300", "2413", "24"]) == ["office", "digital", "digital", "office"]
    # 343 artistic/cultural → digital, 3434 chefs → physical_social
    assert groups(["3431", "343400"]) == ["digital", "physical_social"]


def test_unknown_missing_and_odd_codes_are_unclassified_without_error() -> None:
    codes = [None, "", "  ", "0000", "9999", "999999", "99", "XX12", "25a1", "-1", "7"]
    assert groups(codes) == ["unclassified"] * len(codes)


def test_leading_zeros_matter() -> None:
    assert groups(["0110", "011000", " 0110 "]) == ["physical_social"] * 3
    assert groups(["110"]) == ["office"]  # '110' read as text is sub-major 11 (chief executives)


def test_every_isco_submajor_group_is_classified() -> None:
    got = groups([c + "00" for c in ISCO_SUBMAJOR])
    assert "unclassified" not in got
    assert set(got) == {"digital", "office", "physical_social"}


def test_shipped_mapping_is_well_formed() -> None:
    m = load_mapping()
    assert m.schema == {"prefix": pl.String, "job_group": pl.String, "label": pl.String, "note": pl.String}
    assert set(m["job_group"]) <= set(JOB_GROUPS)
    assert m["prefix"].str.contains(r"^\d+$").all()
    ambiguous = m.filter(pl.col("note").fill_null("").str.contains("✱"))
    assert ambiguous.height >= 10  # judgement calls are documented in the note column


def test_user_mapping_overrides_and_replaces_column(tmp_path: Path) -> None:
    custom = tmp_path / "mine.csv"
    custom.write_text("prefix,job_group\n25,office\n2512,digital\n0,unclassified\n")
    df = pl.DataFrame({"disco": ["2512", "2519", "0110", "4110"], "job_group": ["x", "x", "x", "x"]})
    out = assign_job_group(df, custom)
    assert out.columns == ["disco", "job_group"]
    assert out["job_group"].to_list() == ["digital", "office", "unclassified", "unclassified"]
    lazy = assign_job_group(df.lazy(), load_mapping(custom))
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.collect()["job_group"].to_list() == out["job_group"].to_list()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("prefix,job_group\n25,digital\n25,office\n", "more than once"),
        ("prefix,job_group\n25x,digital\n", "1 to 6 digits"),
        ("prefix,job_group\n25,remote\n", "unknown job group"),
        ("code,group\n25,digital\n", "lacks required columns"),
    ],
)
def test_bad_mappings_are_input_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as err:
        load_mapping(path)
    assert err.value.file == str(path)


def test_missing_disco_column_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no DISCO column"):
        assign_job_group(pl.DataFrame({"x": [1]}))


def test_vectorised_on_many_rows() -> None:
    codes = pl.Series("disco", ["2512", "4110", "2221", None] * 50_000)
    out = assign_job_group(codes.to_frame())
    assert out["job_group"].value_counts().sort("job_group").rows() == [
        ("digital", 50_000),
        ("office", 50_000),
        ("physical_social", 50_000),
        ("unclassified", 50_000),
    ]

"""CSV rows with fewer fields than the header: an error naming them, or with lenient reading a counted
exclusion (``excluded_short_row``), never values read as missing (pendling.panel.readers.short_records)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from panel_fixtures import assert_attrition_complete

from pendling.errors import InputError
from pendling.panel import load_panel
from pendling.panel.readers import short_records

HEADER = "PNR,KOM,ADRESSE_ID,LBNR,ARBKOM,DISCO08_ALLE_INDK_13"
GOOD = [
    "1,101,11,501,101,251110",
    "2,147,12,502,101,251110",
    "3,101,13,503,147,411010",
    "4,751,14,504,751,2512",
]


def _write(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.write_bytes((newline.join(lines) + newline).encode())
    return path


def _buckets(panel) -> dict[str, int]:  # type: ignore[no-untyped-def]
    att = panel.attrition.filter(pl.col("n") > 0)
    return dict(zip(att["bucket"].to_list(), att["n"].to_list(), strict=True))


def test_short_rows_stop_a_strict_load_naming_file_rows_fields_and_the_fix(tmp_path: Path) -> None:
    # a row cut after 3 fields, an empty line, and a record broken in two by an unquoted line break
    path = _write(tmp_path / "ras2020.csv", [HEADER, GOOD[0], "2,147,12", "", GOOD[2], "4,751,14,504", "751,2512"])
    with pytest.raises(InputError) as err:
        load_panel(path, cache=False)
    msg = str(err.value)
    assert err.value.file == str(path)
    assert "4 row(s) have fewer fields than the header's 6" in msg
    assert "row 2 (line 3): 3 fields" in msg
    assert "row 3 (line 4): an empty line" in msg
    assert "row 5 (line 6): 4 fields; row 6 (line 7): 2 fields" in msg
    assert "--lenient" in msg and "excluded_short_row" in msg and "quoted" in msg


def test_the_error_names_the_first_ten_rows_and_counts_the_rest(tmp_path: Path) -> None:
    lines = [HEADER] + [f"{i},101,{i},5{i},101" if i % 2 else f"{i},101,{i},5{i},101,2512" for i in range(1, 41)]
    with pytest.raises(InputError) as err:
        load_panel(_write(tmp_path / "ras2020.csv", lines), cache=False)
    msg = str(err.value)
    assert "20 row(s)" in msg and "row 19 (line 20): 5 fields; and 10 more" in msg
    assert "row 21 (" not in msg


def test_lenient_reading_counts_short_rows_in_their_own_bucket_and_uses_none_of_their_values(tmp_path: Path) -> None:
    # row 3 repeats PNR 1: as a short row it must not make PNR 1 a duplicate (lenient drops duplicates);
    # row 5 holds text where numbers belong: not counted as unreadable values; an empty line at the end
    path = _write(tmp_path / "ras2020.csv", [HEADER, GOOD[0], GOOD[1], "1,101", GOOD[2], "KBH,x", GOOD[3], ""],
                  newline="\r\n")
    panel = load_panel(path, strict=False, cache=False)
    assert _buckets(panel) == {"excluded_short_row": 3, "kept": 4}
    assert panel.attrition["bucket"][0] == "excluded_short_row"  # tested first, listed first
    assert_attrition_complete(panel, 7)
    assert panel.frame["pnr"].to_list() == [1, 2, 3, 4]
    assert panel.provenance["unreadable_values"] == {}
    flags = panel.flags.filter(pl.col("flag") == "unparseable_values")
    assert flags["n"].sum() == 0
    warning = next(w for w in panel.warnings if "fewer fields" in w)
    assert "ras2020.csv: 3 row(s)" in warning and "row 3 (line 4): 2 fields" in warning
    assert "row 7 (line 8): an empty line" in warning


def test_lenient_short_rows_with_the_text_fallback_reader(tmp_path: Path) -> None:
    # ' 147' (a blank in a number column) fails the fast Int64 reader: the text reader must mark the same rows
    path = _write(tmp_path / "ras2020.csv", [HEADER, GOOD[0], "2, 147,12,502,101,251110", "3,101", GOOD[3]])
    panel = load_panel(path, strict=False, cache=False)
    assert _buckets(panel) == {"excluded_short_row": 1, "kept": 3}
    assert panel.frame["pnr"].to_list() == [1, 2, 4]


def test_quoted_line_breaks_are_one_record_and_rows_line_up_after_them(tmp_path: Path) -> None:
    header = HEADER + ",NOTE"
    lines = [header, GOOD[0] + ',"two\nlines"', GOOD[1] + ',"x,y"', "3,101", GOOD[3] + ",z"]
    path = _write(tmp_path / "ras2020.csv", lines)
    short = short_records(path, ",", 7)
    assert short.n == 1 and short.examples == ((3, 5, 2),)  # data row 3 is on line 5 (after the quoted break)
    panel = load_panel(path, strict=False, cache=False)
    assert _buckets(panel) == {"excluded_short_row": 1, "kept": 3}
    assert panel.frame["pnr"].to_list() == [1, 2, 4]
    (tmp_path / "ok").mkdir()
    ok = _write(tmp_path / "ok" / "ras2020.csv", [header, GOOD[0] + ',"two\nlines"', GOOD[1] + ',"x,y"'])
    assert load_panel(ok, cache=False).frame.height == 2  # strict: quoted breaks and separators are fine


def test_good_files_take_the_counting_path_and_list_no_short_row_bucket(tmp_path: Path) -> None:
    path = _write(tmp_path / "ras2020.csv", [HEADER.replace(",", ";"), *(g.replace(",", ";") for g in GOOD)])
    assert short_records(path, ";", 6).n == 0
    no_eol = tmp_path / "ras2021.csv"
    no_eol.write_text("\n".join([HEADER, *GOOD]))  # no line break after the last row
    assert short_records(no_eol, ",", 6).n == 0
    for strict in (True, False):
        panel = load_panel(tmp_path, strict=strict, cache=False)
        assert "excluded_short_row" not in panel.attrition["bucket"].to_list()
        assert panel.frame.height == 8


def test_short_rows_in_a_stacked_file_keep_their_year_when_it_is_readable(tmp_path: Path) -> None:
    lines = ["AAR," + HEADER, "2019," + GOOD[0], "2020," + GOOD[0], "2020,2,147", "X"]
    panel = load_panel(_write(tmp_path / "stacked.csv", lines), strict=False, cache=False)
    short = panel.attrition.filter(pl.col("bucket") == "excluded_short_row")
    assert dict(zip(short["year"].to_list(), short["n"].to_list(), strict=True)) == {2019: 0, 2020: 1, None: 1}
    assert_attrition_complete(panel, 4)


def test_a_header_with_a_field_too_many_is_named_as_the_likely_cause(tmp_path: Path) -> None:
    path = _write(tmp_path / "ras2020.csv", [HEADER + ",", *GOOD])  # a separator at the header's end
    with pytest.raises(InputError) as err:
        load_panel(path, cache=False)
    assert "4 row(s) have fewer fields than the header's 7" in str(err.value)
    assert "every row is shorter than the header" in str(err.value)
    with pytest.raises(InputError) as one:  # one short row: no such guess
        load_panel(_write(tmp_path / "ras2021.csv", [HEADER, GOOD[0], "2,147"]), cache=False)
    assert "every row" not in str(one.value)


def test_a_cached_panel_never_hides_short_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The validated-panel cache is looked up before reading: a short-row file must still stop a strict
    load after a lenient load of it was cached (the reading options are part of the key)."""
    from pendling.panel import cache as panel_cache

    monkeypatch.setenv("PENDLING_CACHE_DIR", str(tmp_path / "cache"))
    # enough rows that the compressed entry is smaller than the file (the cache keeps no larger entry)
    rows = [f"{i},101,{i},{500 + i % 7},147,251110" for i in range(1, 3001)]
    path = _write(tmp_path / "ras2020.csv", [HEADER, *rows[:1000], "1001,147", *rows[1001:]])
    first = load_panel(path, strict=False)
    assert panel_cache.entries().height == 1
    steps: list[str] = []
    again = load_panel(path, strict=False, progress=steps.append)
    assert steps == ["validated panel read from the cache"]
    assert _buckets(again) == _buckets(first) == {"excluded_short_row": 1, "kept": 2999}
    assert any("fewer fields" in w for w in again.warnings)
    with pytest.raises(InputError, match="fewer fields than the header"):
        load_panel(path)

"""Keys of any type: PNR, LBNR and ADRESSE_ID as integers or pseudonymised text give the same panel
(decoded) and the same results, cell by cell, in every format; text is kept exactly as written."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from key_panel import int_extract, key_map, text_keys
from polars.testing import assert_frame_equal
from test_readers import _write as write_format
from typer.testing import CliRunner

import pendling.mobility as mob
from pendling.cli import app
from pendling.errors import InputError
from pendling.panel import check_attrition, export_panel, load_panel
from pendling.panel.keys import decode_keys

FIXTURES = Path(__file__).parent / "data" / "keys"
FORMATS = ("parquet", "csv", "dta", "xpt", "sas7bdat")


def _write(df: pl.DataFrame, path: Path) -> None:
    fmt = path.suffix.lstrip(".")
    assert fmt in ("parquet", "csv", "dta", "xpt"), fmt
    write_format(fmt, df, path)


@pytest.fixture(scope="module")
def extracts(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """(format, 'int' | 'text') → folder with ras2019..ras2021 in that format."""
    root = tmp_path_factory.mktemp("keys")
    frames = int_extract()
    out = {}
    for fmt in FORMATS:
        for kind, convert in (("int", lambda df: df), ("text", text_keys)):
            if fmt == "sas7bdat":  # no Python writer: shipped, made by data/make_key_fixtures.py
                out[fmt, kind] = FIXTURES / kind
                continue
            folder = root / fmt / kind
            folder.mkdir(parents=True)
            for year, df in frames.items():
                _write(convert(df), folder / f"ras{year}.{fmt}")
            out[fmt, kind] = folder
    return out


@pytest.fixture(scope="module")
def reference() -> mob.MobilityResult:
    frames = int_extract()
    stacked = pl.concat([df.with_columns(pl.lit(y).alias("AAR")) for y, df in frames.items()])
    return mob.run(load_panel(stacked), by=["region", "kommunegruppe"], disclosure=False)


@pytest.mark.parametrize("fmt", FORMATS)
def test_text_keys_give_identical_results_in_every_format(extracts, reference, fmt: str) -> None:
    panels = {kind: load_panel(extracts[fmt, kind]) for kind in ("int", "text")}
    assert panels["int"].keys == {}  # integers need no dictionary
    assert set(panels["text"].keys) == {"pnr", "work_id", "home_addr"}
    assert panels["text"].frame.schema == panels["int"].frame.schema  # Int64 codes, like integers
    for kind, panel in panels.items():
        check_attrition(panel.attrition, sum(df.height for df in int_extract().values()))
        result = mob.run(panel, by=["region", "kommunegruppe"], disclosure=False)
        assert_frame_equal(result.results, reference.results)
        assert_frame_equal(result.attrition, reference.attrition)
        assert result.results["n"].sum() > 50, kind  # both flows populated, the test can fail
    # the disclosure-controlled tables too
    a = mob.run(panels["int"], by="region")
    b = mob.run(panels["text"], by="region")
    assert_frame_equal(a.results, b.results)

    # decoded, the text panel holds exactly the text version of every integer row
    maps = key_map(pl.concat(list(int_extract().values())))
    as_text = panels["int"].frame.with_columns(
        pl.col("pnr").replace_strict(maps["PNR"], return_dtype=pl.String),
        pl.col("work_id").replace_strict({**maps["LBNR"], 0: "0"}, return_dtype=pl.String),
        pl.col("home_addr").replace_strict(maps["ADRESSE_ID"], default=None, return_dtype=pl.String),
    )
    decoded = decode_keys(panels["text"].frame, panels["text"].keys)
    assert_frame_equal(decoded.sort("pnr", "year"), as_text.sort("pnr", "year"))


def test_export_keeps_the_original_keys_and_reads_back(extracts, tmp_path: Path) -> None:
    panel = load_panel(extracts["csv", "text"])
    written = export_panel(panel, tmp_path / "panel.parquet")
    out = pl.read_parquet(written["table"])
    assert out.schema["pnr"] == pl.String and out["pnr"].str.contains(r"^X\d{13}Z$").all()
    lbnr = out["work_id"].unique().to_list()
    assert "0" in lbnr and any(v.startswith("0") and v != "0" for v in lbnr)  # zero-padded kept
    again = load_panel(written["table"])
    assert_frame_equal(decode_keys(again.frame, again.keys).drop("job_group", "region_code", strict=False),
                       decode_keys(panel.frame, panel.keys))
    # integer panels export integers, as before
    ints = export_panel(load_panel(extracts["parquet", "int"]), tmp_path / "ints.parquet")
    assert pl.read_parquet(ints["table"]).schema["pnr"] == pl.Int64


def test_cli_compute_on_text_keys_equals_integer_keys(extracts, tmp_path: Path) -> None:
    tables = {}
    for kind in ("int", "text"):
        out = tmp_path / f"{kind}.parquet"
        result = CliRunner().invoke(app, ["compute", "--panel", str(extracts["csv", kind]), "--years", "2020-2021",
                                          "--out", str(out)])
        assert result.exit_code == 0, result.output
        tables[kind] = pl.read_parquet(out)
    assert_frame_equal(tables["int"], tables["text"])


def test_mixed_integer_and_text_years_share_one_dictionary(tmp_path: Path) -> None:
    """2019 with integer keys (Parquet), 2020 with text keys (CSV, one pseudonym with letters, so the
    field needs a dictionary): integer 123 and text '123' are the same person, persons link across years."""
    frames = int_extract()
    frames[2019].write_parquet(tmp_path / "ras2019.parquet")
    extra = pl.DataFrame([("Q1", 101, "q7", "7", 101, "2512")], schema=list(frames[2020].columns), orient="row")
    text_2020 = pl.concat([frames[2020].cast(pl.String).with_columns(pl.col("KOM", "ARBKOM").cast(pl.Int64)),
                           extra.with_columns(pl.col("KOM", "ARBKOM").cast(pl.Int64))])
    text_2020.write_csv(tmp_path / "ras2020.csv")
    mixed = load_panel(tmp_path)
    assert set(mixed.keys) == {"pnr", "home_addr"}  # LBNR is plain digits in both: no dictionary
    stacked = pl.concat([frames[2019].cast(pl.String).with_columns(pl.lit(2019).alias("AAR")),
                         text_2020.cast(pl.String).with_columns(pl.lit(2020).alias("AAR"))])
    ref = load_panel(stacked)
    got, want = mob.run(mixed, disclosure=False).results, mob.run(ref, disclosure=False).results
    assert_frame_equal(got, want)
    assert got.filter(pl.col("job_group") == "all", pl.col("region") == "all")["n"].sum() > 20


def test_text_is_kept_exactly(tmp_path: Path) -> None:
    """Leading zeros and case distinguish keys; blanks around, '.', '' and '101.0' are read as documented."""
    rows = [
        # PNR, KOM, ADRESSE_ID, LBNR, ARBKOM, DISCO
        ("0123", 101, " A1 ", "0", 101, "2512"),
        ("123", 101, "a1", "000", 101, "2512"),
        ("x9", 101, ".", "77.0", 101, "2512"),
        ("X9", 101, "", "077", 101, "2512"),
        ("456.0", 101, "7", "L-3", 101, "2512"),
    ]
    path = tmp_path / "ras2015.csv"
    pl.DataFrame(rows, schema=["PNR", "KOM", "ADRESSE_ID", "LBNR", "ARBKOM", "DISCO08_ALLE_INDK_13"],
                 orient="row").write_csv(path)
    panel = load_panel(path)
    got = decode_keys(panel.frame, panel.keys).select("pnr", "home_addr", "work_id").sort("pnr")
    assert got.rows() == [("0123", "A1", "0"), ("123", "a1", "0"), ("456", "7", "L-3"), ("X9", None, "077"),
                          ("x9", None, "77")]
    assert panel.frame.filter(pl.col("work_id") == 0).height == 2  # '0' and '000': the fictive workplace
    assert int(panel.attrition.filter(pl.col("bucket") == "kept_lbnr0")["n"].sum()) == 2


@pytest.mark.parametrize("value", ["-7", "101.5", "1e5", "nan", "inf"])
def test_numbers_that_cannot_be_ids_are_errors_or_counted(tmp_path: Path, value: str) -> None:
    path = tmp_path / "ras2015.csv"
    path.write_text(f"PNR,KOM,LBNR,ARBKOM,DISCO08_ALLE_INDK_13\nP1,101,7,101,2512\n{value},101,7,101,2512\n")
    with pytest.raises(InputError) as info:
        load_panel(path)
    assert "column: PNR" in str(info.value) and repr(value) in str(info.value)
    lenient = load_panel(path, strict=False)
    assert lenient.attrition.filter(pl.col("n") > 0).select("bucket", "n").rows() == [
        ("excluded_null_pnr", 1), ("kept", 1)]


def test_duplicate_message_shows_the_key_as_written(tmp_path: Path) -> None:
    path = tmp_path / "ras2015.csv"
    path.write_text("PNR,KOM,LBNR,ARBKOM,DISCO08_ALLE_INDK_13\nX0042,101,7,101,2512\nX0042,101,8,101,2512\n")
    with pytest.raises(InputError, match=r"X0042 \(2015\)"):
        load_panel(path)


def test_leading_zeros_next_to_integers_are_warned_about(tmp_path: Path) -> None:
    base = "KOM,LBNR,ARBKOM,DISCO08_ALLE_INDK_13"
    pl.DataFrame({"PNR": [123], "KOM": [101], "LBNR": [7], "ARBKOM": [101],
                  "DISCO08_ALLE_INDK_13": ["2512"]}).write_parquet(tmp_path / "ras2015.parquet")
    (tmp_path / "ras2016.csv").write_text(f"PNR,{base}\n0123,101,7,101,2512\n")
    panel = load_panel(tmp_path)
    assert panel.frame["pnr"].n_unique() == 2  # 123 and '0123' are different persons
    assert any("leading zeros" in w and "'0123'" in w for w in panel.warnings), panel.warnings




def test_file_name_and_year_column_disagreeing_is_warned_about(tmp_path: Path) -> None:
    (tmp_path / "ras2015.csv").write_text("AAR,PNR,KOM,LBNR,ARBKOM,DISCO08_ALLE_INDK_13\n2016,1,101,7,101,2512\n"
                                          "2015,2,101,7,101,2512\n")
    panel = load_panel(tmp_path)
    assert panel.years == [2015, 2016]
    assert any("file name says 2015" in w and "1 of 2 rows" in w for w in panel.warnings), panel.warnings

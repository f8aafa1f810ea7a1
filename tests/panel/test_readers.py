"""The same extract read from every supported format gives the same canonical frame and attrition."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import polars as pl
import pyreadstat
import pytest
from panel_fixtures import (
    YEARS,
    assert_attrition_complete,
    expected_buckets,
    expected_frame,
    extract,
    nonzero_buckets,
)
from polars.testing import assert_frame_equal

from pendling.errors import InputError
from pendling.panel import CANONICAL_SCHEMA, load_panel
from pendling.panel.readers import discover

DATA = Path(__file__).parent / "data"
SAS_UTF8 = DATA / "ras_extract_utf8.sas7bdat"
SAS_LATIN1 = DATA / "ras_extract_latin1.sas7bdat"


def _write(fmt: str, df: pl.DataFrame, path: Path) -> Path:
    if fmt == "parquet":
        df.write_parquet(path)
    elif fmt == "csv":
        df.write_csv(path)
    elif fmt == "dta":
        pyreadstat.write_dta(df.to_pandas(), path)
    elif fmt == "xpt":
        pyreadstat.write_xport(df.to_pandas(), path, file_format_version=8)
    return path


@pytest.fixture(scope="module")
def stacked_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("stacked")
    df = extract()
    files = {fmt: _write(fmt, df, tmp / f"extract.{fmt}") for fmt in ("parquet", "csv", "dta", "xpt")}
    files["sas7bdat"] = SAS_UTF8
    files["sas7bdat_latin1"] = SAS_LATIN1
    return files


@pytest.mark.parametrize("fmt", ["parquet", "csv", "dta", "xpt", "sas7bdat", "sas7bdat_latin1"])
def test_every_format_gives_the_hand_written_frame(stacked_files: dict[str, Path], fmt: str) -> None:
    panel = load_panel(stacked_files[fmt])
    assert_attrition_complete(panel, n_input=extract().height)
    assert panel.frame.schema == CANONICAL_SCHEMA
    assert_frame_equal(panel.frame, expected_frame())
    assert_frame_equal(nonzero_buckets(panel), expected_buckets())


def test_formats_agree_with_each_other_exactly(stacked_files: dict[str, Path]) -> None:
    panels = {fmt: load_panel(path) for fmt, path in stacked_files.items()}
    ref = panels.pop("parquet")
    for fmt, panel in panels.items():
        assert_frame_equal(panel.frame, ref.frame, check_exact=True), fmt
        assert_frame_equal(panel.attrition, ref.attrition), fmt
        assert_frame_equal(panel.flags, ref.flags), fmt


def test_shipped_sas_files_hold_the_fixture_per_an_independent_reader() -> None:
    """pandas' own SAS7BDAT parser (not ReadStat) reads the same values from both shipped files.

    pandas truncates the two longest column names of ReadStat-written files (it trusts a text-block
    length that ReadStat 1.1.8 writes 12 bytes short), so compare by position."""
    want = extract().to_pandas()
    for path in (SAS_UTF8, SAS_LATIN1):
        got = pd.read_sas(path, format="sas7bdat", encoding="infer")
        assert got.shape == want.shape
        for i, col in enumerate(want.columns):
            a = got.iloc[:, i]
            b = want[col]
            if col in ("DISCO08_ALLE_INDK_13", "KOMNAVN"):
                assert a.fillna("").tolist() == b.fillna("").tolist(), (path.name, col)
            else:
                assert a.tolist() == pytest.approx(b.astype(float).tolist(), nan_ok=True), (path.name, col)


def test_latin1_sas_file_declares_latin1_and_decodes_danish_letters() -> None:
    _, meta = pyreadstat.read_sas7bdat(SAS_LATIN1, metadataonly=True)
    assert meta.file_encoding == "ISO-8859-1"
    raw = SAS_LATIN1.read_bytes()
    assert "Ærø".encode("latin-1") in raw and "Ærø".encode() not in raw
    back, _ = pyreadstat.read_sas7bdat(SAS_LATIN1, usecols=["KOMNAVN"], output_format="polars")
    assert "Ærø" in back["KOMNAVN"].to_list()


def test_misdeclared_sas_encoding_is_read_with_the_column_map_override(tmp_path: Path) -> None:
    # latin-1 bytes in a file whose header claims UTF-8: what a mislabelled delivery looks like
    data = bytearray(SAS_LATIN1.read_bytes())
    data[70] = 20
    bad = tmp_path / "ras_mislabelled.sas7bdat"
    bad.write_bytes(bytes(data))
    with pytest.raises(UnicodeDecodeError):
        pyreadstat.read_sas7bdat(bad)  # all columns, incl. the latin-1 text: fails as declared
    fixed = load_panel(bad, column_map={"read": {"encoding": "latin1"}})
    assert_frame_equal(fixed.frame, expected_frame())
    plain = load_panel(bad)  # the mapped columns are ASCII, so only the mapped ones are decoded
    assert_frame_equal(plain.frame, expected_frame())


def test_per_year_files_take_the_year_from_the_file_name(tmp_path: Path) -> None:
    df = extract()
    for year, fmt in zip(YEARS, ("parquet", "csv", "dta"), strict=True):
        part = df.filter(pl.col("AAR") == year).drop("AAR")
        _write(fmt, part, tmp_path / f"ras{year}.{fmt}")
    pl.DataFrame({"pnr": [1], "truth": [0.5]}).write_parquet(tmp_path / "truth.parquet")
    (tmp_path / "manifest.json").write_text("{}")
    panel = load_panel(tmp_path)
    assert_attrition_complete(panel, df.height)
    assert_frame_equal(panel.frame, expected_frame())
    assert [Path(s).name for s in panel.sources] == ["ras2015.parquet", "ras2016.csv", "ras2018.dta"]
    assert any("truth.parquet" in w for w in panel.warnings)
    assert any("2017" in w for w in panel.warnings)
    assert [i["year_from_file_name"] for i in panel.provenance["inputs"]] == list(YEARS)


def test_directory_with_the_same_extract_in_two_formats_reads_one(tmp_path: Path) -> None:
    df = extract()
    _write("parquet", df, tmp_path / "ras_all_2015_2018.parquet")
    _write("csv", df, tmp_path / "ras_all_2015_2018.csv")
    files, warnings = discover(tmp_path)
    assert [f.name for f in files] == ["ras_all_2015_2018.parquet"]
    assert "ras_all_2015_2018.csv" in warnings[0]


def test_glob_and_list_sources(tmp_path: Path) -> None:
    df = extract()
    for year in YEARS:
        _write("parquet", df.filter(pl.col("AAR") == year), tmp_path / f"ras{year}.parquet")
    by_glob = load_panel(str(tmp_path / "ras*.parquet"))
    by_list = load_panel(sorted(tmp_path.glob("ras*.parquet")))
    assert_frame_equal(by_glob.frame, expected_frame())
    assert_frame_equal(by_list.frame, expected_frame())
    with pytest.raises(InputError, match="matches no readable extract"):
        load_panel(str(tmp_path / "nothing*.parquet"))


def test_csv_semicolons_bom_text_codes_and_float_artefacts(tmp_path: Path) -> None:
    """A DST-style CSV: ';' separator, UTF-8 BOM, lower-case names, '0101' codes, '251200.0' DISCO."""
    text = (
        "\ufeffpnr;aar;kom;adresse_id;lbnr;arbkom;disco08_alle_indk_13\n"
        "1;2015;0101;5001;9001;0101;0110\n"
        "2;2015;0147;;9002;101.0;251200.0\n"
        "3;2015; 461 ;.;0;461;\n"
    )
    path = tmp_path / "dst_export.csv"
    path.write_bytes(text.encode("utf-8"))
    panel = load_panel(path)
    assert_attrition_complete(panel, 3)
    assert panel.frame["home_muni"].to_list() == [101, 147, 461]
    assert panel.frame["work_muni"].to_list() == [101, 101, 461]
    assert panel.frame["disco"].to_list() == ["0110", "251200", None]
    assert panel.frame["home_addr"].to_list() == [5001, None, None]


def test_numeric_disco_gets_its_leading_zero_back(tmp_path: Path) -> None:
    df = extract().with_columns(
        pl.when(pl.col("DISCO08_ALLE_INDK_13").str.contains(r"^\d+$"))
        .then(pl.col("DISCO08_ALLE_INDK_13").cast(pl.Float64))
        .alias("DISCO08_ALLE_INDK_13")
    )
    path = _write("dta", df, tmp_path / "numeric_disco.dta")
    panel = load_panel(path)
    assert_attrition_complete(panel, df.height)
    codes = dict(zip(panel.frame["pnr"].to_list(), panel.frame["disco"].to_list(), strict=False))
    assert codes[9] == "0110"  # armed forces 0110 stored as 110.0
    assert panel.frame.filter(pl.col("pnr") == 17)["disco"].to_list() == ["011000"]
    assert any("zero-padded" in w for w in panel.warnings)
    assert int(panel.flags.filter(pl.col("flag") == "disco_numeric")["n"].sum()) > 0


def test_alternative_workplace_column_names_are_found(tmp_path: Path) -> None:
    for alt in ("KOMARB", "ARB_BEL_KOM_KODE"):
        df = extract().rename({"ARBKOM": alt, "DISCO08_ALLE_INDK_13": "DISCO_KODE"})
        panel = load_panel(_write("parquet", df, tmp_path / f"{alt}.parquet"))
        assert_frame_equal(panel.frame, expected_frame())
        assert panel.provenance["inputs"][0]["columns"]["work_muni"] == alt


def test_canonical_export_reads_back_unchanged(tmp_path: Path) -> None:
    panel = load_panel(SAS_UTF8)
    out = tmp_path / "canonical.parquet"
    panel.with_derived().write_parquet(out)
    again = load_panel(out)
    assert_frame_equal(again.frame, panel.frame)


def test_unreadable_and_unsupported_files_are_input_errors(tmp_path: Path) -> None:
    broken = tmp_path / "ras2015.parquet"
    broken.write_bytes(b"not a parquet file")
    with pytest.raises(InputError) as err:
        load_panel(broken)
    assert err.value.file == str(broken) and "cannot read this parquet file" in str(err.value)
    broken_sas = tmp_path / "ras2015.sas7bdat"
    broken_sas.write_bytes(SAS_UTF8.read_bytes()[:5000])
    with pytest.raises(InputError, match="cannot read this sas7bdat file"):
        load_panel(broken_sas)
    odd = tmp_path / "ras2015.xlsx"
    odd.write_bytes(b"x")
    with pytest.raises(InputError, match="unsupported file type"):
        load_panel(odd)
    with pytest.raises(InputError, match="input not found"):
        load_panel(tmp_path / "missing.parquet")


def test_missing_column_error_names_file_columns_and_fix(tmp_path: Path) -> None:
    path = _write("parquet", extract().drop("ARBKOM"), tmp_path / "ras_no_work.parquet")
    with pytest.raises(InputError) as err:
        load_panel(path)
    e = err.value
    assert e.file == str(path)
    assert e.column == "work_muni"
    assert "ARBKOM / KOMARB / ARB_BEL_KOM_KODE" in str(e)
    assert "KOM" in e.values  # the columns the file does have
    assert "--column-map" in (e.hint or "")


def test_missing_year_everywhere_is_an_error(tmp_path: Path) -> None:
    path = _write("parquet", extract().drop("AAR"), tmp_path / "extract.parquet")
    with pytest.raises(InputError, match="year") as err:
        load_panel(path)
    assert "file name" in (err.value.hint or "")


def test_sas_fixture_copy_keeps_working_under_any_name(tmp_path: Path) -> None:
    # a per-year file name and a year column together: the column wins
    copy = tmp_path / "ras1999.sas7bdat"
    shutil.copy(SAS_UTF8, copy)
    assert_frame_equal(load_panel(copy).frame, expected_frame())

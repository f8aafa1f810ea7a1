"""Column map details and the ``pendling panel`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from panel_fixtures import expected_frame, extract
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from pendling.cli import app
from pendling.cli.panel import parse_years
from pendling.errors import InputError
from pendling.panel import load_column_map
from pendling.panel.columns import sniff_separator, year_from_name

DATA = Path(__file__).parent / "data"
runner = CliRunner()


def test_default_column_map_comes_from_the_shipped_toml() -> None:
    cmap = load_column_map()
    assert cmap.origin.endswith("column_map_default.toml")
    assert cmap.names_for("work_muni") == ("ARBKOM", "KOMARB", "ARB_BEL_KOM_KODE", "work_muni")
    assert cmap.names_for("disco")[:2] == ("DISCO08_ALLE_INDK_13", "DISCO_KODE")


def test_override_keeps_other_defaults_and_can_switch_off_home_addr() -> None:
    cmap = load_column_map({"columns": {"home_addr": []}, "read": {"csv_separator": ";"}})
    assert cmap.names_for("home_addr") == ()
    assert cmap.names_for("pnr")[0] == "PNR"
    assert cmap.csv_separator == ";"
    found, _ = cmap.resolve(["PNR", "ADRESSE_ID"], file="x")
    assert "home_addr" not in found


def test_case_clash_is_ambiguous() -> None:
    with pytest.raises(InputError, match="differ only by case|when case is ignored"):
        load_column_map().resolve(["PNR", "pnr"], file="x.parquet")


def test_two_candidates_present_uses_the_first_and_warns() -> None:
    found, warnings = load_column_map().resolve(["ARBKOM", "KOMARB"], file="ras2015.parquet")
    assert found["work_muni"] == "ARBKOM"
    assert "KOMARB" in warnings[0]


@pytest.mark.parametrize(
    ("name", "year"),
    [("ras2015.parquet", 2015), ("RAS_1999_v2.csv", 1999), ("ras201511.csv", None), ("truth.parquet", None),
     ("idap2012_2013.dta", 2012)],
)
def test_year_from_file_name(name: str, year: int | None) -> None:
    assert year_from_name(name) == year


def test_separator_sniffing() -> None:
    assert sniff_separator("PNR;KOM;LBNR") == ";"
    assert sniff_separator("PNR,KOM") == ","
    assert sniff_separator("PNR\tKOM") == "\t"
    assert sniff_separator("PNR") == ","


def test_parse_years() -> None:
    assert parse_years("2015-2017,2020") == [2015, 2016, 2017, 2020]
    assert parse_years(None) is None
    with pytest.raises(InputError):
        parse_years("last year")


def test_cli_check_prints_rows_attrition_and_gap() -> None:
    result = runner.invoke(app, ["panel", "check", str(DATA / "ras_extract_utf8.sas7bdat")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Rows per year" in out and "Attrition" in out
    assert "excluded_home_abroad_or_unknown" in out
    assert "total (input rows)" in out
    assert "gap in years" in out and "2017" in out
    assert "21 of 30 rows kept" in out


def test_cli_export_writes_table_and_side_files_deterministically(tmp_path: Path) -> None:
    src = tmp_path / "extract.parquet"
    extract().write_parquet(src)
    out = tmp_path / "out" / "canonical.parquet"
    first = runner.invoke(app, ["panel", "export", str(src), "--out", str(out)])
    assert first.exit_code == 0, first.output
    table = pl.read_parquet(out)
    assert table.columns == [*expected_frame().columns, "job_group", "region_code"]
    assert_frame_equal(table.drop("job_group", "region_code"), expected_frame())
    regions = dict(zip(table["home_muni"].to_list(), table["region_code"].to_list(), strict=False))
    assert regions[101] == 1084 and regions[751] == 1082 and regions[400] == 1084 and regions[860] == 1081
    groups = dict(zip(table["pnr"].to_list(), table["job_group"].to_list(), strict=False))
    assert groups[2] in ("office", "digital") and groups[4] == "physical_social" and groups[5] == "unclassified"

    # side files are disclosure-controlled (min N 5): small counts and their complements are empty
    att = pl.read_csv(tmp_path / "out" / "canonical.attrition.csv")
    hidden = att.filter(pl.col("suppressed"))
    assert hidden.height > 0 and hidden["n"].null_count() == hidden.height
    assert set(hidden["suppression"]) <= {"primary", "complementary"}
    published = att["n"].drop_nulls()
    assert ((published == 0) | (published >= 5)).all()
    summary = json.loads((tmp_path / "out" / "canonical.panel.json").read_text())
    per_year = pl.DataFrame(summary["rows_per_year"])
    assert summary["min_n"] == 5 and per_year["input"].drop_nulls().sum() <= 30
    assert summary["rows_read"] in (30, None) and summary["rows_written"] in (21, None)
    assert (tmp_path / "out" / "canonical.flags.csv").is_file()

    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    again = runner.invoke(app, ["panel", "export", str(src), "--out", str(out)])
    assert again.exit_code == 0
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before


def test_cli_errors_are_friendly(tmp_path: Path) -> None:
    src = tmp_path / "ras2015.parquet"
    extract().drop("ARBKOM").write_parquet(src)
    result = runner.invoke(app, ["panel", "check", str(src)])
    assert result.exit_code == 2
    assert "required column" in result.output and "Traceback" not in result.output
    dup = tmp_path / "dup" / "ras2015.parquet"
    dup.parent.mkdir()
    pl.concat([extract(), extract()]).write_parquet(dup)
    result = runner.invoke(app, ["panel", "check", str(dup)])
    assert result.exit_code == 2 and "occur more than once" in result.output
    ok = runner.invoke(app, ["panel", "check", str(dup), "--on-duplicate", "drop", "--years", "2015-2016"])
    assert ok.exit_code == 0, ok.output
    assert "excluded_duplicate" in ok.output and "excluded_year_out_of_range" in ok.output


def test_cli_check_writes_attrition_when_asked(tmp_path: Path) -> None:
    out = tmp_path / "att.csv"
    result = runner.invoke(
        app, ["panel", "check", str(DATA / "ras_extract_latin1.sas7bdat"), "--attrition-out", str(out)]
    )
    assert result.exit_code == 0, result.output
    att = pl.read_csv(out)  # disclosure-controlled: what is hidden is flagged, the rest as counted
    published = att["n"].drop_nulls()
    assert ((published == 0) | (published >= 5)).all() and att["suppressed"].any()
    assert att["n"].null_count() == att["suppressed"].sum() and att["n"].sum() < 30
    # with --min-n 3 fewer counts are hidden (never fewer than 3 observations per cell)
    out3 = tmp_path / "att3.csv"
    result = runner.invoke(app, ["panel", "check", str(DATA / "ras_extract_latin1.sas7bdat"),
                                 "--attrition-out", str(out3), "--min-n", "3"])
    assert result.exit_code == 0, result.output
    assert pl.read_csv(out3)["suppressed"].sum() <= att["suppressed"].sum()


def test_attrition_helper_progress_and_lazy_input() -> None:
    from pendling.panel import attrition, load_panel

    calls: list[str] = []
    panel = load_panel(DATA / "ras_extract_utf8.sas7bdat", progress=calls.append, cache=False)  # reading steps
    assert calls[0] == "opening ras_extract_utf8.sas7bdat" and len(calls) == 3
    assert attrition(panel) is panel.attrition
    assert_frame_equal(attrition(DATA / "ras_extract_latin1.sas7bdat"), panel.attrition)
    lazy = load_panel(extract().lazy())
    assert_frame_equal(lazy.frame, panel.frame)
    assert panel.rows_per_year().rows() == [(2015, 13, 8, 5), (2016, 10, 6, 4), (2018, 7, 7, 0)]

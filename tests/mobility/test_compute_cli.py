"""``pendling compute`` end to end on DST-named extracts, the shipped matrix and municipalities."""

from __future__ import annotations

import zipfile
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from pendling.cli import app
from pendling.io import sha256_file
from test_reference import random_panel

runner = CliRunner()
DST_NAMES = {"pnr": "PNR", "home_muni": "KOM", "home_addr": "ADRESSE_ID", "work_id": "LBNR",
             "work_muni": "ARBKOM", "disco": "DISCO08_ALLE_INDK_13"}
DISCO = {"digital": "251110", "office": "411010", "physical_social": "711200", "unclassified": "999999"}


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> Path:
    """ras2019..ras2021.parquet in DST column names, from the random panel (real municipality codes)."""
    pytest.importorskip("pendling.panel")
    folder = tmp_path_factory.mktemp("extract")
    frame = random_panel(n_people=800, years=range(2019, 2022), seed=5).filter(pl.col("home_muni") != 999)
    frame = frame.with_columns(pl.col("job_group").replace_strict(DISCO).alias("disco")).drop("job_group")
    for (year,), part in frame.partition_by("year", as_dict=True).items():
        part.drop("year").rename(DST_NAMES).write_parquet(folder / f"ras{year}.parquet")
    return folder


def _run(*args: str):
    return runner.invoke(app, ["compute", *args], catch_exceptions=False)


def test_writes_results_attrition_and_method(extract, tmp_path):
    out = tmp_path / "res.parquet"
    r = _run("--panel", str(extract), "--years", "2020-2021", "--by", "region", "--out", str(out))
    assert r.exit_code == 0, r.output
    res = pl.read_parquet(out)
    assert res.columns[:10] == ["year", "flow", "job_group", "region", "n", "mean_rel_change", "ratio_of_means",
                                "ci_low", "ci_high", "suppressed"]
    assert sorted(res["year"].unique().to_list()) == [2020, 2021]
    ns = res["n"].drop_nulls()
    assert not ((ns > 0) & (ns < 5)).any()
    att = pl.read_parquet(tmp_path / "res.attrition.parquet")
    assert set(att["stage"].unique()) == {"panel", "flows"}
    method = pl.read_csv(tmp_path / "res.method.csv")
    assert "Disclosure control: min n = 5" in r.output
    assert "disclosure" in method["key"].to_list()
    assert "Wrote:" in r.output and str(out.resolve()) in r.output.replace("\n", "")


def test_reruns_are_byte_identical(extract, tmp_path):
    for suffix in (".parquet", ".csv", ".xlsx"):
        a, b = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
        assert _run("--panel", str(extract), "--year", "2021", "--out", str(a)).exit_code == 0
        assert _run("--panel", str(extract), "--year", "2021", "--out", str(b)).exit_code == 0
        assert sha256_file(a) == sha256_file(b), suffix


def test_xlsx_has_results_attrition_and_method_sheets(extract, tmp_path):
    out = tmp_path / "res.xlsx"
    assert _run("--panel", str(extract), "--year", "2021", "--out", str(out)).exit_code == 0
    with zipfile.ZipFile(out) as z:
        workbook = z.read("xl/workbook.xml").decode()
    for sheet in ("results", "attrition", "method"):
        assert f'name="{sheet}"' in workbook


def test_no_disclosure_is_explicit_and_loud(extract, tmp_path):
    out = tmp_path / "raw.csv"
    r = _run("--panel", str(extract), "--year", "2021", "--no-disclosure", "--out", str(out))
    assert r.exit_code == 0
    assert "NOT disclosure-controlled" in r.output
    method = pl.read_csv(tmp_path / "raw.method.csv")
    assert "NO disclosure control" in dict(method.rows())["disclosure"]
    raw = pl.read_csv(out)
    assert ((raw["n"] > 0) & (raw["n"] < 5)).any()  # small cells really are there without control


def test_default_output_location(extract, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = _run("--panel", str(extract), "--years", "2020-2021")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "pendling-results" / "results_2020-2021.parquet").is_file()
    assert (tmp_path / "pendling-results" / "results_2020-2021.attrition.parquet").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--year", "2021", "--years", "2020-2021"], "either --year or --years"),
        (["--year", "2021", "--min-n", "2"], "at least 3"),
        (["--year", "2019"], "the extract holds 2019-2021, so flow years 2020-2021"),
        (["--years", "20x1"], "cannot read years"),
        (["--year", "2021", "--out", "r.json"], "unsupported output format"),
    ],
)
def test_bad_input_gives_a_friendly_error(extract, args, message):
    r = runner.invoke(app, ["compute", "--panel", str(extract), *args])
    assert r.exit_code == 2
    assert message in r.output
    assert "Traceback" not in r.output


def test_demo_extract_is_the_default_panel(tmp_path, monkeypatch):
    synth = pytest.importorskip("pendling.synth")
    if not hasattr(synth, "demo_extract"):
        pytest.skip("pendling.synth.demo_extract not available yet")
    monkeypatch.chdir(tmp_path)
    r = _run("--out", str(tmp_path / "demo.parquet"))
    assert r.exit_code == 0, r.output
    assert "synthetic" in r.output
    assert pl.read_parquet(tmp_path / "demo.parquet").height > 0

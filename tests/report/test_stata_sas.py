"""Stata (.dta) and SAS transport (.xpt) outputs: read back with pyreadstat, they hold exactly what the
Parquet output holds (names mapped, labels attached), reruns are byte-identical, and what the formats
cannot hold is refused with a clear error rather than altered."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import polars as pl
import pyreadstat
import pytest
from typer.testing import CliRunner

from pendling import io, statfiles
from pendling.cli import app
from pendling.errors import InputError
from pendling.mobility.export import beside, write_results
from pendling.synth import generate


@pytest.fixture(scope="module")
def run_result(tmp_path_factory: pytest.TempPathFactory):
    import pendling.mobility as mob

    extract = tmp_path_factory.mktemp("synth") / "x"
    generate(extract, persons=3000, years="2020-2021", seed=3, scenario="null")  # not tied to the default's calibration
    return extract, mob.run(extract, years=2021, by="region")


def _read(path: Path) -> tuple[pl.DataFrame, object]:
    reader = pyreadstat.read_dta if path.suffix == ".dta" else pyreadstat.read_xport
    pdf, meta = reader(path)
    return pl.from_pandas(pdf, nan_to_null=True), meta


def _same(back: pl.DataFrame, ref: pl.DataFrame, names: dict[str, str]) -> None:
    """Every column of ``ref`` equals its read-back column (null text as '', Boolean as 0/1)."""
    assert back.columns == [names[c] for c in ref.columns]
    assert back.height == ref.height
    for col, dtype in ref.schema.items():
        got = back[names[col]]
        if dtype == pl.String:
            assert got.to_list() == ref[col].fill_null("").to_list(), col
        else:
            want = ref[col].cast(pl.Float64)
            assert got.cast(pl.Float64).to_list() == want.to_list(), col  # exact: doubles both sides


@pytest.mark.parametrize("suffix", [".dta", ".xpt"])
def test_results_round_trip_equals_parquet(run_result, tmp_path: Path, suffix: str) -> None:
    _, res = run_result
    write_results(res, tmp_path / "r.parquet")
    written = write_results(res, tmp_path / f"r{suffix}")
    assert [p.name for p in written] == [f"r{suffix}", f"r.attrition{suffix}", "r.method.csv"]
    for part in (lambda p: p, lambda p: beside(p, "attrition")):
        ref = pl.read_parquet(part(tmp_path / "r.parquet"))
        back, meta = _read(part(tmp_path / f"r{suffix}"))
        names = statfiles.stata_names(ref.columns) if suffix == ".dta" else statfiles.xpt_names(ref.columns)
        _same(back, ref, names)
    assert ref["suppressed"].sum() > 0  # the comparison covered suppressed (missing) cells too


def test_xpt_reads_in_an_independent_v5_reader(run_result, tmp_path: Path) -> None:
    """pandas' own XPORT reader (v5 only, not readstat) sees the same table as the Parquet output."""
    import numpy as np
    import pandas as pd

    _, res = run_result
    write_results(res, tmp_path / "r.parquet")
    write_results(res, tmp_path / "r.xpt")
    ref = pl.read_parquet(tmp_path / "r.parquet")
    back = pd.read_sas(tmp_path / "r.xpt", format="xport", encoding="utf-8")
    names = statfiles.xpt_names(ref.columns)
    assert list(back.columns) == [names[c] for c in ref.columns]
    for col, dtype in ref.schema.items():
        got = back[names[col]]
        if dtype == pl.String:
            assert got.tolist() == ref[col].fill_null("").to_list(), col
            continue
        want = ref[col].cast(pl.Float64).to_numpy()
        x = got.to_numpy(dtype=float, copy=True)
        x[np.abs(x) < 1e-78] = 0.0  # pandas decodes the IBM zero (all bits 0) as 16**-65
        assert np.array_equal(np.isnan(x), np.isnan(want)), col
        ok = ~np.isnan(want)  # pandas decodes IBM floats with rounding in the last bits (pyreadstat: exact)
        assert np.allclose(x[ok], want[ok], rtol=1e-14, atol=0), col


def test_dta_labels_come_from_the_method_notes(run_result, tmp_path: Path) -> None:
    _, res = run_result
    write_results(res, tmp_path / "r.dta")
    _, meta = _read(tmp_path / "r.dta")
    notes = dict(zip(res.method["key"], res.method["value"], strict=True))
    labels = meta.column_names_to_labels
    assert labels["mean_rel_change"] == notes["mean_rel_change"]
    for col in res.results.columns:  # a note that fits is the label; one too long gives way to the default
        note = notes.get(col)
        if note and len(note.encode()) <= 80:
            assert labels[col] == note, col
        elif note and col in statfiles.DEFAULT_LABELS:
            assert labels[col] == statfiles.DEFAULT_LABELS[col], col
    assert labels["ci_low"] == statfiles.DEFAULT_LABELS["ci_low"]  # a shared note gives way to the specific label
    assert all(0 < len(v.encode()) <= 80 for v in labels.values())
    assert meta.variable_value_labels["suppressed"] == {0: "no", 1: "yes"}
    assert meta.readstat_variable_types["year"] == "int32"  # an integer, not a double


def test_xpt_v5_names_are_sas_legal_and_labels_fit(run_result, tmp_path: Path) -> None:
    _, res = run_result
    write_results(res, tmp_path / "r.xpt")
    _, meta = _read(tmp_path / "r.xpt")
    assert meta.column_names[:5] == ["YEAR", "FLOW", "JOBGROUP", "REGION", "N"]
    assert all(len(n) <= 8 and n.isupper() or n.isalpha() for n in meta.column_names)
    labels = meta.column_names_to_labels
    assert labels["MEANREL"] == statfiles.DEFAULT_LABELS["mean_rel_change"]  # the note is longer than 40
    assert labels["SUPPRESS"].endswith("(1 = yes, 0 = no)")
    assert all(len(v.encode()) <= 40 for v in labels.values())
    assert meta.table_name == "R"


@pytest.mark.parametrize("suffix", [".dta", ".xpt"])
def test_rerun_is_byte_identical_with_a_pinned_stamp(run_result, tmp_path: Path, suffix: str) -> None:
    _, res = run_result
    write_results(res, tmp_path / "a" / f"r{suffix}")
    write_results(res, tmp_path / "b" / f"r{suffix}")
    for name in (f"r{suffix}", f"r.attrition{suffix}"):
        a, b = (tmp_path / d / name for d in "ab")
        assert a.read_bytes() == b.read_bytes()
        stamp = statfiles.FIXED_DTA_STAMP if suffix == ".dta" else statfiles.FIXED_XPT_STAMP
        assert stamp in a.read_bytes()
        today = dt.date.today()
        now = (today.strftime("%d %b %Y") if suffix == ".dta" else today.strftime("%d%b%y").upper()).encode()
        assert now not in a.read_bytes()  # the wall-clock date readstat writes is gone


def test_cli_compute_writes_dta_and_xpt(run_result, tmp_path: Path) -> None:
    extract, _ = run_result
    for suffix in (".dta", ".xpt", ".parquet"):
        result = CliRunner().invoke(app, ["compute", "--panel", str(extract), "--year", "2021",
                                          "--out", str(tmp_path / f"r{suffix}")])
        assert result.exit_code == 0, result.output
    ref = pl.read_parquet(tmp_path / "r.parquet")
    back, _ = _read(tmp_path / "r.dta")
    _same(back, ref, statfiles.stata_names(ref.columns))


def test_odd_column_names_are_mapped_legally_and_recorded_in_labels(tmp_path: Path) -> None:
    df = pl.DataFrame({
        "2021": [1.0], "Ærø kommune": ["ø"], "if": [2], "x" * 40 + "a": [3], "x" * 40 + "b": [4],
        "mean_minutes_before": [5.5], "long_name_one": [6], "long_name_two": [7],
    })
    dta = statfiles.stata_names(df.columns)
    assert list(dta.values()) == ["v2021", "AEroe_kommune", "if_", "x" * 32, "x" * 31 + "2",
                                  "mean_minutes_before", "long_name_one", "long_name_two"]
    xpt = statfiles.xpt_names(df.columns)
    assert list(xpt.values()) == ["V2021", "AEROEKOM", "IF", "XXXXXXXX", "XXXXXXX2", "MINBEF", "LONGNAME",
                                  "LONGNAM2"]
    assert statfiles.xpt_names(["Year", "YEAR"], version=8) == {"Year": "Year", "YEAR": "YEAR2"}  # case-blind
    io.write_table(df, tmp_path / "odd.dta")
    io.write_table(df, tmp_path / "odd.xpt")
    back, meta = _read(tmp_path / "odd.dta")
    assert meta.column_names == list(dta.values())
    assert meta.column_names_to_labels["AEroe_kommune"] == "Ærø kommune"
    assert back["AEroe_kommune"].to_list() == ["ø"]
    back, meta = _read(tmp_path / "odd.xpt")
    assert meta.column_names_to_labels["LONGNAM2"] == "long_name_two"
    assert meta.column_names_to_labels["MINBEF"] == statfiles.DEFAULT_LABELS["mean_minutes_before"]


def test_types_missing_values_and_value_labels(tmp_path: Path) -> None:
    df = pl.DataFrame({
        "kind": pl.Series(["b", None, "a"], dtype=pl.Enum(["b", "a"])),
        "flag": [True, None, False],
        "x": [1.5, float("nan"), float("inf")],
        "k": pl.Series([1, None, 3], dtype=pl.Int16),
        "big": pl.Series([2**53, -(2**53), 0], dtype=pl.Int64),
    })
    io.write_table(df, tmp_path / "t.dta")
    back, meta = _read(tmp_path / "t.dta")
    assert meta.variable_value_labels["kind"] == {1: "b", 2: "a"}
    assert back["kind"].to_list() == [1, None, 2]
    assert back["flag"].to_list() == [1, None, 0]
    assert back["x"].to_list()[0] == 1.5 and back["x"].to_list()[1:] == [None, None]
    assert back["k"].to_list() == [1, None, 3]
    assert back["big"].cast(pl.Int64).to_list() == [2**53, -(2**53), 0]
    io.write_table(df, tmp_path / "t.xpt")
    back, _ = _read(tmp_path / "t.xpt")
    assert back["KIND"].to_list() == ["b", "", "a"]
    assert not math.isinf(back["X"].fill_null(0).max())


def test_what_the_formats_cannot_hold_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="2\\^53") as err:
        io.write_table(pl.DataFrame({"pnr": [2**53 + 1]}), tmp_path / "a.dta")
    assert err.value.column == "pnr"
    with pytest.raises(InputError, match="2\\^53"):
        io.write_table(pl.DataFrame({"x": pl.Series([-(2**63), 1], dtype=pl.Int64)}), tmp_path / "a.xpt")
    with pytest.raises(InputError, match="200 bytes") as err:
        io.write_table(pl.DataFrame({"note": ["x" * 201]}), tmp_path / "a.xpt")
    assert err.value.column == "note"
    statfiles.write_xpt(pl.DataFrame({"note": ["x" * 201]}), tmp_path / "a8.xpt", version=8)
    assert _read(tmp_path / "a8.xpt")[0]["note"].to_list() == ["x" * 201]
    with pytest.raises(InputError, match="flat columns"):
        io.write_table(pl.DataFrame({"l": [[1, 2]]}), tmp_path / "b.dta")
    assert not list(tmp_path.glob(".*"))  # nothing half-written left behind
    assert not (tmp_path / "a.dta").exists() and not (tmp_path / "a.xpt").exists()

"""Writing extracts: DST names and types, every format readable by load_panel, byte-identical reruns."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from pendling.errors import InputError
from pendling.panel import load_panel
from pendling.synth import generate, parse_years
from pendling.synth.model import DST_COLUMNS


def _digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_files_names_and_types(default_extract) -> None:
    d = default_extract.directory
    assert sorted(p.name for p in d.iterdir()) == sorted(
        [f"ras{y}.parquet" for y in range(2017, 2023)] + ["truth.parquet", "manifest.json"]
    )
    df = pl.read_parquet(d / "ras2020.parquet")
    assert df.schema == pl.Schema(DST_COLUMNS)
    assert df.height == 150_000 and df["PNR"].is_sorted() and df["PNR"].n_unique() == df.height
    assert df["DISCO08_ALLE_INDK_13"].str.contains(r"^\d{6}$").all()
    assert (df["LBNR"] == 0).mean() < 0.06
    manifest = json.loads((d / "manifest.json").read_text())
    assert manifest["seed"] == 11 and manifest["years"] == list(range(2017, 2023))
    assert [f["name"] for f in manifest["files"]] == [f"ras{y}.parquet" for y in range(2017, 2023)]


def test_persons_persist_and_workplaces_keep_their_lbnr(default_extract) -> None:
    d = default_extract.directory
    a = pl.read_parquet(d / "ras2018.parquet")
    b = pl.read_parquet(d / "ras2019.parquet")
    both = a.join(b, on="PNR", suffix="_b")
    assert 0.93 < both.height / a.height < 0.97  # about 5 % leave employment
    same = both.filter((pl.col("LBNR") == pl.col("LBNR_b")) & (pl.col("LBNR") != 0))
    # the same LBNR sits in the same municipality unless the workplace relocated (rare)
    assert (same["ARBKOM"] == same["ARBKOM_b"]).mean() > 0.99
    kom_moves = both.filter(pl.col("KOM") != pl.col("KOM_b"))
    assert (kom_moves["ADRESSE_ID"] != kom_moves["ADRESSE_ID_b"]).all()  # a new municipality is a new address


def test_same_seed_identical_bytes_other_seed_differs(tmp_path: Path, matrix: pl.DataFrame) -> None:
    kw = dict(persons=4_000, years="2019-2021", scenario="default", matrix=matrix)
    generate(tmp_path / "a", seed=5, **kw)
    generate(tmp_path / "b", seed=5, **kw)
    generate(tmp_path / "c", seed=6, **kw)
    a, b, c = (_digests(tmp_path / x) for x in "abc")
    assert a == b
    assert all(a[name] != c[name] for name in a if name.startswith("ras"))


@pytest.mark.parametrize("fmt", ["csv", "dta", "xpt"])
def test_every_format_reads_back_to_the_same_panel(tmp_path: Path, matrix: pl.DataFrame, fmt: str) -> None:
    kw = dict(persons=3_000, years="2019-2020", seed=3, scenario="default", matrix=matrix)
    generate(tmp_path / "parquet", fmt="parquet", **kw)
    generate(tmp_path / fmt, fmt=fmt, **kw)
    generate(tmp_path / f"{fmt}-again", fmt=fmt, **kw)
    assert _digests(tmp_path / fmt) == _digests(tmp_path / f"{fmt}-again")  # no wall-clock stamps
    ref = load_panel(tmp_path / "parquet").frame
    got = load_panel(tmp_path / fmt).frame
    assert got.height == ref.height == 6_000
    assert got.select(ref.columns).equals(ref)


def test_sas7bdat_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="sas7bdat output is not available") as exc:
        generate(tmp_path, persons=2_000, years="2020", fmt="sas7bdat")
    assert "xpt" in str(exc.value)


@pytest.mark.parametrize("spec, years", [("2014-2022", list(range(2014, 2023))), ("2015", [2015]),
                                         ("2016..2018", [2016, 2017, 2018]), ([2019, 2020], [2019, 2020])])
def test_parse_years(spec, years) -> None:
    assert parse_years(spec) == years


@pytest.mark.parametrize("spec", ["2015,2017", [2015, 2017], "20-22", "1990-1995"])
def test_parse_years_rejects(spec) -> None:
    with pytest.raises(InputError):
        parse_years(spec)


def test_refuses_a_folder_with_other_years(tmp_path: Path, matrix: pl.DataFrame) -> None:
    generate(tmp_path, persons=2_000, years="2019-2020", seed=1, matrix=matrix)
    generate(tmp_path, persons=2_000, years="2019-2020", seed=2, matrix=matrix)  # same years: overwritten
    with pytest.raises(InputError, match="other years") as exc:
        generate(tmp_path, persons=2_000, years="2020-2021", seed=1, matrix=matrix)
    assert "ras2019.parquet" in str(exc.value)

"""Issue 14: the per-year store and the flow-year-by-flow-year engine give exactly the whole-panel results.

The extract is the shipped 'dirty' scenario (duplicates, codes abroad, aliases, LBNR 0, unclassified
DISCO, missing ADRESSE_ID ...) with text keys on top: PNR as pseudonyms in every year, LBNR as text
with leading zeros in one year (other keys than the integers of the other years), ADRESSE_ID as
digit text in one year (the same keys as integers), and one year as CSV.
"""

from __future__ import annotations

import os

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pendling import load_panel
from pendling.mobility import run
from pendling.panel import cache as panel_cache
from pendling.panel.keys import HashedKeys, hash_codes, hash_collisions
from pendling.panel.stream import CHECK_SEED, StoredPanel, open_years
from pendling.synth import generate


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    out = tmp_path_factory.mktemp("stream")
    generate(out, persons=4_000, years="2015-2020", scenario="dirty", seed=7)
    for path in sorted(out.glob("ras*.parquet")):
        year = int(path.stem[3:])
        df = pl.read_parquet(path)
        df = df.with_columns(pl.format("X{}Z", pl.col("PNR").cast(pl.String).str.zfill(10)).alias("PNR"))
        if year == 2017:
            df = df.with_columns(pl.format("0{}", pl.col("LBNR")).alias("LBNR"))
        if year == 2018:
            df = df.with_columns(pl.col("ADRESSE_ID").cast(pl.String))
        if year == 2019:
            path.unlink()
            df.write_csv(path.with_suffix(".csv"))
        else:
            df.write_parquet(path)
    return out


KEYS = ["year", "flow", "job_group", "region"]


def _same(a, b) -> None:
    assert_frame_equal(a.results, b.results)  # every cell, every statistic, suppressed and suppression
    assert_frame_equal(a.attrition, b.attrition)  # stages 'panel' and 'flows', with their disclosure flags
    assert_frame_equal(a.method, b.method)


@pytest.mark.parametrize("by", [None, ["region", "kommunegruppe"]])
def test_year_by_year_equals_whole_panel(extract, by, tmp_path, monkeypatch):
    monkeypatch.setenv("PENDLING_CACHE_DIR", str(tmp_path / "cache"))
    whole = load_panel(extract, on_duplicate="drop", cache=False)
    assert whole.provenance["keys"]["pnr"].startswith("text")
    stored = open_years(extract, on_duplicate="drop")
    assert isinstance(stored, StoredPanel)
    assert_frame_equal(stored.attrition, whole.attrition)
    assert_frame_equal(stored.flags, whole.flags)
    assert stored.years == whole.years
    expected = run(whole, by=by)
    assert expected.results["suppressed"].any() and expected.results["n"].sum() > 1000  # a real test
    _same(run(stored, by=by), expected)
    # the same rows, whatever the coding of the text keys
    assert_frame_equal(stored.frame.drop("pnr", "home_addr", "work_id").sort(pl.all()),
                       whole.frame.drop("pnr", "home_addr", "work_id").sort(pl.all()))
    # unsuppressed and the municipality mover definition too
    _same(run(stored, disclosure=False, mover_definition="municipality"),
          run(whole, disclosure=False, mover_definition="municipality"))


def test_path_runs_year_by_year_and_reuses_years(extract, tmp_path, monkeypatch):
    monkeypatch.setenv("PENDLING_CACHE_DIR", str(tmp_path / "cache"))
    clean = tmp_path / "clean"  # strict reading without duplicates: the integer/text mix of the fixture
    generate(clean, persons=2_000, years="2016-2020", seed=3)
    expected = run(load_panel(clean, cache=False), years="2017-2020", by="region")
    _same(run(str(clean), years="2017-2020", by="region"), expected)
    entries = panel_cache.entries()
    assert entries.height == 5 and entries["years"].to_list().count("2016") == 1  # one entry per year
    # a subset of the years reads them from the cache: no new entry, the same results
    steps: list[str] = []
    stored = open_years(clean, years="2018-2020", progress=steps.append)
    assert sum("read from the cache" in s for s in steps) == 3
    assert panel_cache.entries().height == 5
    _same(run(stored, years="2019-2020", by="region"),
          run(load_panel(clean, years="2018-2020", cache=False), years="2019-2020", by="region"))
    # a changed file: only its year is read again
    df = pl.read_parquet(clean / "ras2018.parquet")
    df.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(101).otherwise(pl.col("KOM")).alias("KOM")
                    ).write_parquet(clean / "ras2018.parquet")
    steps.clear()
    stored = open_years(clean, years="2017-2019", progress=steps.append)
    assert [s for s in steps if "reading and validating" in s] == ["2018: reading and validating"]
    _same(run(stored, years="2018-2019"), run(load_panel(clean, years="2017-2019", cache=False), years="2018-2019"))


def test_no_cache_leaves_nothing(extract, tmp_path, monkeypatch):
    monkeypatch.setenv("PENDLING_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR is read again
    with open_years(extract, on_duplicate="drop", cache=False) as stored:
        assert stored.temp is not None and stored.temp.is_dir()
        run(stored, years="2016")
    assert os.listdir(tmp_path / "tmp") == []
    assert not (tmp_path / "cache").exists() or panel_cache.entries().is_empty()
    # a failing load (duplicates without --on-duplicate) removes what it wrote so far
    from pendling.errors import InputError

    with pytest.raises(InputError, match="more than once"):
        open_years(extract, cache=False)
    assert os.listdir(tmp_path / "tmp") == []


def test_hash_codes_and_collisions():
    text = pl.Series("pnr", ["123", "0123", "X1", None, "0", "X1"])
    codes = hash_codes(text)
    assert codes[0] == 123 and codes[4] == 0 and codes[3] is None  # digits stay integers, as with a dictionary
    assert codes[1] < 0 and codes[2] < 0 and codes[1] != codes[2] and codes[2] == codes[5]
    table = pl.DataFrame({"code": codes, "key": text}).filter(pl.col("code") < 0).unique()
    assert HashedKeys("pnr", table).decode(codes).to_list() == ["123", "0123", "X1", None, "0", "X1"]
    checks = pl.DataFrame({"code": codes, "check": text.hash(CHECK_SEED)}).filter(pl.col("code") < 0).unique()
    assert hash_collisions([checks, checks]).is_empty()
    clash = pl.DataFrame({"code": [codes[2]], "check": pl.Series(["Y9"]).hash(CHECK_SEED)})  # 'Y9' under X1's code
    assert hash_collisions([checks, clash])["code"].to_list() == [codes[2], codes[2]]


def test_a_collision_between_years_stops(extract, tmp_path, monkeypatch):
    """Two texts with one code in t-1 and t would join two persons: the flows refuse to pair them."""
    from pendling.errors import InputError

    monkeypatch.setenv("PENDLING_CACHE_DIR", str(tmp_path / "cache"))
    stored = open_years(extract, on_duplicate="drop", cache=False)
    part = stored.parts[2016]
    table = part.read("keys_pnr")
    forged = table.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.col("check") + 1)
                                .otherwise(pl.col("check")).alias("check"))
    forged.write_ipc(part.folder / "keys_pnr.arrow", compression="lz4")
    with pytest.raises(InputError, match="same 64-bit hash code"):
        run(stored, years="2016")
    stored.close()


def test_fuzz_corpus_year_by_year_equals_whole_panel(tmp_path, monkeypatch):
    """The hardening fuzz corpus (odd formats, text keys, dirt): wherever the whole-panel path gives
    results, the year-by-year path gives the same; wherever it stops with an InputError, so does it."""
    import sys
    from pathlib import Path

    from pendling.errors import InputError

    monkeypatch.setenv("PENDLING_CACHE_DIR", str(tmp_path / "cache"))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hardening"))
    from fuzz_extracts import SEED, cases

    compared = stopped = 0
    for case in [c for c in cases(520, SEED) if c.compute][:30]:
        folder = case.write(tmp_path / "in")
        options = {"strict": not case.lenient}
        try:
            expected = run(load_panel(folder, cache=False, **options), disclosure=False)
        except InputError as exc:
            with pytest.raises(InputError) as got:
                run(open_years(folder, **options), disclosure=False)
            assert type(got.value) is type(exc)
            stopped += 1
            continue
        _same(run(open_years(folder, **options), disclosure=False), expected)
        _same(run(open_years(folder, cache=False, **options)), run(load_panel(folder, cache=False, **options)))
        compared += 1
    assert compared >= 8 and stopped >= 1, (compared, stopped)

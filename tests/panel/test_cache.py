"""The validated-panel cache: a hit equals a fresh load exactly; any change to the inputs is a miss."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest
from panel_fixtures import extract
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from pendling.panel import cache as panel_cache
from pendling.panel import load_panel


@pytest.fixture()
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cache"
    monkeypatch.setenv("PENDLING_CACHE_DIR", str(home))
    return home


def _write_extracts(folder: Path) -> Path:
    """Per-year files: Parquet with integer keys for 2015, CSV with text PNRs (leading zeros) for 2016
    and 2018, so the entry holds a key dictionary."""
    folder.mkdir(parents=True, exist_ok=True)
    # the hand-built extract 300 times over (other PNRs): big enough that the entry's fixed overhead
    # (Arrow schemas and footers) stays below the inputs' size
    base = extract()
    df = pl.concat([base.with_columns(pl.col("PNR") + 1000 * k) for k in range(300)])
    df.filter(pl.col("AAR") == 2015).write_parquet(folder / "ras2015.parquet")
    for year in (2016, 2018):
        part = df.filter(pl.col("AAR") == year).with_columns(
            pl.when(pl.col("PNR").is_not_null()).then(pl.format("0{}", pl.col("PNR"))).alias("PNR"))
        part.write_csv(folder / f"ras{year}.csv")
    return folder


def _calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts calls of the uncached loader (a hit must not read the extracts)."""
    import pendling.panel.load as load

    calls: list[int] = []
    real = load._load

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(load, "_load", counting)
    return calls


def assert_same_panel(a, b) -> None:
    assert_frame_equal(a.frame, b.frame, check_exact=True)
    assert a.frame.schema == b.frame.schema
    assert_frame_equal(a.attrition, b.attrition, check_exact=True)
    assert_frame_equal(a.flags, b.flags, check_exact=True)
    assert a.sources == b.sources
    assert a.warnings == b.warnings
    assert a.provenance == b.provenance
    assert sorted(a.keys) == sorted(b.keys)
    for name in a.keys:
        assert_frame_equal(a.keys[name].table, b.keys[name].table, check_exact=True)


def test_hit_is_identical_to_a_fresh_load_and_skips_reading(
        tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _write_extracts(tmp_path / "x")
    calls = _calls(monkeypatch)
    fresh = load_panel(src, cache=False)
    assert len(calls) == 1 and not (cache_home / "panels").exists()
    first = load_panel(src)
    second = load_panel(src)
    assert len(calls) == 2  # the second load came from the cache
    assert "pnr" in second.keys  # text PNRs: the dictionary came back
    for other in (first, second):
        assert_same_panel(fresh, other)
    # decoded keys are the texts of the files
    from pendling.panel.keys import decode_keys

    assert_frame_equal(decode_keys(second.frame, second.keys), decode_keys(fresh.frame, fresh.keys))
    listed = panel_cache.entries()
    assert listed.height == 1 and listed["rows"][0] == fresh.frame.height and listed["files"][0] == 3
    assert listed["bytes"][0] <= listed["input_bytes"][0]
    # microdata: the entries are private to the user
    assert (cache_home / "panels").stat().st_mode & 0o077 == 0
    assert (cache_home / "panels" / listed["key"][0]).stat().st_mode & 0o077 == 0


def test_touch_one_byte_and_column_map_are_misses(
        tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _write_extracts(tmp_path / "x")
    calls = _calls(monkeypatch)
    load_panel(src)
    load_panel(src)
    assert len(calls) == 1

    target = src / "ras2018.csv"
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # touch: newer time
    load_panel(src)
    assert len(calls) == 2

    # one byte changed, size and modification time kept: only the content hash can see it
    st = target.stat()
    data = target.read_bytes()
    changed = data.replace(b",860,", b",851,", 1)  # Hjørring → Aalborg for the first person 17
    assert changed != data and len(changed) == len(data)
    target.write_bytes(changed)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert target.stat().st_size == st.st_size and target.stat().st_mtime_ns == st.st_mtime_ns
    after = load_panel(src)
    assert len(calls) == 3
    assert after.frame.filter((pl.col("year") == 2018) & (pl.col("home_muni") == 851)).height == 1

    # the column map (a dict or a TOML file) and the reading options are part of the key
    load_panel(src, column_map={"columns": {"disco": ["DISCO08_ALLE_INDK_13"]}})
    assert len(calls) == 4
    load_panel(src, on_duplicate="first")
    assert len(calls) == 5
    load_panel(src, years=[2016, 2018])
    assert len(calls) == 6
    load_panel(src, years=[2016, 2018])
    assert len(calls) == 6


def test_a_damaged_entry_is_a_miss_and_is_rebuilt(
        tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _write_extracts(tmp_path / "x")
    calls = _calls(monkeypatch)
    fresh = load_panel(src)
    (folder,) = (cache_home / "panels").iterdir()
    with open(folder / "frame.arrow", "ab") as fh:  # truncated or grown: the sizes no longer match
        fh.write(b"x")
    again = load_panel(src)
    assert len(calls) == 2
    assert_same_panel(fresh, again)
    (folder / "manifest.json").unlink()  # incomplete entry (writer killed before its manifest)
    load_panel(src)
    assert len(calls) == 3


def test_bounds_entry_larger_than_inputs_and_eviction(
        tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = _write_extracts(tmp_path / "a")
    b = _write_extracts(tmp_path / "b")
    load_panel(a)
    first = panel_cache.entries()["key"][0]
    size = panel_cache.entries()["bytes"][0]
    # room for one entry only: writing the second evicts the first (used longest ago)
    monkeypatch.setenv("PENDLING_PANEL_CACHE_BYTES", str(size + size // 2))
    load_panel(b)
    listed = panel_cache.entries()
    assert listed.height == 1 and listed["key"][0] != first

    # an entry that would be larger than its inputs is not kept
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    extract().filter(pl.col("AAR") == 2015).head(2).write_parquet(tiny / "ras2015.parquet")
    monkeypatch.setenv("PENDLING_PANEL_CACHE_BYTES", str(10**12))
    notes: list[str] = []
    load_panel(tiny, progress=notes.append)
    assert panel_cache.entries().height == 1
    assert any("larger than its inputs" in n for n in notes)


def test_frames_are_not_cached(cache_home: Path) -> None:
    load_panel(extract())
    assert panel_cache.entries().height == 0


def test_cli_no_cache_and_cache_list_clear(tmp_path: Path, cache_home: Path) -> None:
    from pendling.cli import app

    src = _write_extracts(tmp_path / "x")
    runner = CliRunner()
    res = runner.invoke(app, ["panel", "check", str(src), "--no-cache"])
    assert res.exit_code == 0, res.output
    assert panel_cache.entries().height == 0
    res = runner.invoke(app, ["panel", "check", str(src)])
    assert res.exit_code == 0, res.output
    assert panel_cache.entries().height == 1
    res = runner.invoke(app, ["cache", "list"])
    assert res.exit_code == 0, res.output
    assert panel_cache.entries()["key"][0][:12] in res.output
    res = runner.invoke(app, ["cache", "clear"])
    assert res.exit_code == 0, res.output
    assert "1 " in res.output and panel_cache.entries().height == 0


def test_compute_from_the_cache_writes_byte_identical_results(tmp_path: Path, cache_home: Path) -> None:
    from pendling.cli import app
    from pendling.synth import generate

    src = tmp_path / "synth"
    generate(src, persons=3000, years="2020-2022", seed=3)
    runner = CliRunner()
    outs = []
    for i, extra in enumerate((["--no-cache"], [], [])):  # fresh, miss (stores), hit
        out = tmp_path / f"r{i}.parquet"
        res = runner.invoke(app, ["compute", "--panel", str(src), "--years", "2021-2022", "--out", str(out), *extra])
        assert res.exit_code == 0, res.output
        outs.append(out)
        assert panel_cache.entries().height == (0 if i == 0 else 3)  # compute: one entry per year (issue 14)
    first = outs[0].read_bytes()
    assert all(o.read_bytes() == first for o in outs[1:])
    for side in ("attrition.parquet", "method.csv"):  # the side files too (attrition reaches the raw rows)
        sides = [o.with_name(f"{o.stem}.{side}") for o in outs]
        assert sides[0].is_file()
        assert all(s.read_bytes() == sides[0].read_bytes() for s in sides[1:])


def test_grid_cell_columns_come_back_from_the_cache(
        tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pendling.synth import generate

    src = tmp_path / "grid"
    generate(src, persons=2000, years="2021-2022", seed=2, zones="grid1km")
    calls = _calls(monkeypatch)
    fresh = load_panel(src, cache=False, zones="auto")
    assert {"home_zone", "work_zone"} <= set(fresh.frame.columns)
    load_panel(src, zones="auto")
    hit = load_panel(src, zones="auto")
    assert len(calls) == 2
    assert_same_panel(fresh, hit)

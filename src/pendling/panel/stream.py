"""The per-year panel store: validate one year at a time, keep each year as its own file.

``pendling compute --panel DIR`` (and :func:`pendling.compute` given a path) never holds the whole
panel: :func:`open_years` reads, validates and codes the extracts **one year at a time** with the same
:func:`pendling.panel.load.validate_rows` as :func:`pendling.load_panel`, writes each year's canonical
rows to a compressed Arrow IPC file and keeps only small tables (attrition counts, flags, warnings) in
memory. The flows then read two years at a time (:func:`pendling.mobility.api.run`), so peak memory
depends on one or two years of data, not on the span.

Where the files go:

- with the cache (default), each year is its own entry of the validated-panel cache
  (:mod:`pendling.panel.cache`), keyed by that year's files (path, size, time, content hash), the
  column map, the job-group mapping, the code rules, ``strict``, ``on_duplicate``, and the versions of
  pendling and Polars (the key hash comes from Polars). So ``--years 2019-2021`` after a 2008-2022
  run finds those years in the cache, and a changed file re-reads only its year;
- with ``cache=False`` (``--no-cache``) they go to a private temporary folder that
  :meth:`StoredPanel.close` removes (also at exit, and when loading fails).

Text keys (PNR, ADRESSE_ID, LBNR as text) are coded by a fixed-seed hash
(:func:`pendling.panel.keys.hash_codes`) instead of a dictionary shared by all years, and each year keeps
a second hash of every key (another seed) beside its code: one code with two second hashes is a
collision. A year whose texts collide, or — checked by the flows — two adjacent years whose texts
collide, stop with an error (a 64-bit hash: about one chance in a million per national year pair). The
texts themselves are not stored (`panel export` reads the extracts whole and writes them as written).

Layouts the per-year path does not take, read whole by :func:`pendling.load_panel` instead (same
results, memory growing with the span): a frame passed in, a file not named for one year (a stacked
file), a file whose year column holds another year, years that differ in having grid-cell columns.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from pendling.errors import InputError
from pendling.io import atomic_path, write_json
from pendling.panel.buckets import FLAGS_SCHEMA, check_attrition, flags_table, panel_attrition, rows_per_year
from pendling.panel.columns import ZONE_FIELDS, ColumnMap, load_column_map, year_from_name
from pendling.panel.keys import KEY_FIELDS, HashedKeys, hash_codes, hash_collisions
from pendling.panel.jobgroups import default_mapping_path, load_mapping
from pendling.panel.load import (
    Panel,
    _check_years,
    _collect,
    _open,
    _unreadable_warnings,
    _zone_provenance,
    export_warnings,
    load_panel,
    mixed_key_warning,
    validate_rows,
)
from pendling.panel.readers import RawInput, Source, raise_short_rows
from pendling.panel.validate import CodeRules, year_gap_warnings
from pendling.panel.zonecheck import zone_request
from pendling.yearspec import span

CHECK_SEED = 0x636865636B2D6B65  # the second hash of a text key (collision check), independent of the first
STORE_FORMAT = 1
KIND = "year"


class _WholePanel(Exception):
    """This layout is read whole by load_panel (see the module docstring)."""


@dataclass
class YearPart:
    """One stored year: its folder (``frame``, ``bucket_counts``, ``flag_counts``, ``keys_<field>``: Parquet in
    the cache, Arrow IPC in a temporary spill) and small facts."""

    year: int
    folder: Path
    meta: dict[str, Any]

    @property
    def kept(self) -> int:
        return int(self.meta["kept"])

    def read(self, table: str) -> pl.DataFrame:
        """One of the year's tables ('frame', 'bucket_counts', 'flag_counts', 'keys_<field>')."""
        if self.meta.get("spill"):
            return pl.read_ipc(self.folder / f"{table}.arrow")
        return pl.read_parquet(self.folder / f"{table}.parquet")


@dataclass
class StoredPanel:
    """A validated panel kept year by year on disk (see the module docstring); the same summary
    attributes as :class:`pendling.panel.load.Panel`, and the rows of any year on demand."""

    attrition: pl.DataFrame
    sources: list[str]
    parts: dict[int, YearPart]
    flags: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=FLAGS_SCHEMA))
    warnings: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    temp: Path | None = None
    _finalizer: Any = None

    @property
    def n_input(self) -> int:
        return int(self.attrition.filter(pl.col("stage") == "panel")["n"].sum())

    @property
    def years(self) -> list[int]:
        """Years with at least one kept row, ascending."""
        return sorted(y for y, p in self.parts.items() if p.kept)

    def rows_per_year(self) -> pl.DataFrame:
        return rows_per_year(self.attrition)

    def year_frame(self, year: int) -> pl.DataFrame:
        """The canonical rows of one year, sorted by pnr (empty frame if none were kept)."""
        frame = self.parts[year].read("frame")
        if self.parts[year].meta.get("pnr_delta"):
            frame = frame.with_columns(pl.col("pnr").cum_sum())
        return frame

    def key_table(self, year: int, name: str) -> pl.DataFrame | None:
        """``code``, ``check`` (a second, independent hash of the text) of one year's hashed text keys of
        field ``name``, one row per distinct key (None: integer keys only)."""
        if name not in self.parts[year].meta["text_keys"]:
            return None
        return self.parts[year].read(f"keys_{name}")

    def check_keys(self, years: Iterable[int]) -> None:
        """InputError if two different key texts of these years share a hash code (the flows compare
        codes of t-1 and t: a collision would join two persons, addresses or workplaces)."""
        for name in KEY_FIELDS:
            tables = [t for y in years if (t := self.key_table(y, name)) is not None]
            if len(tables) < 2:
                continue
            _raise_collisions(hash_collisions(tables), name, list(years))

    def pair_frame(self, years: Iterable[int]) -> pl.DataFrame:
        """The canonical rows of ``years`` together, sorted by (pnr, year)."""
        wanted = [y for y in sorted(set(years)) if y in self.parts]
        self.check_keys(wanted)
        frames = [self.year_frame(y) for y in wanted]
        if not frames:
            return pl.DataFrame()
        return pl.concat(frames, how="diagonal").sort("pnr", "year")

    @property
    def frame(self) -> pl.DataFrame:
        """Every year's rows at once (memory grows with the span: the flows read two years at a time)."""
        return self.pair_frame(self.parts)

    def select_years(self, years: Iterable[int]):
        """A :class:`pendling.panel.load.Panel` holding only ``years`` (e.g. a contrast's four years)."""
        wanted = sorted(set(years) & set(self.parts))
        return Panel(frame=self.pair_frame(wanted), attrition=self.attrition, sources=self.sources, flags=self.flags,
                     warnings=self.warnings, provenance=self.provenance)

    def fallback_counts(self, years: Iterable[int]) -> tuple[int, int]:
        """(kept person-years, of them without ADRESSE_ID) over ``years``."""
        parts = [self.parts[y] for y in set(years) if y in self.parts]
        return sum(p.kept for p in parts), sum(int(p.meta["addr_missing"]) for p in parts)

    def close(self) -> None:
        """Remove the temporary folder of an uncached store (no-op for cache entries)."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> StoredPanel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"StoredPanel({len(self.parts)} years {self.years[:1]}..{self.years[-1:]}, "
                f"{sum(p.kept for p in self.parts.values()):,} person-years kept)")


def _raise_collisions(collided: pl.DataFrame, name: str, years: list[int], texts: pl.Series | None = None) -> None:
    """InputError when ``collided`` (rows ``code``, ``check``: one code, two texts) is not empty."""
    if collided.height:
        shown = texts.to_list()[:10] if texts is not None else collided["code"].unique().sort().to_list()[:10]
        raise InputError(
            f"two different {name} texts have the same 64-bit hash code in {span(years)}: pendling cannot tell "
            "them apart year by year" + ("" if texts is not None else " (the values are the codes)"),
            column=name, values=shown,
            hint="read the extracts whole instead (pendling.load_panel and compute on the Panel), which codes text "
                 "keys with a dictionary; or recode these keys in the source",
        )


def open_years(
    source: Source,
    *,
    column_map: ColumnMap | Mapping[str, Any] | str | Path | None = None,
    years: Iterable[int] | str | int | None = None,
    strict: bool = True,
    on_duplicate: str | None = None,
    jobgroups: pl.DataFrame | str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    cache: bool = True,
    zones: bool | str = False,
):
    """The panel of ``source`` as a :class:`StoredPanel` (validated one year at a time), or — for the
    layouts listed in the module docstring — the whole :class:`pendling.panel.load.Panel` from
    :func:`pendling.load_panel`. Parameters as :func:`pendling.load_panel`; results are the same."""
    kwargs = dict(column_map=column_map, years=years, strict=strict, on_duplicate=on_duplicate,
                  jobgroups=jobgroups, progress=progress, cache=cache, zones=zones)
    # grid cells are read for grid runs only, and those route the cell pairs of the whole panel at once
    if isinstance(source, (pl.DataFrame, pl.LazyFrame)) or zone_request(zones).read:
        return load_panel(source, **kwargs)  # type: ignore[arg-type]
    try:
        return _open_years(source, **{k: v for k, v in kwargs.items() if k != "zones"})  # type: ignore[arg-type]
    except _WholePanel:
        return load_panel(source, **kwargs)  # type: ignore[arg-type]


def _open_years(source, *, column_map, years, strict, on_duplicate, jobgroups, progress, cache):
    step = progress or (lambda _msg: None)
    cmap = load_column_map(column_map).without_zones()  # municipality level: cell columns never read
    mapping = jobgroups if isinstance(jobgroups, pl.DataFrame) else load_mapping(jobgroups)
    mapping_origin = "DataFrame" if isinstance(jobgroups, pl.DataFrame) else str(jobgroups or default_mapping_path())
    wanted = _check_years(years)
    dup_mode = on_duplicate or ("error" if strict else "drop")
    if dup_mode not in ("error", "drop", "first"):
        raise _WholePanel  # load_panel says what is wrong
    rules = CodeRules.from_geo()
    inputs, warnings, unopened_years = _open(source, cmap, wanted, step)
    if strict:  # CSV rows with too few fields: stop before reading (lenient: excluded_short_row)
        raise_short_rows(inputs)
    by_year: dict[int, list[RawInput]] = {}
    for raw in inputs:
        y = year_from_name(Path(raw.label))
        if y is None:
            raise _WholePanel
        by_year.setdefault(y, []).append(raw)
    zone_sets = {tuple(f for f in ZONE_FIELDS if f in raw.columns) for raw in inputs}
    if len(zone_sets) > 1:
        raise _WholePanel
    zones = bool(zone_sets.pop()) if zone_sets else False

    temp = None
    if not cache:
        temp = Path(tempfile.mkdtemp(prefix="pendling-years-"))  # private (0700) folder
    finalizer = weakref.finalize(_Sentinel, shutil.rmtree, temp, True) if temp is not None else None
    try:
        parts = {}
        for y in sorted(by_year):
            parts[y] = _year_part(y, by_year[y], temp, cmap=cmap, mapping=mapping, rules=rules, strict=strict,
                                  dup_mode=dup_mode, wanted=wanted, step=step)
        return _assemble(parts, inputs, warnings, unopened_years, wanted, zones, cmap, mapping_origin, strict,
                         dup_mode, temp, finalizer)
    except BaseException:
        if finalizer is not None:
            finalizer()
        raise


class _Sentinel:
    """weakref.finalize needs an object; the store's finalizer is bound to the StoredPanel later."""


def _year_key(files: list[Path], *, cmap, mapping, rules, strict, dup_mode) -> tuple[str, dict[str, Any]]:
    from pendling.panel import cache as panel_cache

    _, parts = panel_cache.fingerprint(opened=files, unopened=[], discover_warnings=[], column_map=cmap,
                                       mapping=mapping, rules=rules, strict=strict, on_duplicate=dup_mode, years=None,
                                       zones=zone_request(False).key())
    parts = {**parts, "kind": KIND, "store_format": STORE_FORMAT, "polars": pl.__version__}
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest(), parts


def _year_part(year: int, raws: list[RawInput], temp: Path | None, *, cmap, mapping, rules, strict, dup_mode,
               wanted, step) -> YearPart:
    from pendling.panel import cache as panel_cache

    if temp is None:
        key, parts = _year_key([Path(r.label) for r in raws], cmap=cmap, mapping=mapping, rules=rules,
                               strict=strict, dup_mode=dup_mode)
        folder = panel_cache.panels_dir() / key
        meta = panel_cache._read_manifest(folder)
        if meta is not None and meta.get("kind") == KIND and meta.get("key") == key and _complete(folder, meta):
            step(f"{year}: validated rows read from the cache")
            panel_cache._touch(folder)
            return YearPart(year, folder, meta)
        step(f"{year}: reading and validating")
        built = _validate_year(year, raws, cmap=cmap, mapping=mapping, rules=rules, strict=strict,
                               dup_mode=dup_mode, wanted=wanted, step=step)
        stored = _store_year(folder, key, built, parts)
        if stored is not None:
            panel_cache.evict(keep=key)
            return YearPart(year, folder, stored)
        # not cacheable (larger than its inputs, or the cache folder not writable): a temporary folder
        folder = Path(tempfile.mkdtemp(prefix=f"pendling-year{year}-"))
        meta = _write_year(folder, built, spill=True)
        part = YearPart(year, folder, meta)
        weakref.finalize(part, shutil.rmtree, folder, True)
        return part
    step(f"{year}: reading and validating")
    built = _validate_year(year, raws, cmap=cmap, mapping=mapping, rules=rules, strict=strict,
                           dup_mode=dup_mode, wanted=wanted, step=step)
    folder = temp / str(year)
    folder.mkdir(mode=0o700)
    return YearPart(year, folder, _write_year(folder, built, spill=True))


def _complete(folder: Path, meta: dict[str, Any]) -> bool:
    try:
        return all((folder / name).stat().st_size == size for name, size in meta["files"].items())
    except (OSError, KeyError):
        return False


def _validate_year(year: int, raws: list[RawInput], *, cmap, mapping, rules, strict, dup_mode, wanted, step
                   ) -> dict[str, Any]:
    """Read, code and validate the inputs of one year; everything the store keeps of it."""
    parsed, frames, tables = [], [], {}
    warnings: list[str] = []
    key_kinds: list[dict[str, Any]] = []
    for i, raw in enumerate(raws):
        p, df = _collect(raw, i, cmap)
        parsed.append(p)
        df, kinds = _hash_keys(df, tables)
        key_kinds.append({"source": raw.label, **kinds})
        frames.append(df.rechunk())
        if df.height == 0:
            warnings.append(f"{raw.label}: no rows")
        elif "year" in raw.columns and raw.name_year is not None:
            other = int((df["year"] != raw.name_year).sum())
            if other:
                raise _WholePanel  # rows of another year: the years are not separable file by file
    rows = pl.concat(frames, how="diagonal")
    del frames
    if rows.height and int((rows["year"].is_not_null() & (rows["year"] != year)).sum()):
        raise _WholePanel
    checks, texts = {}, {}
    for name, parts in tables.items():
        both = pl.concat([p.select("code", "check") for p in parts])
        table = both.unique() if len(parts) > 1 else both  # one input: already one row per key
        collided = table.filter(pl.col("code").is_duplicated())
        if collided.height:
            words = pl.concat([p.filter(pl.col("code").is_in(collided["code"].implode()))["key"] for p in parts])
            _raise_collisions(collided, name, [year], words.unique().sort())
        checks[name] = table.sort("code")
        texts[name] = parts
    # decoding is needed only for an error message about duplicates: built then, from this year's texts
    keys = _LazyKeys(texts)
    checked = validate_rows(rows, parsed, keys, rules=rules, mapping=mapping, wanted=wanted, dup_mode=dup_mode,
                            strict=strict, step=step)
    del keys, texts, tables
    del rows
    frame = checked.frame
    return {
        "frame": frame,
        "keys": checks,
        "bucket_counts": checked.bucket_counts,
        "flag_counts": checked.flag_counts,
        "meta": {
            "year": year,
            "kept": frame.height,
            "addr_missing": int(frame["home_addr"].null_count()),
            "n_rows": checked.n_rows,
            "unreadable": checked.unreadable,
            "zones": checked.zones,
            "warnings": warnings,
            "sources": [r.label for r in raws],
            "key_kinds": key_kinds,
            "text_keys": sorted(checks),
        },
    }


class _LazyKeys(dict):
    """code → text of one year's hashed keys, built only if a message asks (``show_key``)."""

    def __init__(self, texts: dict[str, list[pl.DataFrame]]) -> None:
        super().__init__()
        self._texts = texts
        for name in texts:
            dict.__setitem__(self, name, None)

    def __getitem__(self, name: str) -> HashedKeys:
        table = pl.concat(self._texts[name]).unique(subset="code", keep="first")
        return HashedKeys(name, table.select("code", "key"))


def _hash_keys(df: pl.DataFrame, tables: dict[str, list[pl.DataFrame]]) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Key columns of one input as Int64 (integers as they are, text hashed: :func:`hash_codes`). For
    hashed texts, ``tables[field]`` gets the input's distinct (``code``, ``check``) pairs — ``check`` a
    second hash with another seed, so a collision is found with integer operations only — and the texts.
    Returns the frame and, per field, 'integer' or 'text' (with an example of digits with leading zeros,
    for the mixed-keys warning)."""
    columns, kinds = [], {}
    for name in KEY_FIELDS:
        col = df[name]
        if col.dtype == pl.String:
            codes = hash_codes(col)
            hashed = (codes < 0).fill_null(False)
            if not hashed.any():
                kinds[name] = "integer"
                columns.append(codes)
                continue
            pairs = pl.DataFrame({"code": codes, "check": col.hash(CHECK_SEED), "key": col}).filter(hashed)
            tables.setdefault(name, []).append(pairs.unique(subset=["code", "check"], keep="first"))
            lead = pairs["key"].filter(pairs["key"].str.starts_with("0"))  # few: then the exact test
            zeros = lead.filter(lead.str.contains(r"^0[0-9]+$"))
            kinds[name] = "text0:" + zeros[0] if zeros.len() else "text"
            columns.append(codes)
        else:
            kinds[name] = "integer"
            if col.dtype != pl.Int64:
                columns.append(col.cast(pl.Int64))
    return (df.with_columns(columns) if columns else df), kinds


_TABLES = ("frame", "bucket_counts", "flag_counts")


def _write_year(folder: Path, built: dict[str, Any], *, spill: bool = False) -> dict[str, Any]:
    """Write one year's tables into ``folder`` (atomically, file by file); returns its meta with sizes.

    Cache entries are Parquet (zstd: an entry must stay smaller than its inputs); a temporary spill
    (``spill``, --no-cache) is uncompressed Arrow IPC: 0.05 s CPU to write a 3 M-row year instead of 0.35 s
    (lz4) or 0.7 s (zstd), read back memory-mapped, for ≈ 130 MiB of temporary disk a year."""
    suffix = "arrow" if spill else "parquet"
    tables = {n: built[n] for n in _TABLES}
    frame = built["frame"]
    # sorted integer PNRs as differences: a byte or two a row instead of eight, so an entry stays
    # smaller than already compact Parquet inputs (hash codes are spread too widely to gain)
    delta = not spill and frame.height > 0 and frame["pnr"].min() >= 0  # type: ignore[operator]
    if delta:
        tables["frame"] = frame.with_columns(pl.col("pnr").diff().fill_null(pl.col("pnr").first()))
    tables.update({f"keys_{n}": t for n, t in built["keys"].items()})
    sizes = {}
    for name, table in tables.items():
        target = folder / f"{name}.{suffix}"
        if spill:  # a private folder of this run, removed after it: no rename, no fsync (a second a year)
            table.write_ipc(target, compression="uncompressed")
        else:
            with atomic_path(target) as tmp:
                table.write_parquet(tmp, compression="zstd", statistics=False)
        sizes[target.name] = target.stat().st_size
    return {**built["meta"], "files": sizes, "pnr_delta": bool(delta), "spill": spill}


def _store_year(folder: Path, key: str, built: dict[str, Any], parts: dict[str, Any]) -> dict[str, Any] | None:
    """Write one year as a cache entry (manifest last); None when it is not kept (see cache.store)."""
    from pendling.panel import cache as panel_cache

    input_bytes = sum(int(i["size"]) for i in parts["inputs"])
    try:
        folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        meta = _write_year(folder, built)
        if sum(meta["files"].values()) > input_bytes:
            panel_cache.remove(key)
            return None
        manifest = {
            "generator": panel_cache.GENERATOR, "format": panel_cache.CACHE_FORMAT, "kind": KIND, "key": key,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "input_bytes": input_bytes,
            "years": [built["meta"]["year"]], "rows": built["meta"]["kept"], "made_of": parts, **meta,
        }
        write_json(manifest, folder / panel_cache.MANIFEST)  # last: the entry is complete once it is there
        return manifest
    except (OSError, InputError, pl.exceptions.PolarsError):
        panel_cache.remove(key)
        return None


def _assemble(parts: dict[int, YearPart], inputs: list[RawInput], warnings: list[str], unopened_years: list[int],
              wanted, zones: bool, cmap: ColumnMap, mapping_origin: str, strict: bool, dup_mode: str,
              temp: Path | None, finalizer) -> StoredPanel:
    """The whole-panel summary (attrition, flags, warnings, provenance) from the years' small tables,
    as :func:`pendling.panel.load._load` makes it from the whole table."""
    counts = [p.read("bucket_counts") for p in parts.values()]
    flag_counts = [p.read("flag_counts") for p in parts.values()]
    attrition = panel_attrition(pl.concat(counts), zones=zones, counted=True)
    n_rows = sum(int(p.meta["n_rows"]) for p in parts.values())
    check_attrition(attrition, n_rows)
    flags = flags_table(pl.concat(flag_counts), attrition["year"].drop_nulls().unique().to_list(), zones=zones)
    for p in parts.values():
        warnings.extend(p.meta["warnings"])
    warnings.extend(_mixed_key_warnings([k for p in parts.values() for k in p.meta["key_kinds"]]))
    kept = sum(p.kept for p in parts.values())
    if n_rows and kept == 0:
        warnings.append("no row was kept: see the attrition table for where they went")
    warnings.extend(year_gap_warnings([y for y, p in parts.items() if p.kept], wanted))
    n_numeric = int(flags.filter(pl.col("flag") == "disco_numeric")["n"].sum())
    if n_numeric:
        warnings.append(
            f"DISCO was stored as numbers for {n_numeric:,} kept rows: 3- and 5-digit values were "
            "zero-padded to 4 and 6 digits; better read DISCO as text from the source"
        )
    unreadable: dict[str, int] = {}
    for p in parts.values():
        for k, v in p.meta["unreadable"].items():
            unreadable[k] = unreadable.get(k, 0) + int(v)
    warnings.extend(_unreadable_warnings(unreadable, inputs))
    warnings.extend(export_warnings(inputs))
    text_keys = {n for p in parts.values() for n in p.meta["text_keys"]}
    provenance = {
        "unreadable_values": unreadable,
        "years_in_source": sorted(
            set(unopened_years)
            | set(attrition.filter(pl.col("n") > 0)["year"].drop_nulls().cast(pl.Int64).to_list())
        ),
        "column_map": cmap.origin,
        "jobgroups": mapping_origin,
        "strict": strict,
        "on_duplicate": dup_mode,
        "years": sorted(wanted) if wanted is not None else None,
        "zones": _zone_provenance(zone_request(False), inputs, []),
        "keys": {f: "text (64-bit hash codes, year by year)" if f in text_keys else "integer" for f in KEY_FIELDS},
        "inputs": [
            {"source": raw.label, "format": raw.fmt, "columns": raw.columns,
             "year_from_file_name": raw.name_year if "year" not in raw.columns else None}
            for raw in inputs
        ],
        "stored_year_by_year": True,
    }
    store = StoredPanel(attrition=attrition, sources=[raw.label for raw in inputs], parts=parts, flags=flags,
                        warnings=warnings, provenance=provenance, temp=temp)
    if temp is not None and finalizer is not None:
        finalizer.detach()
        store._finalizer = weakref.finalize(store, shutil.rmtree, temp, True)
    return store


def _mixed_key_warnings(kinds: list[dict[str, Any]]) -> list[str]:
    """As :func:`pendling.panel.load._mixed_key_warnings`, from the per-year key kinds: a field integer in
    some inputs and text with leading zeros in others."""
    out = []
    for name in KEY_FIELDS:
        numeric = [k["source"] for k in kinds if k[name] == "integer"]
        zeros = [k[name].removeprefix("text0:") for k in kinds if k[name].startswith("text0:")]
        if numeric and zeros and any(k[name] != "integer" for k in kinds):
            out.append(mixed_key_warning(name, numeric, zeros[0]))
    return out


def temp_folders() -> list[Path]:
    """This process's temporary store folders still present (for tests: none after close)."""
    root = Path(tempfile.gettempdir())
    return sorted(p for p in root.glob("pendling-year*") if p.is_dir() and p.stat().st_uid == os.getuid())

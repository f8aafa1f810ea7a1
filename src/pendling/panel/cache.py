"""The validated-panel cache: a rerun on unchanged extracts skips reading and validation.

The first :func:`pendling.load_panel` on a set of extract files stores what it built — the canonical
frame, the text-key dictionaries, the attrition and flags tables, the sources, warnings and
provenance — under ``pendling.paths.cache_dir()/panels/<key>/`` as Arrow IPC files (zstd) and a
``manifest.json``. A later load with the same key reads these back instead; the Panel is then equal
to a fresh load in every column, row, dtype, key, count and message.

The key is a BLAKE2b hash of everything the result depends on:

- for each input file opened: its absolute path, size, modification time (ns) and a BLAKE2b hash of
  its bytes (and the same for a ``panel export`` side summary beside it, which adds a warning); for
  files named for other years and so not opened, their paths;
- the warnings of file discovery (ignored files), the column map's contents, the job-group mapping's
  contents, the municipality code rules and the shipped municipality tables and boundaries (grid cells
  are checked against them), ``strict``, ``on_duplicate``, ``years`` and the ``zones`` request (whether
  grid cells are read, required, and the cell size points become);
- pendling's version and :data:`CACHE_FORMAT`.

So touching a file, changing one byte of it (even keeping its size and modification time), editing the
column map or the mapping, or upgrading pendling always gives another key: the extracts are read again.
The content hash is the price of that certainty: every load reads each input's bytes once (about 1 s
per GB on a research server's disk, far less than parsing and validating them); size and time alone
would miss an edit that keeps both.

Bounds: an entry larger than the inputs it replaces is not kept (the cache never holds more than the
extracts do), and the whole cache is kept under ``PENDLING_PANEL_CACHE_BYTES`` (default 20 GB) by
removing the entries used longest ago. Every file goes through :func:`pendling.io.atomic_path`, the
manifest last: an entry without a complete manifest is never read.

Disclosure: an entry is microdata (one row per person-year) kept in the user's cache on the machine
that read the extracts — on a research server, inside it. It is never an output and never exported;
``pendling cache clear`` (or :func:`clear`) removes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from pendling.io import atomic_path, write_json

if TYPE_CHECKING:
    from pendling.panel.columns import ColumnMap
    from pendling.panel.load import Panel
    from pendling.panel.validate import CodeRules

# bump when what load_panel produces or how an entry is laid out changes (the version alone does not
# move between development commits)
CACHE_FORMAT = 3  # 2: CSV rows with too few fields are an error (strict) or excluded_short_row;
# 3: grid cells as Int64 codes, the zones request part of the key
GENERATOR = "pendling.panel.cache"
MANIFEST = "manifest.json"
DEFAULT_MAX_BYTES = 20 * 1024**3
_CHUNK = 1 << 20


def panels_dir() -> Path:
    """``cache_dir()/panels``: one folder per cached panel."""
    from pendling.paths import cache_dir

    return cache_dir() / "panels"


def max_bytes() -> int:
    """The bound on the whole panel cache in bytes (``PENDLING_PANEL_CACHE_BYTES``, default 20 GB)."""
    raw = os.environ.get("PENDLING_PANEL_CACHE_BYTES", "")
    try:
        return max(0, int(raw)) if raw.strip() else DEFAULT_MAX_BYTES
    except ValueError:
        return DEFAULT_MAX_BYTES


def file_hash(path: str | Path) -> str:
    """BLAKE2b-128 of a file's bytes, read in 1 MiB chunks (constant memory)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _stat(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "blake2b": file_hash(path)}


def fingerprint(
    *,
    opened: Iterable[Path],
    unopened: Iterable[Path],
    discover_warnings: list[str],
    column_map: ColumnMap,
    mapping: pl.DataFrame,
    rules: CodeRules,
    strict: bool,
    on_duplicate: str,
    years: Iterable[int] | None,
    zones: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """(key, what it was made of) for one load; ``inputs`` in the latter lists each opened file's stat."""
    from pendling import __version__
    from pendling.panel.load import side_paths

    inputs = []
    for p in opened:
        entry = _stat(p)
        side = side_paths(p)["summary"]  # a `panel export` summary beside it adds a warning
        if side.is_file():
            entry["side_summary"] = _stat(side)
        inputs.append(entry)
    parts = {
        "generator": GENERATOR,
        "format": CACHE_FORMAT,
        "pendling": __version__,
        "inputs": inputs,
        "unopened": [str(Path(p).resolve()) for p in unopened],
        "discover_warnings": list(discover_warnings),
        "column_map": {
            "candidates": {k: list(v) for k, v in sorted(column_map.candidates.items())},
            "encoding": column_map.encoding,
            "csv_separator": column_map.csv_separator,
            "origin": column_map.origin,
        },
        "jobgroups": hashlib.blake2b(json.dumps([mapping.columns, mapping.rows()], default=str).encode(),
                                     digest_size=16).hexdigest(),
        "code_rules": [sorted(rules.valid), sorted(rules.alias.items()), sorted(rules.away)],
        # the municipality tables and boundaries (grid cells are checked against them): ~0.5 MB to hash
        "reference": _reference_hashes(),
        "strict": strict,
        "on_duplicate": on_duplicate,
        "years": sorted(years) if years is not None else None,
        # whether grid cells were read (and the size of cells made from points): another panel
        "zones": zones,
    }
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest(), parts


def _reference_hashes() -> dict[str, str]:
    from pendling.paths import municipalities_dir

    folder = municipalities_dir()
    files = sorted(p for p in folder.glob("*") if p.suffix in (".parquet", ".csv")) if folder.is_dir() else []
    return {p.name: file_hash(p) for p in files}


def _entry(key: str) -> Path:
    return panels_dir() / key


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("generator") != GENERATOR or meta.get("format") != CACHE_FORMAT:
        return None
    return meta


def lookup(key: str) -> Panel | None:
    """The cached Panel for ``key``, or None (absent, incomplete, of another format, or unreadable: then
    the entry is removed and the caller reads the extracts)."""
    from pendling.panel.keys import KeyDictionary
    from pendling.panel.load import Panel

    folder = _entry(key)
    meta = _read_manifest(folder)
    if meta is None or meta.get("key") != key:
        return None
    try:
        for name, size in meta["files"].items():
            if (folder / name).stat().st_size != size:
                raise OSError(f"{name}: size differs from the manifest")
        frame = pl.read_ipc(folder / "frame.arrow")
        attrition = pl.read_ipc(folder / "attrition.arrow")
        flags = pl.read_ipc(folder / "flags.arrow")
        keys = {}
        for name in meta["keys"]:
            table = pl.read_ipc(folder / f"keys_{name}.arrow")
            keys[name] = KeyDictionary.restored(name, table["key"])
    except (OSError, KeyError, pl.exceptions.PolarsError):
        remove(key)
        return None
    _touch(folder)
    return Panel(
        frame=frame,
        attrition=attrition,
        sources=list(meta["sources"]),
        flags=flags,
        warnings=list(meta["warnings"]),
        provenance=meta["provenance"],
        keys=keys,
    )


def _touch(folder: Path) -> None:
    """Mark an entry as just used (its manifest's modification time), for eviction by last use."""
    try:
        os.utime(folder / MANIFEST)
    except OSError:
        pass


def store(key: str, panel: Panel, parts: dict[str, Any], *, note: Callable[[str], None] | None = None) -> Path | None:
    """Write ``panel`` as the entry for ``key``; returns its folder, or None when it is not kept (larger
    than its inputs, or the cache folder is not writable: a cache must never stop a run)."""
    from pendling.errors import InputError

    input_bytes = sum(int(i["size"]) for i in parts["inputs"])
    folder = _entry(key)
    tables: dict[str, pl.DataFrame] = {
        "frame.arrow": panel.frame,
        "attrition.arrow": panel.attrition,
        "flags.arrow": panel.flags,
        **{f"keys_{name}.arrow": d.keys.alias("key").to_frame() for name, d in panel.keys.items()},
    }
    try:
        # microdata: only the user may list or read the entries on a shared server
        folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        sizes = {}
        for name, table in tables.items():
            with atomic_path(folder / name) as tmp:
                table.write_ipc(tmp, compression="zstd")
            sizes[name] = (folder / name).stat().st_size
        if sum(sizes.values()) > input_bytes:
            remove(key)
            if note:
                note(f"the validated panel ({sum(sizes.values()):,} bytes) is larger than its inputs "
                     f"({input_bytes:,} bytes): not cached")
            return None
        manifest = {
            "generator": GENERATOR,
            "format": CACHE_FORMAT,
            "key": key,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "files": sizes,
            "input_bytes": input_bytes,
            "keys": sorted(panel.keys),
            "sources": panel.sources,
            "warnings": panel.warnings,
            "provenance": panel.provenance,
            "years": panel.years,
            "rows": panel.frame.height,
            "made_of": parts,
        }
        write_json(manifest, folder / MANIFEST)  # last: an entry is complete once its manifest is there
    except (OSError, InputError, pl.exceptions.PolarsError) as exc:
        remove(key)
        if note:
            note(f"the validated panel was not cached ({exc})")
        return None
    evict(keep=key)
    return folder


def entries() -> pl.DataFrame:
    """One row per complete cache entry, the most recently used first: ``key``, ``bytes``, ``input_bytes``,
    ``rows``, ``years`` (text), ``files`` (number of extracts), ``created``, ``last_used`` (UTC text)."""
    from pendling.yearspec import span

    rows = []
    root = panels_dir()
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        meta = _read_manifest(folder) if folder.is_dir() else None
        if meta is None:
            continue
        used = (folder / MANIFEST).stat().st_mtime
        rows.append({
            "key": folder.name,
            "bytes": _folder_bytes(folder),
            "input_bytes": int(meta.get("input_bytes", 0)),
            "rows": int(meta.get("rows", 0)),
            "years": span(meta.get("years") or []),
            "files": len(meta.get("sources", [])),
            "created": str(meta.get("created", "")),
            "last_used": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(used)),
            "_used": used,
        })
    schema = {"key": pl.String, "bytes": pl.Int64, "input_bytes": pl.Int64, "rows": pl.Int64, "years": pl.String,
              "files": pl.Int64, "created": pl.String, "last_used": pl.String, "_used": pl.Float64}
    df = pl.DataFrame(rows, schema=schema)
    return df.sort("_used", descending=True).drop("_used")


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def remove(key: str) -> None:
    """Remove one entry (no error if it is not there)."""
    shutil.rmtree(_entry(key), ignore_errors=True)


def clear() -> tuple[int, int]:
    """Remove every cached panel; returns (entries, bytes) removed."""
    root = panels_dir()
    if not root.is_dir():
        return 0, 0
    n = size = 0
    for folder in root.iterdir():
        if folder.is_dir():
            size += _folder_bytes(folder)
            n += _read_manifest(folder) is not None
            shutil.rmtree(folder, ignore_errors=True)
    return n, size


def evict(*, keep: str | None = None, bound: int | None = None) -> list[str]:
    """Remove the entries used longest ago until the cache fits ``bound`` (default :func:`max_bytes`);
    ``keep`` (the entry just written) is removed last of all. Returns the keys removed."""
    bound = max_bytes() if bound is None else bound
    root = panels_dir()
    if not root.is_dir():
        return []
    folders = []
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        try:
            used = (folder / MANIFEST).stat().st_mtime
        except OSError:
            used = 0.0  # incomplete (a writer killed, or one still writing): oldest
            if time.time() - folder.stat().st_mtime < 3600:
                continue  # may be a concurrent writer: leave it for an hour
        folders.append((folder.name == keep, used, folder))
    folders.sort(key=lambda t: (t[0], t[1]))
    total = sum(_folder_bytes(f) for _, _, f in folders)
    removed = []
    for _, _, folder in folders:
        if total <= bound:
            break
        total -= _folder_bytes(folder)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder.name)
    return removed

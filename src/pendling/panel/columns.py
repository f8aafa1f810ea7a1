"""The canonical person-year table and the column map that finds its fields in a register extract.

Canonical columns (names and types are a contract other modules rely on):

========== ======= ===========================================================================
pnr        Int64   pseudonymised person id (DST PNR); text ids are coded, see pendling.panel.keys
year       Int16   November reference year of the job (RAS/IDA) and the home at that time
home_muni  Int16   3-digit municipality of residence (KOM), one of the 98
home_addr  Int64   dwelling id (ADRESSE_ID), nullable; null for the whole column when absent
work_id    Int64   workplace serial number (LBNR); 0 = unknown or fictive workplace
work_muni  Int16   3-digit workplace municipality (ARBKOM / KOMARB / ARB_BEL_KOM_KODE)
disco      Utf8    DISCO-08 occupation code as text, leading zeros kept ('0110', '251200')
========== ======= ===========================================================================

Optional zone fields (present in the frame only when zones are read — ``load_panel(...,
zones=True | 'auto' | 'grid1km' ...)``, ``compute --zones grid*``, ``panel check/export`` — and the
extract has them; see :mod:`pendling.panel.zonecheck` for their validation):

========== ======= ===========================================================================
home_zone  Int64   DDKN grid cell of the home as an integer cell code (:func:`pendling.zones.cell_codes`:
                   ``1km_6170_720`` ↔ 10006170000720000 = resolution m · 10^13 + northing m · 10^6 +
                   easting m of the lower-left corner; 100m, 1km or 10km cells)
work_zone  Int64   DDKN grid cell of the workplace, coded the same way
========== ======= ===========================================================================

In the extracts a cell is a DDKN id text (``BOP_DDKN``/``ARB_DDKN``) or a point: ``home_x``/``home_y``,
``work_x``/``work_y`` in ETRS89 / UTM zone 32N metres (EPSG:25832), turned into the cell of the
resolution asked for. Text ids appear again only at the edges: ``export_panel``, ``transitions``,
pair-time tables and messages (:func:`pendling.zones.cell_text`).

The column map (``data/reference/column_map_default.toml``) lists, per field, the source column names
to try in order (case-insensitive). A user map overrides fields one by one.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl

from pendling import paths
from pendling.errors import InputError

CANONICAL_SCHEMA: dict[str, pl.DataType] = {
    "pnr": pl.Int64(),
    "year": pl.Int16(),
    "home_muni": pl.Int16(),
    "home_addr": pl.Int64(),
    "work_id": pl.Int64(),
    "work_muni": pl.Int16(),
    "disco": pl.String(),
}
CANONICAL_COLUMNS: tuple[str, ...] = tuple(CANONICAL_SCHEMA)
# cells are integer codes inside the engine (pendling.zones.cell_codes), DDKN text only at the edges
ZONE_SCHEMA: dict[str, pl.DataType] = {"home_zone": pl.Int64(), "work_zone": pl.Int64()}
ZONE_FIELDS: tuple[str, ...] = tuple(ZONE_SCHEMA)
# points (EPSG:25832 m) that become cells when the extract has no cell id column for that side
COORD_FIELDS: tuple[str, ...] = ("home_x", "home_y", "work_x", "work_y")
ZONE_INPUT_FIELDS: tuple[str, ...] = (*ZONE_FIELDS, *COORD_FIELDS)
MAPPED_FIELDS: tuple[str, ...] = (*CANONICAL_COLUMNS, *ZONE_INPUT_FIELDS)
OPTIONAL_FIELDS = frozenset({"home_addr", "year", *ZONE_INPUT_FIELDS})  # year may come from the file name instead

DEFAULT_COLUMN_MAP_FILE = "column_map_default.toml"
_YEAR_IN_NAME = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_SEPARATORS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class ColumnMap:
    """Source column names to try for each canonical field, plus reading options.

    ``candidates[field]`` is an ordered tuple of names; matching ignores case. The canonical name itself
    is always tried last, so a table written by ``pendling panel export`` reads back unchanged.
    ``encoding`` overrides the text encoding of SAS/Stata/XPT files ('' = as declared in the file) and
    decodes a CSV header that is not UTF-8 ('' = cp1252 there);
    ``csv_separator`` '' means detect from the header line.
    """

    candidates: dict[str, tuple[str, ...]]
    encoding: str = ""
    csv_separator: str = ""
    origin: str = "default"

    def names_for(self, field_name: str) -> tuple[str, ...]:
        names = self.candidates.get(field_name, ())
        if field_name in names or (field_name == "home_addr" and not names):
            return names  # an explicit empty home_addr list switches the field off
        if field_name in ZONE_INPUT_FIELDS and field_name in self.candidates and not names:
            return names  # likewise an explicit empty zone or coordinate list
        return (*names, field_name)

    def without_zones(self) -> ColumnMap:
        """This map with every cell and coordinate field switched off: readers then never read those
        columns (a municipality-level run of a grid extract costs what one without cells does)."""
        return replace(self, candidates={**self.candidates, **{f: () for f in ZONE_INPUT_FIELDS}})

    def resolve(self, columns: Iterable[str], *, file: str | Path) -> tuple[dict[str, str], list[str]]:
        """Pick the source column for each field present in ``columns``.

        Returns ``({field: source_name}, warnings)``; fields with no match are absent from the dict.
        Raises InputError when two source columns differ only by case (ambiguous).
        """
        by_upper: dict[str, list[str]] = {}
        for name in columns:
            by_upper.setdefault(name.strip().upper(), []).append(name)
        found: dict[str, str] = {}
        warnings: list[str] = []
        for fld in MAPPED_FIELDS:
            hits = []
            for cand in dict.fromkeys(c.upper() for c in self.names_for(fld)):
                if cand in by_upper:
                    hits.append((cand, by_upper[cand]))
            if not hits:
                continue
            wanted, sources = hits[0]
            if len(sources) > 1:
                raise InputError(
                    f"two columns match {wanted!r} when case is ignored; cannot tell which holds {fld}",
                    file=file,
                    column=wanted,
                    values=sources,
                    hint="rename one of them, or name the exact column in a column map TOML",
                )
            found[fld] = sources[0]
            if len(hits) > 1:
                others = ", ".join(s[0] for _, s in hits[1:])
                warnings.append(
                    f"{Path(file).name}: {fld} read from {sources[0]!r}; also present and ignored: {others}"
                )
        return found, warnings


def load_column_map(column_map: ColumnMap | Mapping[str, Any] | str | Path | None = None) -> ColumnMap:
    """The default DST column map, optionally overridden field by field.

    ``column_map`` may be a :class:`ColumnMap`, a path to a TOML file shaped like
    ``data/reference/column_map_default.toml``, or a dict: either ``{"columns": {...}, "read": {...}}``
    or a flat ``{"work_muni": "KOMARB", ...}``. Values are a name or a list of names.
    """
    if isinstance(column_map, ColumnMap):
        return column_map
    default_path = paths.reference_dir() / DEFAULT_COLUMN_MAP_FILE
    base = _from_toml_dict(_read_toml(default_path), origin=str(default_path))
    if column_map is None:
        return base
    if isinstance(column_map, (str, Path)):
        path = Path(column_map)
        user, origin = _read_toml(path), str(path)
    else:
        user, origin = dict(column_map), "dict"
    if "columns" not in user and "read" not in user:
        user = {"columns": user}
    override = _from_toml_dict(user, origin=origin, partial=True)
    return replace(
        base,
        candidates={**base.candidates, **override.candidates},
        encoding=override.encoding if "encoding" in user.get("read", {}) else base.encoding,
        csv_separator=(
            override.csv_separator if "csv_separator" in user.get("read", {}) else base.csv_separator
        ),
        origin=origin,
    )


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(
            "column map file not found",
            file=path,
            hint=f"copy {DEFAULT_COLUMN_MAP_FILE} from pendling's data/reference folder and edit it",
        )
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"column map is not valid TOML: {exc}", file=path) from None


def _from_toml_dict(doc: Mapping[str, Any], *, origin: str, partial: bool = False) -> ColumnMap:
    cols = doc.get("columns", {})
    unknown = sorted(set(cols) - set(MAPPED_FIELDS))
    if unknown:
        raise InputError(
            "column map names fields that pendling does not know",
            file=origin,
            column="[columns]",
            values=unknown,
            hint=f"use the canonical field names: {', '.join(MAPPED_FIELDS)}",
        )
    candidates: dict[str, tuple[str, ...]] = {}
    for fld, names in cols.items():
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            raise InputError(
                "each field in [columns] must be a column name or a list of names",
                file=origin,
                column=fld,
                values=[names],
            )
        if not names and fld not in OPTIONAL_FIELDS:
            raise InputError(
                f"{fld} is required and needs at least one column name",
                file=origin,
                column=fld,
            )
        candidates[fld] = tuple(n.strip() for n in names)
    if not partial:
        missing = [f for f in CANONICAL_COLUMNS if f not in candidates]
        if missing:
            raise InputError("column map lacks fields", file=origin, values=missing)
    read = doc.get("read", {})
    sep = str(read.get("csv_separator", ""))
    if sep and len(sep) != 1:
        raise InputError("csv_separator must be one character", file=origin, column="csv_separator", values=[sep])
    return ColumnMap(
        candidates=candidates,
        encoding=str(read.get("encoding", "")),
        csv_separator=sep,
        origin=origin,
    )


def year_from_name(path: str | Path) -> int | None:
    """The first 19xx/20xx number standing alone in a file name (``ras2015.parquet`` → 2015), else None."""
    m = _YEAR_IN_NAME.search(Path(path).name)
    return int(m.group(1)) if m else None


def sniff_separator(header_line: str) -> str:
    """The most frequent of ',', ';', tab, '|' in a CSV header line (',' when none occurs)."""
    counts = {sep: header_line.count(sep) for sep in _SEPARATORS}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] > 0 else ","

"""``load_panel``: register extracts in, one canonical validated person-year table out.

    >>> panel = load_panel("extracts/")           # ras2015.parquet, ras2016.csv, ras2017.sas7bdat ...
    >>> panel.frame                                # pnr, year, home_muni, home_addr, work_id, work_muni, disco
    >>> panel.attrition                            # where every input row went; n sums to the input

Nothing is dropped silently: each input row lands in exactly one bucket of ``panel.attrition``
(stage 'panel'), whose counts are checked to add up to the number of rows read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from pendling.errors import InputError
from pendling.io import write_csv, write_json, write_table
from pendling.panel.buckets import (
    FLAGS_SCHEMA,
    KEPT_BUCKETS,
    check_attrition,
    flags_table,
    panel_attrition,
    rows_per_year,
)
from pendling.panel.columns import ZONE_FIELDS, ZONE_SCHEMA, ColumnMap, load_column_map, year_from_name
from pendling.panel.jobgroups import assign_job_group, default_mapping_path, load_mapping
from pendling.panel.keys import KEY_FIELDS, KeyDictionary, decode_keys, is_integer_text
from pendling.panel.readers import (
    RawInput, Source, csv_record_problems, discover, open_frame, open_input, raise_short_rows,
)
from pendling.panel.zonecheck import (
    ZoneRequest,
    apply_zone_buckets,
    encode_cells,
    zone_flag_counts,
    zone_request,
    zone_sources,
)
from pendling.panel.validate import (
    CodeRules,
    OnDuplicate,
    ParsedInput,
    assign_buckets,
    bad_value_counts,
    canonical_rows,
    duplicate_error,
    flag_counts,
    parse_input,
    raise_bad_values,
    sort_person_year,
    year_gap_warnings,
)


@dataclass
class Panel:
    """A validated person-year panel.

    ``frame``: canonical rows sorted by (pnr, year). ``attrition``: stage 'panel' buckets per year, n
    summing to the rows read. ``sources``: the files read. ``flags``: per-year counts of notes on kept
    rows (aliases, LBNR 0, unclassified DISCO ...; they overlap). ``warnings``: year gaps, ignored
    files, ambiguous columns. ``provenance``: column names used per file and the options.
    """

    frame: pl.DataFrame
    attrition: pl.DataFrame
    sources: list[str]
    flags: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=FLAGS_SCHEMA))
    warnings: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    # text keys (PNR, ADRESSE_ID, LBNR) are coded in ``frame``; these decode them (pendling.panel.keys)
    keys: dict[str, KeyDictionary] = field(default_factory=dict)

    @property
    def n_input(self) -> int:
        """Rows read from the sources (the sum of the stage 'panel' attrition)."""
        return int(self.attrition.filter(pl.col("stage") == "panel")["n"].sum())

    @property
    def years(self) -> list[int]:
        """Years with at least one kept row, ascending."""
        return sorted(self.frame["year"].unique().to_list())

    def rows_per_year(self) -> pl.DataFrame:
        """``year``, ``input``, ``kept``, ``excluded`` row counts."""
        return rows_per_year(self.attrition)

    def with_derived(self, mapping: pl.DataFrame | str | Path | None = None) -> pl.DataFrame:
        """The canonical frame plus ``job_group`` (from DISCO) and ``region_code`` (home region 1081–1085)."""
        return add_derived_columns(self.frame, mapping)

    def _summary(self) -> tuple[str, list[tuple[str, str]], list[str]]:
        """Title, rows and detail attributes of the notebook/console summary (no provenance dump)."""
        from pendling import _summary as S

        panel = self.attrition.filter(pl.col("stage") == "panel")
        read, kept = self.n_input, self.frame.height
        excluded = (panel.filter(pl.col("bucket").str.starts_with("excluded") & (pl.col("n") > 0))
                    .group_by("bucket").agg(pl.col("n").sum()).sort(["n", "bucket"], descending=[True, False]))
        noted = (panel.filter(pl.col("bucket").str.starts_with("kept_") & (pl.col("n") > 0))
                 .group_by("bucket").agg(pl.col("n").sum()).sort(["n", "bucket"], descending=[True, False]))
        files = [s for s in self.sources if not str(s).startswith("<")]  # '<DataFrame>': passed in
        names = [Path(s).name for s in files]
        folders = {str(Path(s).parent) for s in files}
        where = f" in {folders.pop()}" if len(folders) == 1 else ""
        rows = [
            ("rows", f"{kept:,} kept of {read:,} read ({S.share(kept, read)})"),
            ("years", S.span(self.years)),
            ("excluded", S.first([f"{b.removeprefix('excluded_')} {n:,}" for b, n in excluded.iter_rows()], 3)
             if excluded.height else "none"),
            ("kept with a note", S.first([f"{b.removeprefix('kept_')} {n:,}" for b, n in noted.iter_rows()], 3)
             if noted.height else "none"),
            ("sources", f"{len(names)}{where}: {S.first(names, 3)}" if names else "a frame passed in"),
            ("warnings", f"{len(self.warnings)}: {S.first(self.warnings)}" if self.warnings else "none"),
        ]
        return "Panel", rows, [".frame", ".attrition", ".flags", ".warnings", ".provenance", ".rows_per_year()"]

    def __repr__(self) -> str:
        from pendling import _summary as S

        return S.text(*self._summary())

    def _repr_html_(self) -> str:
        from pendling import _summary as S

        return S.html_table(*self._summary())


def load_panel(
    source: Source,
    *,
    column_map: ColumnMap | Mapping[str, Any] | str | Path | None = None,
    years: Iterable[int] | str | int | None = None,
    strict: bool = True,
    on_duplicate: OnDuplicate | None = None,
    jobgroups: pl.DataFrame | str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    cache: bool = True,
    zones: bool | str = False,
) -> Panel:
    """Read register extracts into a validated canonical person-year panel.

    ``source``: a file, a directory of per-year files (``ras2015.parquet`` ...), a glob, a list of
    files, or a Polars frame (canonical or DST column names). Formats: Parquet, CSV, SAS7BDAT,
    SAS transport (.xpt), Stata (.dta). The year comes from a YEAR/AAR column or the file name.

    ``column_map``: TOML path or dict overriding the DST default column names field by field.
    ``years``: keep only these November reference years (2021, [2015, 2016], '2015-2022' or
    '2015-2018,2020', as on the command line); per-year files of other years (by file name) are not
    opened, other rows are counted as ``excluded_year_out_of_range``.
    ``strict``: True raises InputError for values that are not whole numbers in number columns (or
    negative in PNR, ADRESSE_ID, LBNR); False treats them as missing and counts them (flag
    ``unparseable_values``).
    ``on_duplicate``: what to do with repeated (PNR, year): 'error' (default when strict), 'drop'
    every row of that person-year (default when not strict), or 'first' row in file order; dropped
    rows are counted as ``excluded_duplicate``.
    ``jobgroups``: DISCO → job-group mapping used to count unclassified codes (default: shipped CSV).
    ``progress``: called with a short message as each file is opened and at each later step
    (for a progress bar; one call per file, never per row).
    ``cache``: keep the result in the validated-panel cache and, on a later call with unchanged files
    and options, return it from there without reading or validating (:mod:`pendling.panel.cache`:
    the key includes a content hash of every input; frames passed in are never cached).
    ``zones``: the optional home/workplace grid cells (:mod:`pendling.panel.zonecheck`). False
    (default; also 'municipality'): not read, so a municipality-level load of a grid extract is the
    load of the same extract without cell columns; 'auto': read and validated when the extract has
    them; True: the same, and an InputError when no input has them; 'grid100m' / 'grid1km' /
    'grid10km': as True, with x/y coordinates turned into cells of that size (else 100 m). The frame
    holds them as Int64 cell codes (:func:`pendling.zones.cell_text` gives the DDKN ids).
    """
    request = zone_request(zones)
    step = progress or (lambda _msg: None)
    cmap = load_column_map(column_map)
    if not request.read:  # the readers then never read a cell or coordinate column
        cmap = cmap.without_zones()
    mapping = jobgroups if isinstance(jobgroups, pl.DataFrame) else load_mapping(jobgroups)
    mapping_origin = (
        "DataFrame" if isinstance(jobgroups, pl.DataFrame) else str(jobgroups or default_mapping_path())
    )
    wanted = _check_years(years)
    dup_mode: OnDuplicate = on_duplicate or ("error" if strict else "drop")
    if dup_mode not in ("error", "drop", "first"):
        raise InputError(
            f"on_duplicate must be 'error', 'drop' or 'first', not {dup_mode!r}",
            hint="'error' stops at repeated (PNR, year); 'drop' and 'first' count what they leave out",
        )
    rules = CodeRules.from_geo()

    key = parts = None
    if cache and not isinstance(source, (pl.DataFrame, pl.LazyFrame)):
        from pendling.panel import cache as panel_cache

        files, found_warnings = discover(source)
        opened, unopened = _split_by_year(files, wanted)
        if opened:
            key, parts = panel_cache.fingerprint(
                opened=opened, unopened=unopened, discover_warnings=found_warnings, column_map=cmap,
                mapping=mapping, rules=rules, strict=strict, on_duplicate=dup_mode, years=wanted,
                zones=request.key(),
            )
            hit = panel_cache.lookup(key)
            if hit is not None:
                step("validated panel read from the cache")
                return hit

    panel = _load(source, cmap, wanted, step, mapping, mapping_origin, strict, dup_mode, rules, request)
    if key is not None and parts is not None:
        from pendling.panel import cache as panel_cache

        panel_cache.store(key, panel, parts, note=step)  # a note, not a warning: results stay the same
    return panel


def _split_by_year(files: list[Path], wanted: set[int] | None) -> tuple[list[Path], list[Path]]:
    """(files to open, files named for a year not asked for): the split :func:`_open` makes."""
    if wanted is None:
        return files, []
    skipped = [p for p in files if (y := year_from_name(p)) is not None and y not in wanted]
    return [p for p in files if p not in skipped], skipped


def _load(
    source: Source,
    cmap: ColumnMap,
    wanted: set[int] | None,
    step: Callable[[str], None],
    mapping: pl.DataFrame,
    mapping_origin: str,
    strict: bool,
    dup_mode: OnDuplicate,
    rules: CodeRules,
    request: ZoneRequest | None = None,
) -> Panel:
    """:func:`load_panel` without the cache."""
    request = request or zone_request(False)
    inputs, warnings, unopened_years = _open(source, cmap, wanted, step)
    if strict:  # CSV rows with too few fields: stop before reading (lenient: excluded_short_row)
        raise_short_rows(inputs)
    for raw in inputs:
        warnings.extend(zone_sources(raw.columns, raw.label))
    step("reading and converting types")
    parsed, frames, integer_keys = [], [], []
    keys: dict[str, KeyDictionary] = {}
    for i, raw in enumerate(inputs):
        p, df = _collect(raw, i, cmap, request.resolution_m)
        # grid cells as Int64 codes right away: at most one input's cell texts are in memory at once
        df = encode_cells(df)
        parsed.append(p)
        # text keys become codes right away, so at most one input's key texts are in memory at once
        df, as_integers = _encode_text_keys(df, keys)
        integer_keys.append(as_integers)
        # one chunk per input: eager operations on the concatenated table otherwise rechunk the whole
        # of it at once, which doubled load_panel's peak memory at national scale
        frames.append(df.rechunk())
        if df.height == 0:
            warnings.append(f"{raw.label}: no rows")
        elif "year" in raw.columns and raw.name_year is not None:
            other = int((df["year"] != raw.name_year).sum())
            if other:
                warnings.append(
                    f"{Path(raw.label).name}: the file name says {raw.name_year} but the year column "
                    f"{raw.columns['year']} holds another year in {other:,} of {df.height:,} rows; the column is used"
                )
    warnings.extend(_mixed_key_warnings(inputs, integer_keys, keys))
    for i, as_integers in enumerate(integer_keys):  # integer inputs of a field that also has text keys
        recode = [keys[f].encode(frames[i][f].cast(pl.String)) for f in as_integers if f in keys]
        if recode:
            frames[i] = frames[i].with_columns(recode)
    # PNR codes in key order: the panel is sorted by PNR, so its row order is then the keys' order
    renumber = {name: dictionary.sorted_codes() for name, dictionary in keys.items() if name == "pnr"}
    for i, frame in enumerate(frames):
        if renumber:
            frames[i] = frame.with_columns(new.gather(frame[name]).alias(name) for name, new in renumber.items())
    # 'diagonal': a year without zone columns gets null cells (counted as malformed) when others have them
    rows = pl.concat(frames, how="diagonal")
    del frames  # the concatenated frame shares their memory; drop the extra references early
    step("validating codes and duplicates")
    zone_fields = [f for f in ZONE_FIELDS if f in rows.columns]
    if request.required and not zone_fields:
        raise InputError(
            "grid cells were asked for, but no input has a home or workplace cell column or coordinates",
            file=", ".join(raw.label for raw in inputs[:3]) + (f" and {len(inputs) - 3} more" if len(inputs) > 3 else ""),
            column="home_zone, work_zone",
            values=[f"{f}: {' / '.join(cmap.names_for(f))}" for f in ("home_zone", "work_zone", "home_x", "work_x")],
            hint="name the cell columns (or home_x/home_y, work_x/work_y in EPSG:25832 metres) in a column map "
                 "TOML, or run at municipality level",
        )
    checked = validate_rows(rows, parsed, keys, rules=rules, mapping=mapping, wanted=wanted, dup_mode=dup_mode,
                            strict=strict, step=step)
    attrition, unreadable, frame, zone_fields = checked.attrition, checked.unreadable, checked.frame, checked.zones
    flags = flags_table(checked.flag_counts, attrition["year"].drop_nulls().unique().to_list(),
                        zones=bool(zone_fields))
    n_rows = checked.n_rows
    del rows, checked  # national scale: free the working copy before building the summary
    if n_rows and frame.height == 0:
        warnings.append("no row was kept: see the attrition table for where they went")
    kept_years = frame["year"].unique().to_list()
    warnings.extend(year_gap_warnings(kept_years, wanted))
    n_numeric = int(flags.filter(pl.col("flag") == "disco_numeric")["n"].sum())
    if n_numeric:
        warnings.append(
            f"DISCO was stored as numbers for {n_numeric:,} kept rows: 3- and 5-digit values were "
            "zero-padded to 4 and 6 digits; better read DISCO as text from the source"
        )
    warnings.extend(_unreadable_warnings(unreadable, inputs))
    warnings.extend(export_warnings(inputs))
    provenance = {
        "unreadable_values": unreadable,
        # every year the source holds rows for (files not opened count by their name): messages about
        # years that are not there can then list what is
        "years_in_source": sorted(
            set(unopened_years)
            | set(attrition.filter(pl.col("n") > 0)["year"].drop_nulls().cast(pl.Int64).to_list())
        ),
        "column_map": cmap.origin,
        "jobgroups": mapping_origin,
        "strict": strict,
        "on_duplicate": dup_mode,
        "years": sorted(wanted) if wanted is not None else None,
        "zones": _zone_provenance(request, inputs, zone_fields),
        "keys": {f: f"text, {keys[f].table.height:,} distinct" if f in keys else "integer" for f in KEY_FIELDS},
        "inputs": [
            {
                "source": raw.label,
                "format": raw.fmt,
                "columns": raw.columns,
                "year_from_file_name": raw.name_year if "year" not in raw.columns else None,
            }
            for raw in inputs
        ],
    }
    return Panel(
        frame=frame,
        attrition=attrition,
        sources=[raw.label for raw in inputs],
        flags=flags,
        warnings=warnings,
        provenance=provenance,
        keys=keys,
    )


def _zone_provenance(request: ZoneRequest, inputs: list[RawInput], zone_fields: list[str]) -> dict[str, Any]:
    """What the cells were read from: per side the id column(s) or the coordinate columns, the
    resolution of cells made from points, and whether cells were asked for at all."""
    sides: dict[str, Any] = {}
    for side in ("home", "work"):
        ids = sorted({raw.columns[f"{side}_zone"] for raw in inputs if f"{side}_zone" in raw.columns})
        xy = sorted({f"{raw.columns[side + '_x']}/{raw.columns[side + '_y']}" for raw in inputs
                     if f"{side}_zone" not in raw.columns and f"{side}_x" in raw.columns})
        sides[side] = {"ids": ids, "coordinates": xy}
    return {"read": request.read, "columns": zone_fields, "points_resolution_m": request.resolution_m,
            "sources": sides if request.read else {}}


@dataclass
class Validated:
    """What :func:`validate_rows` makes of one batch of parsed rows (all years, or one year)."""

    frame: pl.DataFrame  # kept rows, canonical, sorted by (pnr, year); zone cells appended if any
    attrition: pl.DataFrame  # stage 'panel' buckets of the batch's years (see panel_attrition)
    bucket_counts: pl.DataFrame  # year, bucket, n: the raw counts behind ``attrition``
    flag_counts: pl.DataFrame  # year, flag, n (long; flags_table makes the table)
    unreadable: dict[str, int]
    zones: list[str]  # zone fields present
    n_rows: int


def validate_rows(
    rows: pl.DataFrame,
    parsed: list[ParsedInput],
    keys: Mapping[str, Any],
    *,
    rules: CodeRules,
    mapping: pl.DataFrame,
    wanted: set[int] | None,
    dup_mode: OnDuplicate,
    strict: bool,
    step: Callable[[str], None],
) -> Validated:
    """Validate parsed rows (of every year, or of one year: the loader and the per-year store both come
    here, so codes, duplicates and grid cells are checked in one place): bad values (strict), buckets,
    duplicates, grid cells, attrition, flags, canonical rows. ``rows`` is sorted in place."""
    if strict:
        raise_bad_values(parsed, rows)
    sort_person_year(rows)  # in place: never an unsorted and a sorted copy of all rows at once
    rows = assign_buckets(rows, rules=rules, mapping=mapping, years=wanted, on_duplicate=dup_mode)
    if dup_mode == "error":
        err = duplicate_error(rows, parsed, keys)  # type: ignore[arg-type]
        if err is not None:
            raise err

    zone_fields = [f for f in ZONE_FIELDS if f in rows.columns]
    if zone_fields:  # grid cells: their own buckets after the municipality checks (panel.zonecheck)
        step("checking grid cells")
        rows = apply_zone_buckets(rows, rules.alias)
    bucket_counts = rows.group_by("year", "bucket").agg(pl.len().cast(pl.Int64).alias("n"))
    attrition = panel_attrition(bucket_counts, zones=bool(zone_fields), counted=True)
    check_attrition(attrition, rows.height)
    counts = flag_counts(rows)
    if zone_fields:
        counts = pl.concat([counts, zone_flag_counts(rows)])
    unreadable = {} if strict else bad_value_counts(rows)
    frame = canonical_rows(rows, rules)
    if zone_fields:  # the cells of the kept rows, in the same order (filtering keeps it)
        cells = rows.lazy().filter(pl.col("bucket").is_in(KEPT_BUCKETS)).select(zone_fields)
        frame = frame.hstack(cells.cast({f: ZONE_SCHEMA[f] for f in zone_fields}).collect())
    return Validated(frame, attrition, bucket_counts.with_columns(pl.col("bucket").cast(pl.String)), counts,
                     unreadable, zone_fields, rows.height)


def _source_names(field_name: str, inputs: list[RawInput]) -> str:
    """The column name(s) the user's files use for a canonical field, e.g. 'ADRESSE_ID'."""
    names = sorted({raw.columns[field_name] for raw in inputs if field_name in raw.columns})
    return "/".join(names) or field_name


def _unreadable_warnings(unreadable: Mapping[str, int], inputs: list[RawInput]) -> list[str]:
    """Warnings for values read as missing with strict=False (--lenient), in the files' column names.

    A missing ADRESSE_ID changes what a mover is (a change of KOM instead of an address change), so
    that warning says so and gives the count: it must reach the verdict and the method notes.
    """
    out = []
    for name, n in unreadable.items():
        col = _source_names(name, inputs)
        if name == "home_addr":
            out.append(
                f"{col}: {n:,} values are not whole numbers of at least 0 and were read as missing (lenient reading); "
                "for these person-years a move is detected only as a change of home municipality (KOM), "
                "so moves within a municipality are not seen and the mover definition changes"
            )
        else:
            out.append(f"{col}: {n:,} values are not readable and were read as missing (lenient reading); "
                       "see the attrition table for where these rows went")
    return out


def _encode_text_keys(df: pl.DataFrame, keys: dict[str, KeyDictionary]) -> tuple[pl.DataFrame, list[str]]:
    """Key columns of one input as Int64: integers (and text that is exactly an integer's digits) as
    they are, other text as codes of the field's shared dictionary (created on first need). Returns
    the frame and the key fields still holding plain integers."""
    as_integers, columns = [], []
    for name in KEY_FIELDS:
        col = df[name]
        if col.dtype == pl.String and not is_integer_text(col):
            columns.append(keys.setdefault(name, KeyDictionary(name)).encode(col))
        else:
            as_integers.append(name)
            if col.dtype != pl.Int64:
                columns.append(col.cast(pl.Int64))
    return (df.with_columns(columns) if columns else df), as_integers


def _mixed_key_warnings(
    inputs: list[RawInput], integer_keys: list[list[str]], keys: dict[str, KeyDictionary]
) -> list[str]:
    """Warn when a field is integer in some inputs and text with leading zeros in others: 123 and
    '0123' are different keys, which is right for pseudonyms but wrong if zeros were lost on the way."""
    out = []
    for name, dictionary in keys.items():
        numeric = [raw.label for raw, ints in zip(inputs, integer_keys, strict=True) if name in ints]
        if not numeric:
            continue
        zeros = dictionary.table.filter(pl.col("key").str.contains(r"^0[0-9]+$"))["key"]
        if zeros.len():
            out.append(mixed_key_warning(name, numeric, zeros[0]))
    return out


def mixed_key_warning(name: str, numeric: list[str], example: str) -> str:
    """The warning for a key field stored as numbers in the inputs ``numeric`` (labels) and as text with
    leading zeros (``example``) elsewhere; shared by the whole-panel and the per-year loader."""
    return (
        f"{name} is stored as numbers in {Path(numeric[0]).name}"
        + (f" and {len(numeric) - 1} more" if len(numeric) > 1 else "")
        + f" but as text with leading zeros elsewhere (e.g. {example!r}): keys are compared as "
        "written, so 123 and '0123' are different; if zeros were lost in a conversion, fix the source"
    )


def _collect(raw: RawInput, index: int, cmap: ColumnMap | None = None,
             zone_resolution_m: int = 100) -> tuple[ParsedInput, pl.DataFrame]:
    """Read and convert one input; on a data error retry its slower fallback reader if it has one."""
    parsed = parse_input(raw, index, zone_resolution_m)
    try:
        return parsed, parsed.lazy.collect()
    except pl.exceptions.PolarsError as exc:
        if raw.fallback is None:
            raise InputError(
                f"cannot read this {raw.fmt} input: {type(exc).__name__}: {exc}",
                file=raw.label,
                hint="check that the file is complete and really in this format",
            ) from None
    parsed = parse_input(raw.fallback(), index, zone_resolution_m)
    try:
        return parsed, parsed.lazy.collect()
    except pl.exceptions.PolarsError as exc:
        problem = csv_record_problems(raw.label, cmap) if raw.fmt == "csv" and cmap is not None else None
        raise InputError(
            f"cannot read this {raw.fmt} input: {problem or type(exc).__name__ + ': ' + _first_line(exc)}",
            file=raw.label,
            hint=(
                "every row needs as many fields as the header: check the separator ([read] csv_separator in a "
                "column map), quotes around values that contain it, and line breaks inside values"
                if raw.fmt == "csv"
                else "check that the file is complete and really in this format"
            ),
        ) from None


def _first_line(exc: BaseException) -> str:
    """The gist of a library error (Polars appends pages of hints after the first line)."""
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _check_years(years: Iterable[int] | str | int | None) -> set[int] | None:
    from pendling.yearspec import parse_years

    years = parse_years(years)
    if years is None:
        return None
    wanted = set()
    for y in years:
        if isinstance(y, bool) or not isinstance(y, int) or not 1900 <= y <= 2100:
            raise InputError("years must be whole years such as 2015", column="years", values=[y])
        wanted.add(y)
    if not wanted:
        raise InputError("years is empty", column="years", hint="pass None for all years")
    return wanted


def _open(
    source: Source, cmap: ColumnMap, wanted: set[int] | None, step: Callable[[str], None]
) -> tuple[list[RawInput], list[str], list[int]]:
    """Opened inputs, warnings, and the years (from file names) of files not opened for ``wanted``."""
    if isinstance(source, (pl.DataFrame, pl.LazyFrame)):
        raw = open_frame(source, cmap)
        return [raw], list(raw.warnings), []
    files, warnings = discover(source)
    unopened: list[int] = []
    if wanted is not None:
        skipped = [p for p in files if (y := year_from_name(p)) is not None and y not in wanted]
        if skipped:
            warnings.append(
                "not opened (the year in the file name was not asked for): " + ", ".join(p.name for p in skipped)
            )
        files = [p for p in files if p not in skipped]
        unopened = sorted({y for p in skipped if (y := year_from_name(p)) is not None})
        if not files:
            from pendling.yearspec import span

            raise InputError(
                f"no input file is named for the years asked for ({span(sorted(wanted))}); "
                f"the file names give {span(unopened)}",
                file=str(source),
                values=sorted(wanted),
                hint=f"ask for years among {span(unopened)}",
            )
    inputs = []
    for p in files:
        step(f"opening {p.name}")
        inputs.append(open_input(p, cmap))
        warnings.extend(inputs[-1].warnings)
    return inputs, warnings, unopened


def count_steps(source: Source) -> int:
    """How many times :func:`load_panel` will call ``progress`` for ``source`` (for a bar's total)."""
    if isinstance(source, (pl.DataFrame, pl.LazyFrame)):
        return 2
    return len(discover(source)[0]) + 2


def add_derived_columns(frame: pl.DataFrame, mapping: pl.DataFrame | str | Path | None = None) -> pl.DataFrame:
    """Add ``job_group`` (DISCO by longest prefix) and ``region_code`` (Int16, 1081–1085, of ``home_muni``)."""
    from pendling import geo

    regions = geo.municipalities().select("code", "region_code")
    lookup = dict(zip(regions["code"].to_list(), regions["region_code"].to_list(), strict=True))
    out = assign_job_group(frame, mapping)
    assert isinstance(out, pl.DataFrame)
    return out.with_columns(
        pl.col("home_muni").replace_strict(lookup, default=None, return_dtype=pl.Int16).alias("region_code")
    )


def attrition(
    source: Panel | Source,
    **load_kwargs: Any,
) -> pl.DataFrame:
    """The stage 'panel' attrition table of a loaded :class:`Panel`, or of ``load_panel(source, ...)``."""
    if isinstance(source, Panel):
        return source.attrition
    return load_panel(source, **load_kwargs).attrition


EXPORT_GENERATOR = "pendling.panel.export_panel"


def export_warnings(inputs: list[RawInput]) -> list[str]:
    """A warning for each input that is itself a `panel export`: its attrition starts from the export's
    rows, not from the raw extracts (those counts are in the export's side file)."""
    import json

    out = []
    for raw in inputs:
        where = side_paths(raw.label)
        try:
            summary = json.loads(where["summary"].read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(summary, dict) and summary.get("generator") == EXPORT_GENERATOR:
            out.append(
                f"{Path(raw.label).name} was written by `pendling panel export`: this attrition starts from its "
                f"rows; the rows left out before it are counted in {where['attrition'].name}. For one audit "
                "trail from the raw rows, read the raw extracts with the same reading options"
            )
    return out


def side_paths(out: str | Path) -> dict[str, Path]:
    """Where :func:`export_panel` writes: the table, ``<stem>.attrition.csv``, ``.flags.csv``, ``.panel.json``
    (the same ``<stem>.<part>.<suffix>`` scheme as the side files of ``pendling compute``)."""
    out = Path(out)
    return {
        "table": out,
        "attrition": out.with_name(f"{out.stem}.attrition.csv"),
        "flags": out.with_name(f"{out.stem}.flags.csv"),
        "summary": out.with_name(f"{out.stem}.panel.json"),
    }


def export_panel(
    panel: Panel, out: str | Path, *, mapping: pl.DataFrame | str | Path | None = None, min_n: int = 5
) -> dict[str, Path]:
    """Write the canonical table with ``job_group`` and ``region_code`` (Parquet or CSV by suffix) and,
    beside it, the attrition table, the flags table and a JSON summary (sources, options, warnings).

    The canonical table is microdata for the research server; the side files' counts go through
    :func:`pendling.mobility.disclosure.disclose_table` with ``min_n`` (hidden counts are empty,
    ``suppressed``/``suppression`` say why), so they may leave it. All writes are atomic and
    deterministic: the same inputs give byte-identical files.
    """
    from pendling.mobility.disclosure import disclose_table, mask_small_counts

    where = side_paths(out)
    # the original key values (text keys were coded for the flows); integer keys are unchanged
    derived = decode_keys(panel.with_derived(mapping), panel.keys)
    if any(f in derived.columns for f in ZONE_FIELDS):  # cells leave as DDKN ids, never as codes
        from pendling.zones import cell_text

        derived = derived.with_columns(cell_text(derived[f]) for f in ZONE_FIELDS if f in derived.columns)
    per_year = disclose_table(panel.rows_per_year(), min_n, attrition=panel.attrition)
    write_table(derived, where["table"])
    write_csv(disclose_table(panel.attrition, min_n), where["attrition"])
    write_csv(disclose_table(panel.flags, min_n, attrition=panel.attrition), where["flags"])
    summary = {
        "generator": EXPORT_GENERATOR,
        # totals only where no year's count is hidden (else total - the others gives it away)
        "rows_written": panel.frame.height if per_year["kept"].null_count() == 0 else None,
        "rows_read": panel.n_input if per_year["input"].null_count() == 0 else None,
        "rows_per_year": per_year.to_dicts(),
        "min_n": min_n,
        "sources": panel.sources,
        "warnings": [mask_small_counts(w, min_n) for w in panel.warnings],
        "provenance": panel.provenance,
        "columns": {name: str(dtype) for name, dtype in derived.schema.items()},
    }
    write_json(summary, where["summary"])
    return where

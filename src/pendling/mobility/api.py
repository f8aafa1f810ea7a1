"""The mobility API: panel + travel-time matrix → cell statistics by year × flow × job group × region.

``compute`` is what most people call; ``run`` also returns the attrition (how every person-year of
the requested years was classified) and the method notes that go beside exported results.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from pendling import yearspec as _yearspec
from pendling.errors import InputError
from pendling.mobility import disclosure as _disc
from pendling.mobility import flows as _flows
from pendling.mobility import stats as _stats
from pendling.mobility.limits import Limits, connect

ATTRITION_SCHEMA: dict[str, pl.DataType] = {
    "stage": pl.Utf8(),
    "year": pl.Int16(),
    "bucket": pl.Utf8(),
    "n": pl.Int64(),
    "description": pl.Utf8(),
}
_REQUIRED = ("pnr", "year", "home_muni", "work_id", "work_muni")


@dataclass(frozen=True)
class MobilityResult:
    """Results table, attrition (stages 'panel' and 'flows'), method notes (key, value) and the
    minimum cell size applied (None = no disclosure control)."""

    results: pl.DataFrame
    attrition: pl.DataFrame
    method: pl.DataFrame
    min_n: int | None = None

    def _summary(self) -> tuple[str, list[tuple[str, str]], list[str]]:
        """Title, rows and detail attributes of the notebook/console summary."""
        from pendling import _summary as S

        r = self.results
        national = r.filter((pl.col("job_group") == _stats.ALL) & (pl.col("region") == _stats.ALL))
        flows = self.attrition.filter(pl.col("stage") == "flows")
        total = int(flows["n"].sum() or 0)
        used = int(flows.filter(pl.col("bucket").is_in(["mover", "job_changer"]))["n"].sum() or 0)
        people = "; ".join(f"{f} {'suppressed' if n is None else f'{n:,}'}"
                           for f, n in national.group_by("flow", maintain_order=True)
                           .agg(pl.col("n").sum(), pl.col("n").null_count().alias("hidden"))
                           .select("flow", pl.when(pl.col("hidden") > 0).then(None).otherwise(pl.col("n")))
                           .iter_rows())
        hidden = int(r["suppressed"].sum() or 0)
        rows = [
            ("cells", f"{r.height:,} (year × flow × job group × region)"),
            ("years", S.span(r["year"].unique().to_list())),
            ("persons", people or "none"),
            ("kept", f"{used:,} of {total:,} person-years are movers or job-changers ({S.share(used, total)})"
             + (" (small counts hidden)" if flows["n"].null_count() else "") if total else "none"),
            ("regions", ", ".join(r["region"].unique(maintain_order=True).to_list())),
            ("disclosure", f"min n {self.min_n}; {hidden} of {r.height} cells suppressed" if self.min_n
             else "OFF: unsuppressed, not for export"),
        ]
        return "MobilityResult", rows, [".results", ".attrition", ".method"]

    def __repr__(self) -> str:
        from pendling import _summary as S

        return S.text(*self._summary())

    def _repr_html_(self) -> str:
        from pendling import _summary as S

        return S.html_table(*self._summary())


# ---------------------------------------------------------------------------------------------
# inputs


def _panel_source(panel: Any, years: Sequence[int] | None, zones: str = "municipality") -> tuple[
        tuple[pl.DataFrame, pl.DataFrame | None, list[str]], dict[str, Any]]:
    """((canonical frame, panel attrition or None, sources), the Panel's provenance or {}) from a
    Panel, a frame or a path (loaded with its grid cells only for a grid run)."""
    if isinstance(panel, (str, Path)):
        from pendling.panel import load_panel  # lazy: the panel package is optional for frame input

        wanted = None if years is None else sorted({y for t in years for y in (t - 1, t)})
        panel = load_panel(panel, years=wanted, zones=zones)
    if hasattr(panel, "year_frame"):  # a per-year store: only the years these flow years use
        panel = panel.select_years(panel.parts if years is None else {y for t in years for y in (t - 1, t)})
    if hasattr(panel, "frame"):
        return ((panel.frame, getattr(panel, "attrition", None), list(getattr(panel, "sources", []) or [])),
                dict(getattr(panel, "provenance", None) or {}))
    if isinstance(panel, pl.LazyFrame):
        return (panel.collect(), None, []), {}
    if isinstance(panel, pl.DataFrame):
        return (panel, None, []), {}
    raise InputError(
        f"cannot read a panel from a {type(panel).__name__}",
        hint="pass a pendling.panel.Panel, a canonical Polars frame, or the path of a register extract",
    )


def validate_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Check and cast a canonical person-year frame (columns and types of docs/architecture.md).

    ``home_addr`` may be absent (moves are then detected by municipality only); ``disco`` may be
    absent when a ``job_group`` column is given. Nulls in the key columns and duplicate (pnr, year)
    rows raise InputError: a flow cannot be defined for them. Returns the frame sorted by
    (pnr, year), which the flows rely on (a Panel's frame already is, and is not copied).
    """
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if "disco" not in frame.columns and "job_group" not in frame.columns:
        missing.append("disco")
    if missing:
        raise InputError(
            "the panel lacks canonical columns",
            column=", ".join(missing),
            values=frame.columns,
            hint="load register files with pendling.load_panel (it renames DST columns), or rename yours",
        )
    extra = [pl.lit(None, dtype=pl.Int64).alias("home_addr")] if "home_addr" not in frame.columns else []
    if "disco" not in frame.columns:
        extra.append(pl.lit(None, dtype=pl.Utf8).alias("disco"))
    frame = frame.with_columns(extra)
    casts = dict(_flows.PANEL_COLUMNS)
    if "job_group" in frame.columns:
        casts["job_group"] = pl.Utf8()
    for col in ("home_zone", "work_zone"):  # optional grid cells (used by --zones grid*): Int64 cell
        if col in frame.columns:  # codes as a Panel holds them, or DDKN id text (coded by a grid run)
            casts[col] = pl.Int64() if frame.schema[col].is_integer() else pl.Utf8()
    for col, dtype in casts.items():
        if frame.schema[col] != dtype:
            try:
                frame = frame.with_columns(pl.col(col).cast(dtype, strict=True))
            except pl.exceptions.PolarsError as exc:
                raise InputError(
                    f"column cannot be read as {dtype}", column=col, hint=f"fix the values ({exc.__class__.__name__})"
                ) from None
    nulls = {c: frame[c].null_count() for c in _REQUIRED if frame[c].null_count()}
    if nulls:
        raise InputError(
            "the panel has missing values in key columns",
            column=", ".join(nulls),
            values=[f"{c}: {k} rows" for c, k in nulls.items()],
            hint="load_panel drops and counts such rows; drop them (and count them) before compute",
        )
    frame = frame.select(*casts)
    if _strictly_sorted(frame):  # the usual case (Panel.frame is sorted by pnr, year): O(n), no hashing
        return frame
    _check_unique(frame)
    return frame.sort("pnr", "year")


def _strictly_sorted(frame: pl.DataFrame) -> bool:
    """True when rows are in strictly increasing (pnr, year) order, which also rules out duplicates."""
    # one Int64 key pnr·2^16 + year is cheaper to compare than two columns; it cannot overflow for
    # |pnr| < 2^46 (CPR numbers and DST's pseudonyms are far below), else compare the columns
    key = pl.col("pnr") * 65536 + pl.col("year").cast(pl.Int64)
    lo, hi, in_order = frame.select(
        pl.col("pnr").min().alias("lo"), pl.col("pnr").max().alias("hi"),
        (key.diff() > 0).fill_null(True).all().alias("in_order"),
    ).row(0)
    if lo is None or (-(2**46) < lo and hi < 2**46):
        return bool(in_order)
    d_pnr, d_year = pl.col("pnr").diff(), pl.col("year").cast(pl.Int32).diff()
    return frame.select(((d_pnr > 0) | ((d_pnr == 0) & (d_year > 0))).fill_null(True).all()).item()


def _check_unique(frame: pl.DataFrame) -> None:
    dups = frame.group_by("pnr", "year").len().filter(pl.col("len") > 1)
    if dups.height:
        raise InputError(
            "the panel has more than one row for some person-years",
            column="pnr, year",
            values=[f"pnr {p} year {y}" for p, y in dups.sort("pnr", "year").head(10).select("pnr", "year").rows()],
            hint="keep one row per pnr and year (e.g. the primary November job) before compute",
        )


def resolve_matrix(matrix: pl.DataFrame | str | Path | None) -> pl.DataFrame:
    """Long travel-time matrix (origin, destination Int16, minutes Float64); None → the shipped one."""
    if matrix is None or isinstance(matrix, (str, Path)):
        from pendling.odmatrix import load_matrix

        matrix = load_matrix(matrix, zero_diagonal=True)  # a 0 diagonal is counted (zero_time_before)
    missing = [c for c in ("origin", "destination", "minutes") if c not in matrix.columns]
    if missing:
        raise InputError("the travel-time matrix lacks columns", column=", ".join(missing), values=matrix.columns,
                         hint="use pendling.load_matrix() or a long frame origin, destination, minutes")
    # A frame passed in is not checked for completeness or positive times (those pairs are counted in
    # the flows' attrition), but its types are: a truncating cast would silently move people.
    m = pl.DataFrame([_matrix_code(matrix, "origin"), _matrix_code(matrix, "destination"),
                      _matrix_minutes(matrix)])
    dup = m.filter(pl.struct("origin", "destination").is_duplicated())
    if dup.height:
        raise InputError("the travel-time matrix has repeated origin-destination pairs", column="origin, destination",
                         values=dup.unique().rows()[:10], hint="keep one row per pair")
    return m


def _matrix_code(matrix: pl.DataFrame, col: str) -> pl.Series:
    """A matrix code column as Int16: integers, whole floats or digit text ('0101' → 101); else InputError."""
    s = matrix[col]
    if s.dtype == pl.String:
        value = s.str.strip_chars().cast(pl.Int64, strict=False)
    elif s.dtype.is_float():
        value = pl.select(pl.when(s.is_finite() & (s == s.floor())).then(s).cast(pl.Int64)).to_series()
    elif s.dtype.is_integer():
        value = s.cast(pl.Int64, strict=False)
    else:
        raise InputError(f"matrix column {col} has type {s.dtype}; expected municipality codes", column=col,
                         hint="use 3-digit municipality codes (101 København … 860 Hjørring) as numbers or text")
    bad = s.filter(value.is_null() | ~value.is_between(0, 32767))
    if len(bad):
        raise InputError(
            f"{len(bad):,} matrix {col} values are not municipality codes",
            column=col,
            values=sorted({str(v) for v in bad.to_list()}),
            hint="use 3-digit municipality codes (101 København … 860 Hjørring); '0101' is read as 101",
        )
    return value.cast(pl.Int16).alias(col)


def _matrix_minutes(matrix: pl.DataFrame) -> pl.Series:
    """Minutes as Float64; text must parse as numbers (nulls stay null and are counted in the flows)."""
    s = matrix["minutes"]
    if s.dtype == pl.String:
        value = s.str.strip_chars().cast(pl.Float64, strict=False)
        bad = s.filter(value.is_null() & s.is_not_null())
        if len(bad):
            raise InputError("matrix minutes that are not numbers", column="minutes",
                             values=sorted(set(bad.to_list())), hint="write minutes as numbers, e.g. 12.5")
        return value.alias("minutes")
    if not (s.dtype.is_numeric() or s.dtype == pl.Null):
        raise InputError(f"matrix column minutes has type {s.dtype}; expected numbers (minutes)", column="minutes")
    return s.cast(pl.Float64).alias("minutes")


def resolve_municipalities(municipalities: pl.DataFrame | None) -> pl.DataFrame:
    """code → region_code, kommunegruppe_code; None → :func:`pendling.geo.municipalities`."""
    if municipalities is None:
        from pendling.geo import municipalities as _municipalities

        municipalities = _municipalities()
    missing = [c for c in ("code", "region_code", "kommunegruppe_code") if c not in municipalities.columns]
    if missing:
        raise InputError("the municipality table lacks columns", column=", ".join(missing),
                         hint="use pendling.geo.municipalities()")
    out = municipalities.select(
        pl.col("code").cast(pl.Int16), pl.col("region_code").cast(pl.Int16),
        pl.col("kommunegruppe_code").cast(pl.Int8),
    )
    # every municipality must sit in one region and one kommunegruppe, else the region cells would
    # not add up to 'all' (and disclosure control relies on that)
    bad = out.filter(pl.any_horizontal(pl.all().is_null()) | pl.col("code").is_duplicated())
    if bad.height:
        raise InputError("the municipality table has missing or repeated codes, regions or kommunegrupper",
                         values=bad.rows(), hint="use pendling.geo.municipalities()")
    return out.sort("code")


def parse_years(text: str | int | Iterable[int] | None) -> list[int] | None:
    """'2021', '2015-2022', '2015,2017', 2021 or [2015, 2016] → sorted list of years; None stays None."""
    return _yearspec.parse_years(text)


def resolve_years(frame: pl.DataFrame | Iterable[int], years: Iterable[int] | int | str | None,
                  available: Iterable[int] | None = None) -> list[int]:
    """Years t to compute; each needs t and t-1 in the panel (a frame, or the years it holds).
    None → every year with a previous year. ``available``: the years the source holds (a panel
    loaded for some years only holds those), named in the error."""
    have = set(frame["year"].unique().drop_nulls().to_list() if isinstance(frame, pl.DataFrame) else frame)
    requested = parse_years(years)
    if requested is None:
        out = sorted(y for y in have if y - 1 in have)
        if not out:
            raise InputError("the panel has no two consecutive years, so no flows can be formed",
                             column="year", values=sorted(have), hint="load at least two consecutive years")
        return out
    bad = [y for y in requested if y not in have or y - 1 not in have]
    if bad:
        whole = sorted(set(available) | have) if available is not None else sorted(have)
        possible = _yearspec.flow_years(whole)
        raise InputError(
            f"flow year t compares November t-1 with November t, so it needs both years; the data hold "
            f"{_span(whole)}",
            column="year", values=bad,
            hint=(f"ask for flow years among {_span(possible)}" if possible
                  else "load at least two consecutive years"),
        )
    return requested


def _span(years: Sequence[int]) -> str:
    return _yearspec.span(years)


def years_label(years: Sequence[int]) -> str:
    """File-name label: '2021', '2015-2022' or '2015_2017_2020'."""
    return _span(sorted(years)).replace(",", "_")


# ---------------------------------------------------------------------------------------------
# the computation


def _check_definition(mover_definition: str) -> None:
    if mover_definition not in _flows.MOVER_DEFINITIONS:
        raise InputError("unknown mover definition", column="mover_definition", values=[mover_definition],
                         hint="use 'address' (any address change; default) or 'municipality'")


def _zone_times(frame: pl.DataFrame, zones: str, zone_times: pl.DataFrame | None, graph: Any
                ) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """(frame with cells at the resolution of ``zones``, zone-pair minutes) or (frame, None) for municipalities."""
    from pendling.mobility import zonetimes

    zonetimes.check_zones(zones)
    if zones == "municipality":  # cells play no part: leave them out of every later step
        return frame.drop("home_zone", "work_zone", strict=False), None
    frame = zonetimes.at_resolution(frame, zones)
    if zone_times is not None:
        return frame, zonetimes.check_zone_times(zone_times)
    return frame, zonetimes.route_pairs(frame, zones, graph=graph)


def _prepare(panel: Any, matrix: Any, years: Any, municipalities: Any, zones: str = "municipality"):
    requested = parse_years(years)
    (frame, panel_attrition, sources), provenance = _panel_source(panel, requested, zones)
    frame = validate_frame(frame)
    rows_per_year = frame.group_by("year").len()
    yrs = resolve_years(rows_per_year["year"].to_list(), requested, provenance.get("years_in_source"))
    needed = {y for t in yrs for y in (t - 1, t)}
    if set(rows_per_year["year"].to_list()) - needed:  # the flows pass over every row: drop the rest
        frame = frame.filter(pl.col("year").is_in(sorted(needed)))
    rows_per_year = rows_per_year.filter(pl.col("year").is_in(yrs))
    return (frame, panel_attrition, sources, yrs, resolve_matrix(matrix), resolve_municipalities(municipalities),
            rows_per_year, provenance)


def _job_group_assigner(mapping: Any):
    """Distinct t-1 DISCO codes → job group via ``pendling.panel.jobgroups`` (longest prefix)."""

    def assign(codes: pl.DataFrame) -> pl.DataFrame:
        from pendling.panel.jobgroups import assign_job_group

        return assign_job_group(codes, mapping)

    return assign


def flow_attrition(counts: pl.DataFrame, years: Sequence[int], zones: bool = False) -> pl.DataFrame:
    """Bucket counts → stage 'flows' attrition rows: every year × every bucket (zeros included;
    with ``zones`` also the grid buckets)."""
    buckets = {**_flows.BUCKETS, **_flows.ZONE_BUCKETS} if zones else _flows.BUCKETS
    grid = pl.DataFrame({"year": sorted(years)}, schema={"year": pl.Int16}).join(
        pl.DataFrame({"bucket": list(buckets), "description": list(buckets.values()),
                      "_order": range(len(buckets))}),
        how="cross",
    )
    unknown = set(counts["bucket"].to_list()) - set(buckets)
    if unknown:  # a bucket the SQL can emit must be described; fail loudly rather than drop rows
        raise RuntimeError(f"unlisted transition buckets: {sorted(unknown)}")
    return (
        grid.join(counts.with_columns(pl.col("year").cast(pl.Int16)), on=["year", "bucket"], how="left")
        .with_columns(pl.col("n").fill_null(0).cast(pl.Int64), pl.lit("flows").alias("stage"))
        .sort("year", "_order")
        .select(*ATTRITION_SCHEMA)
    )


def _check_flow_totals(rows_per_year: pl.DataFrame, counts: pl.DataFrame) -> None:
    """Every person-year of the requested years must sit in exactly one bucket."""
    rows = rows_per_year.sort("year")
    got = counts.group_by("year").agg(pl.col("n").sum()).sort("year")
    if rows["len"].to_list() != got["n"].to_list():  # a bug, never bad input: stop loudly
        raise RuntimeError(f"flow buckets do not add up to the person-years: {rows.rows()} vs {got.rows()}")


def _combine_attrition(panel_attrition: pl.DataFrame | None, flows: pl.DataFrame) -> pl.DataFrame:
    if panel_attrition is None or panel_attrition.is_empty():
        return flows
    p = panel_attrition.with_columns(
        pl.col(c).cast(dt) for c, dt in ATTRITION_SCHEMA.items() if c in panel_attrition.columns
    )
    return pl.concat([p, flows], how="diagonal_relaxed")


def run(
    panel: Any,
    matrix: pl.DataFrame | str | Path | None = None,
    years: Iterable[int] | int | str | None = None,
    by: str | Iterable[str] | None = None,
    min_n: int = _disc.DEFAULT_MIN_N,
    disclosure: bool = True,
    *,
    mover_definition: _flows.MoverDefinition = "address",
    municipalities: pl.DataFrame | None = None,
    job_group_mapping: Any = None,
    median_min_n: int = _disc.MEDIAN_MIN_N,
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_directory: str | Path | None = None,
    method: str = "default",
    zones: str = "municipality",
    zone_times: pl.DataFrame | None = None,
    graph: Any = None,
) -> MobilityResult:
    """Results, attrition and method notes; see :func:`compute` for the parameters.

    Given a path (or a :class:`pendling.panel.stream.StoredPanel`) and municipality zones, the panel is
    validated and kept year by year and the flows are computed one flow year t at a time from years
    t-1 and t only (:func:`_run_by_year`): memory then depends on two years, not on the span, and
    every cell, count and flag is the same as from the whole panel in memory.
    """
    _check_definition(mover_definition)
    matrix, matrix_label = _apply_method(method, matrix, mover_definition)
    by_t = _stats.normalize_by(by)
    min_n = _disc.check_min_n(min_n)
    limits = Limits.checked(memory_limit, threads, temp_directory)
    zt = None
    opened = None
    if isinstance(panel, (str, Path)) and zones == "municipality":
        from pendling.panel.stream import open_years

        requested = parse_years(years)
        wanted = None if requested is None else sorted({y for t in requested for y in (t - 1, t)})
        panel = opened = open_years(panel, years=wanted)
    try:
        if hasattr(panel, "year_frame") and zones == "municipality":
            sums, counts, yrs, panel_attrition, sources, fallback = _run_by_year(
                panel, matrix, years, municipalities, mover_definition, by_t, job_group_mapping, limits)
        else:
            if hasattr(panel, "year_frame"):  # grid zones route the cell pairs of the whole panel at once
                panel = panel.select_years(panel.parts)
            frame, panel_attrition, sources, yrs, mat, munis, rows_per_year, provenance = _prepare(
                panel, matrix, years, municipalities, zones)
            frame, zt = _zone_times(frame, zones, zone_times, graph)
            fallback = mover_fallback(frame, provenance, mover_definition)
            sums, counts = _flows.cells_and_attrition(frame, mat, munis, yrs, mover_definition, by_t,
                                                      _job_group_assigner(job_group_mapping), limits=limits,
                                                      zone_times=zt)
            del frame
            _check_flow_totals(rows_per_year, counts)
    finally:
        if opened is not None and hasattr(opened, "close"):
            opened.close()
    cells = _stats.cells_from_sums(sums, _flows.R_SCALE, _flows.M_SCALE)
    results = _stats.full_grid(cells, yrs, by_t)
    attrition = _combine_attrition(panel_attrition, flow_attrition(counts, yrs, zones=zt is not None))
    if disclosure:
        results = _disc.apply_disclosure(results, min_n, median_min_n=median_min_n)
        # A flow's bucket count is the sum of its national cells: job group 'all' plus the nuisance
        # groups outside that total. Hide it where any of them is hidden (else subtraction reveals
        # it), and never let it be the complement that hides another count when all are published.
        bucket_of = {"movers": "mover", "job_changers": "job_changer"}
        national = (
            results.filter(pl.col("region") == _stats.ALL)
            .filter(pl.col("job_group").is_in([_stats.ALL, *_stats.NUISANCE_GROUPS]))
            .group_by("year", "flow").agg(pl.col("suppressed").any())
        )

        def flows_rows(cells: pl.DataFrame) -> pl.Expr:
            keys = cells.select("year", pl.col("flow").cast(pl.Utf8).replace_strict(bucket_of).alias("bucket"))
            return pl.struct("year", "bucket").is_in(keys.to_struct().implode()) & (pl.col("stage") == "flows")

        attrition = _disc.protect_attrition(
            attrition, min_n, force=flows_rows(national.filter(pl.col("suppressed"))),
            public=flows_rows(national.filter(~pl.col("suppressed"))),
        )
    else:
        results = results.with_columns(pl.lit(None, dtype=pl.Utf8).alias("suppression"))
        attrition = attrition.with_columns(pl.lit(False).alias("suppressed"),
                                           pl.lit(None, dtype=pl.Utf8).alias("suppression"))
    notes = method_notes(yrs, by_t, min_n if disclosure else None, mover_definition, median_min_n,
                         matrix_label, sources, fallback=fallback_note(fallback, min_n if disclosure else None),
                         method=method, zones=zones)
    return MobilityResult(results, attrition, notes, min_n if disclosure else None)


def _run_by_year(stored: Any, matrix: Any, years: Any, municipalities: Any, mover_definition: str,
                 by: Sequence[str], job_group_mapping: Any, limits: Limits):
    """(cell sums, bucket counts, flow years, panel attrition, sources, fallback counts) of a
    :class:`pendling.panel.stream.StoredPanel`, one flow year at a time.

    Every cell has a year, and flow year t uses only the rows of t-1 and t, so the sums of year t
    from a frame holding just those two years are the same integers as from the whole panel; the
    bucket counts likewise. Only the previous year's rows are kept from one step to the next.
    """
    requested = parse_years(years)
    yrs = resolve_years(stored.years, requested, stored.provenance.get("years_in_source"))
    mat, munis = resolve_matrix(matrix), resolve_municipalities(municipalities)
    assign = _job_group_assigner(job_group_mapping)
    sums: list[tuple] = []
    counts = []
    previous: tuple[int, pl.DataFrame] | None = None
    # One year read ahead: year t+1 is read (Parquet/IPC decoding releases the GIL) on a second
    # thread while flow year t is computed, so at most three years' rows are held at once.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pendling-prefetch") as pool, \
            connect(limits) as con:
        con.execute("SET preserve_insertion_order = false")  # irrelevant to the sums; costs memory
        ahead: tuple[int, Future] | None = None
        for i, t in enumerate(yrs):
            if previous is not None and previous[0] == t - 1:
                before = previous[1]
            elif ahead is not None and ahead[0] == t - 1:
                before = ahead[1].result()
            else:
                before = stored.year_frame(t - 1)
            after = ahead[1].result() if ahead is not None and ahead[0] == t else stored.year_frame(t)
            ahead = None
            if i + 1 < len(yrs):
                nxt = yrs[i + 1]
                first = nxt - 1 if nxt - 1 != t else nxt  # a gap in the years: t+1's own t-1 comes first
                ahead = (first, pool.submit(stored.year_frame, first))
            stored.check_keys([t - 1, t])
            # each year is stored sorted by pnr with one row per person: t finds t-1 by binary search
            s, c = _flows.cells_and_attrition_pair(before, after, mat, munis, mover_definition, by, assign,
                                                   limits=limits, con=con)
            del before
            sums += s
            counts.append(c)
            previous = (t, after)
        if ahead is not None:
            ahead[1].result()
    del previous
    counts_all = pl.concat(counts)
    rows_per_year = pl.DataFrame({"year": yrs, "len": [stored.parts[t].kept for t in yrs]})
    _check_flow_totals(rows_per_year, counts_all)
    fallback: dict[str, int] = {}
    if mover_definition == "address":
        person_years, missing = stored.fallback_counts({y for t in yrs for y in (t - 1, t)})
        fallback = {"person_years": person_years, "missing": missing,
                    "unreadable": int((stored.provenance.get("unreadable_values") or {}).get("home_addr", 0))}
    return sums, counts_all, yrs, stored.attrition, list(stored.sources), fallback


def _apply_method(method: str, matrix: Any, mover_definition: str) -> tuple[Any, Any]:
    """(matrix to run on, what the method notes call it) for a preset ('report': the zero-diagonal
    variant of ``matrix``, written once to the user cache; see :mod:`pendling.mobility.variants`)."""
    from pendling.mobility import variants

    variants.check_method(method)
    if method == "default":
        return matrix, matrix
    if mover_definition != variants.REPORT_PRESET["mover_definition"]:
        raise InputError("the 'report' method fixes the mover definition", column="mover_definition",
                         values=[mover_definition], hint="leave --mover-definition out with --method report")
    path = variants.variant_matrix_path(variants.REPORT_PRESET["internal"], matrix)
    return pl.read_parquet(path), path


def compute(
    panel: Any,
    matrix: pl.DataFrame | str | Path | None = None,
    years: Iterable[int] | int | str | None = None,
    by: str | Iterable[str] | None = None,
    min_n: int = _disc.DEFAULT_MIN_N,
    disclosure: bool = True,
    *,
    mover_definition: _flows.MoverDefinition = "address",
    municipalities: pl.DataFrame | None = None,
    job_group_mapping: Any = None,
    median_min_n: int = _disc.MEDIAN_MIN_N,
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_directory: str | Path | None = None,
    method: str = "default",
    zones: str = "municipality",
    zone_times: pl.DataFrame | None = None,
    graph: Any = None,
) -> pl.DataFrame:
    """Relative change in commute time of movers and job-changers, per year × flow × job group × region.

    Parameters
    ----------
    panel : a ``pendling.panel.Panel``, a canonical person-year Polars frame (optionally with a
        ``job_group`` column, which is then used as given), or a path for ``pendling.load_panel``.
    matrix : long travel-time matrix (origin, destination, minutes) or its path; None = shipped matrix.
    years : flow years t (each uses t-1 → t): 2021, [2015, 2016], '2015-2022'; None = all possible.
    by : None (hovedstaden/rest/all), 'region' (adds the 5 regions), 'kommunegruppe' (adds the 5 DST
        kommunegrupper), or both.
    min_n : minimum cell size for disclosure control (default 5, at least 3).
    disclosure : False returns unsuppressed statistics (not for export from DST servers).
    mover_definition : 'address' (any address change; moves inside a municipality have r = 0) or
        'municipality' (only a change of home municipality is a move).
    municipalities : code → region_code, kommunegruppe_code; None = ``pendling.geo.municipalities()``.
    job_group_mapping : passed to ``pendling.panel.jobgroups.assign_job_group`` (None = shipped mapping).
    median_min_n : smallest n with a published median (disclosure rule).
    memory_limit : DuckDB memory limit such as '2GB' (None = DuckDB's default, 80 % of RAM) for the
        cell sums and medians; beyond it DuckDB spills to disk, and if that is not enough an
        InputError says what to change. The pairing and classification run in Polars, unbounded.
    threads : DuckDB threads (None = all cores). Polars' pool is fixed at import: set the environment
        variable POLARS_MAX_THREADS before importing polars (the CLI does this for --threads).
    temp_directory : folder for DuckDB's spill files (a private sub-folder is made and removed);
        None = the system temp folder (TMPDIR). See :mod:`pendling.mobility.limits`.
    method : 'default' (the call's settings) or 'report', the closest reading of the report's
        Faktaboks 3.1: ``matrix`` (None = shipped) with a zero diagonal, cached in the user cache
        (persons with an earlier time of 0 go to the attrition bucket ``<flow>_zero_time_before``),
        address movers; its headline estimator is ``mean_rel_change``. See docs/method_report.md.
    zones : 'municipality' (default: T from ``matrix``) or 'grid100m' / 'grid1km' / 'grid10km': T
        between the panel's ``home_zone`` and ``work_zone`` DDKN cells (finer cells are coarsened to the
        resolution asked for), the distinct pairs routed once with :func:`pendling.routing.pair_times`
        (cached). A change of home cell is a move; see :mod:`pendling.mobility.flows` for the grid rules
        and :mod:`pendling.mobility.zonetimes`. Unroutable cell pairs are counted
        (``<flow>_unroutable_zone``). Grid r has heavier tails when the earlier commute is short: read the
        mean beside ``ratio_of_means``, the median and ``geo_mean_rel_change``.
    zone_times : a zone-pair table (origin, destination, minutes) to use instead of routing.
    graph : the road graph for routing grid pairs (None = the stored graph).

    Returns
    -------
    One row per cell, sorted by year, flow (movers, job_changers), job group (digital, office,
    physical_social, unclassified, …, all) and region (hovedstaden, rest, all, then ``by`` groups).
    Columns: year, flow, job_group, region, n, mean_rel_change, ratio_of_means, ci_low, ci_high,
    suppressed, then mean_minutes_before/after (minutes), median_rel_change, mean_log_ratio,
    geo_mean_rel_change, share_longer, share_shorter, sd_rel_change, ratio_ci_low, ratio_ci_high,
    suppression. Relative changes are fractions (0.11 = 11 %). See :mod:`pendling.mobility.stats`.
    """
    return run(panel, matrix, years, by, min_n, disclosure, mover_definition=mover_definition,
               municipalities=municipalities, job_group_mapping=job_group_mapping,
               median_min_n=median_min_n, memory_limit=memory_limit, threads=threads,
               temp_directory=temp_directory, method=method, zones=zones, zone_times=zone_times,
               graph=graph).results


def transitions(
    panel: Any,
    matrix: pl.DataFrame | str | Path | None = None,
    years: Iterable[int] | int | str | None = None,
    *,
    mover_definition: _flows.MoverDefinition = "address",
    municipalities: pl.DataFrame | None = None,
    job_group_mapping: Any = None,
    zones: str = "municipality",
    zone_times: pl.DataFrame | None = None,
    graph: Any = None,
) -> pl.DataFrame:
    """Every person-year t of ``years`` with its bucket, t-1 and t values and commute minutes.

    Microdata (one row per pnr and year): for analysis on the research server, never for export.
    Columns: pnr, year, bucket, has_previous, home_before/after, addr_before/after, work_id_before/
    after, work_before/after (municipality codes), disco_before, job_group_before, region_code,
    kommunegruppe_code (of the home at t-1), minutes_before/after (minutes), rel_change (fraction,
    movers and job-changers only), flow. Sorted by year, pnr. ``job_group_before`` is the panel's
    own ``job_group`` at t-1 if it has one, else DISCO-08 at t-1 mapped with ``job_group_mapping``.
    """
    _check_definition(mover_definition)
    frame, _, _, yrs, mat, munis, _, _ = _prepare(panel, matrix, years, municipalities, zones)
    frame, zt = _zone_times(frame, zones, zone_times, graph)
    out = _flows.transitions_frame(frame, mat, munis, yrs, mover_definition, zone_times=zt)
    if "job_group" in frame.columns:
        return out
    from pendling.panel.jobgroups import assign_job_group

    mapped = assign_job_group(out.select("disco_before"), job_group_mapping, disco_column="disco_before")
    known = pl.col("has_previous")  # no t-1 row, no t-1 job group
    return out.with_columns(pl.when(known).then(mapped["job_group"]).alias("job_group_before"))


def attrition(
    panel: Any,
    matrix: pl.DataFrame | str | Path | None = None,
    years: Iterable[int] | int | str | None = None,
    *,
    mover_definition: _flows.MoverDefinition = "address",
    municipalities: pl.DataFrame | None = None,
    min_n: int = _disc.DEFAULT_MIN_N,
    disclosure: bool = True,
    zones: str = "municipality",
    zone_times: pl.DataFrame | None = None,
    graph: Any = None,
) -> pl.DataFrame:
    """Attrition of stages 'panel' (from the Panel, if given) and 'flows' (every person-year of ``years``).

    For stage 'flows' the n of a year sum to the panel's person-years in that year. With
    ``disclosure`` small counts are suppressed (:func:`pendling.mobility.disclosure.protect_attrition`).
    """
    _check_definition(mover_definition)
    frame, panel_attrition, _, yrs, mat, munis, rows_per_year, _ = _prepare(panel, matrix, years, municipalities, zones)
    frame, zt = _zone_times(frame, zones, zone_times, graph)
    _, counts = _flows.cells_and_attrition(frame, mat, munis, yrs, mover_definition, cells=False, zone_times=zt)
    _check_flow_totals(rows_per_year, counts)
    out = _combine_attrition(panel_attrition, flow_attrition(counts, yrs, zones=zt is not None))
    if disclosure:
        return _disc.protect_attrition(out, min_n)
    return out.with_columns(pl.lit(False).alias("suppressed"), pl.lit(None, dtype=pl.Utf8).alias("suppression"))


def mover_fallback(frame: pl.DataFrame, provenance: dict[str, Any], mover_definition: str) -> dict[str, int]:
    """How many person-years fall back from address moves to municipality moves (no ADRESSE_ID).

    ``{'person_years': rows of ``frame``, 'missing': rows without home_addr, 'unreadable': ADRESSE_ID
    values a lenient load read as missing (all loaded years)}``; empty under the municipality
    definition, which does not use addresses.
    """
    if mover_definition != "address":
        return {}
    return {"person_years": frame.height, "missing": frame["home_addr"].null_count(),
            "unreadable": int((provenance.get("unreadable_values") or {}).get("home_addr", 0))}


def fallback_note(fallback: dict[str, int], min_n: int | None) -> str | None:
    """The method note for :func:`mover_fallback` (None when every person-year has an address).

    With disclosure control, counts below ``min_n`` are given as 'fewer than min_n'.
    """
    if not fallback or not fallback["missing"]:
        return None

    def count(k: int) -> str:
        return f"fewer than {min_n}" if min_n is not None and 0 < k < min_n else f"{k:,}"

    text = (f"ADRESSE_ID is missing for {count(fallback['missing'])} of {count(fallback['person_years'])} "
            "person-years: for them a move is a change of home municipality (KOM) only, so moves within a "
            "municipality are not seen")
    if fallback["unreadable"]:
        text += (f"; {count(fallback['unreadable'])} ADRESSE_ID values were not whole numbers and were read as "
                 "missing by lenient reading (--lenient, strict=False)")
    return text


def method_notes(years: Sequence[int], by: Sequence[str], min_n: int | None, mover_definition: str,
                 median_min_n: int, matrix: Any, sources: Sequence[str], *,
                 fallback: str | None = None, method: str = "default", zones: str = "municipality") -> pl.DataFrame:
    """Key/value notes describing a run (written beside the results; no timestamps, so reruns match).

    ``fallback``: the :func:`fallback_note` text, recorded as 'mover_definition_fallback' (a
    WARNING: the definition of a mover changed for some person-years). ``method``: the preset that ran."""
    from pendling import __version__
    from pendling.mobility.variants import METHODS

    matrix_text = "shipped matrix (pendling.load_matrix())" if matrix is None else (
        str(matrix) if isinstance(matrix, (str, Path)) else "matrix frame passed in by the caller")
    notes = [
        ("pendling_version", __version__),
        ("method", f"{method}: {METHODS[method]}"),
        ("years", f"{_span(list(years))} (flow year t compares November t-1 with November t)"),
        ("movers", "residence changed, same workplace (LBNR, work_id != 0) and same workplace municipality"),
        ("job_changers", "workplace (LBNR) changed, neither LBNR is 0, residence unchanged"),
        ("mover_definition", {
            "address": "address: ADRESSE_ID differs where known in both years, else the municipality differs; "
                       "moves inside a municipality are movers with r = 0",
            "municipality": "municipality: only a change of home municipality (KOM) is a move",
        }[mover_definition]),
        *([("mover_definition_fallback", f"WARNING: {fallback}")] if fallback else []),
        ("excluded", "same LBNR with another workplace municipality (workplace_relocated), LBNR = 0 in either "
                     "year (fictive_workplace), the same ADRESSE_ID under another home municipality "
                     "(address_conflict), both changed, unknown municipality or travel time: counted in "
                     "the attrition table, stage 'flows'"),
        ("commute_time", "T = matrix[home municipality, workplace municipality], car minutes; the diagonal is "
                         "the within-municipality time"
                         + ("; here 0 (zero-diagonal matrix): persons with T_(t-1) = 0 are counted as "
                            "zero_time_before and never averaged, T_t = 0 gives r = -1" if method == "report" else "")),
        ("rel_change", "r = T_t / T_(t-1) - 1, a fraction (0.11 = 11 %)"),
        ("job_group", "from DISCO-08 at t-1 (longest-prefix mapping; unknown codes -> unclassified); job group "
                      "'all' = the classified groups (digital + office + physical_social); unclassified has rows "
                      "of its own outside 'all', so its small cells never force a headline cell out"),
        ("region", "of the home municipality at t-1: hovedstaden = Region Hovedstaden (region code 1084), "
                   "rest = the other four regions, all = Denmark"
                   + ("; by region adds nordjylland, midtjylland, syddanmark, hovedstaden and sjaelland (region "
                      "codes 1081-1085)" if "region" in by else "")
                   + ("; by kommunegruppe adds DST's kommunegrupper v1:2018 (hovedstadskommuner, storbykommuner, "
                      "provinsbykommuner, oplandskommuner, landkommuner)" if "kommunegruppe" in by else "")),
        ("mean_rel_change", "mean of the individual r (the report's measure)"),
        ("ratio_of_means", "sum T_t / sum T_(t-1) - 1; ratio_ci_low/high: delta-method 95 % interval"),
        ("ci_low/ci_high", "95 % t-interval of mean_rel_change: mean +- t(0.975, n-1) * sd / sqrt(n)"),
        ("geo_mean_rel_change", "exp(mean of ln(T_t / T_(t-1))) - 1; mean_log_ratio is the mean log itself"),
        ("share_longer/share_shorter", "share of the cell with r > 0 / r < 0"),
        ("disclosure", _disc.disclosure_note(min_n, median_min_n)),
        ("matrix", matrix_text if zones == "municipality" else
         f"{matrix_text}: used only to check the municipality codes (times come from the {zones} cells)"),
        *([] if zones == "municipality" else [("zones",
         f"{zones}: T = car minutes between the DDKN cells of home and workplace (pendling.pair_times on the "
         "stored road graph; access legs at both ends; the within-cell time for the same cell). A change of home "
         "cell is a move; the same LBNR in another cell is workplace_relocated. Grid r has heavier tails than "
         "municipality r when the earlier commute is short (a few minutes inside a town): compare the mean with "
         "ratio_of_means, the median and geo_mean_rel_change")]),
        ("panel_sources", "; ".join(map(str, sources)) if sources else "frame passed in by the caller"),
    ]
    return pl.DataFrame(notes, schema={"key": pl.Utf8, "value": pl.Utf8}, orient="row")

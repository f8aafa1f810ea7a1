"""Realism report: how a synthetic extract compares with what DST publishes (``pendling synth --report``).

Each metric comes with the target band from ``data/reference/synth/realism_targets.csv`` (source
named there). Cross-sectional metrics use one year (default: the last); transition metrics (moves,
job changes, exits, workplace persistence) average over all consecutive year pairs. Distances are
the matrix km between the home and workplace municipalities (km); shares are fractions. The
municipal minimum and maximum of mean km only count municipalities with at least
:data:`MIN_PERSONS_FOR_EXTREMES` residents in the extract.

Grid level (extracts written with ``pendling synth --zones grid1km``, which carry the home and work
cells ``BOP_DDKN`` / ``ARB_DDKN``): :func:`grid_commutes` gives every counted person the road km between
its home cell and work cell (each distinct cell pair routed once by :func:`routed_km`, the cached pair
engine of :mod:`pendling.routing.pairs`; a pair inside one cell gets the cell's within-zone km). The
persons counted are the municipality-level report's (both municipalities known, 411 read as 400, one
row per person), weighted one each like AFSTB4, which is a mean over employed persons by residence of
the road distance from home address to workplace address. Fictive workplaces (LBNR 0) are counted: they
have a workplace municipality and DST computes a distance for nearly all employed (AFSTB3's 'Ikke
beregnet' column is about 0.1 % of them). A row without a cell, or whose cell pair has no road route,
is excluded and counted in ``excluded``. The grid figures, per year against the same year's AFSTB4,
are :func:`grid_yearly`; the report year's enter :func:`measure` as ``grid_national_mean_km_ratio``
(synthetic national mean ÷ AFSTB4 national mean) and ``grid_municipal_mean_km_correlation``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from pendling import geo
from pendling.errors import InputError
from pendling.panel.jobgroups import assign_job_group
from pendling.synth.calibration import afstb4_commute_km, afstb4_national_km, municipality_targets, realism_targets
from pendling.synth.cells import HOME_COLUMN as HOME_CELL
from pendling.synth.cells import WORK_COLUMN as WORK_CELL

DISCO = "DISCO08_ALLE_INDK_13"
GRID_ZONES = "grid1km"
# distinct (origin, destination) cell pairs -> the same rows plus ``km`` (Float64, road km; null: not routable)
PairKm = Callable[[pl.DataFrame], pl.DataFrame]
ProgressFn = Callable[[int, int], None]
MIN_PERSONS_FOR_EXTREMES = 100  # residents; smaller municipalities' mean km is mostly sampling noise
_SUFFIXES = (".parquet", ".csv", ".dta", ".xpt")
REPORT_SCHEMA: dict[str, pl.DataType] = {
    "metric": pl.String(),
    "value": pl.Float64(),
    "target": pl.Float64(),
    "low": pl.Float64(),
    "high": pl.Float64(),
    "ok": pl.Boolean(),
    "unit": pl.String(),
    "source": pl.String(),
}


def extract_files(directory: str | Path) -> dict[int, Path]:
    """``{year: path}`` of the ``ras<year>.<ext>`` files in ``directory`` (one format; Parquet first)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError("not a directory", file=directory, hint="give the --out directory of `pendling synth`")
    found: dict[int, Path] = {}
    for suffix in _SUFFIXES:
        for path in sorted(directory.glob(f"ras*{suffix}")):
            m = re.fullmatch(r"ras(\d{4})", path.stem)
            if m and int(m.group(1)) not in found:
                found[int(m.group(1))] = path
    if not found:
        raise InputError("no synthetic extract files (ras<year>.parquet/csv/dta/xpt) found", file=directory)
    return dict(sorted(found.items()))


def read_year(path: Path) -> pl.DataFrame:
    """One extract file in DST names, typed like the generator writes it (DISCO as text)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        df = pl.read_parquet(path)
    elif suffix == ".csv":
        df = pl.read_csv(path, schema_overrides={DISCO: pl.String})
    else:
        import pyreadstat

        reader = pyreadstat.read_dta if suffix == ".dta" else pyreadstat.read_xport
        df = reader(str(path), output_format="polars")[0]
    cells = [c for c in (HOME_CELL, WORK_CELL) if c in df.columns]
    return df.select(
        pl.col("PNR").cast(pl.Int64),
        pl.col("KOM").cast(pl.Int16),
        pl.col("ADRESSE_ID").cast(pl.Int64),
        pl.col("LBNR").cast(pl.Int64),
        pl.col("ARBKOM").cast(pl.Int16),
        pl.col(DISCO).cast(pl.String).replace("", None),
        # cell ids as written (text ids such as 1km_6170_720); an empty text id is a missing cell
        *((pl.col(c).replace("", None) if df.schema[c] == pl.String else pl.col(c)) for c in cells),
    )


def _clean(df: pl.DataFrame, codes: pl.Series) -> pl.DataFrame:
    """Aliases applied (411 → 400), rows with unknown municipalities and duplicate person rows dropped."""
    return (
        df.with_columns(pl.col("KOM", "ARBKOM").replace(411, 400))
        .filter(pl.col("KOM").is_in(codes.implode()) & pl.col("ARBKOM").is_in(codes.implode()))
        .unique(subset="PNR", keep="first", maintain_order=True)
    )


def _shares(counts: pl.DataFrame, col: str, targets: pl.DataFrame, target_col: str) -> tuple[float, float]:
    j = targets.select(pl.col("code"), (pl.col(target_col) / pl.col(target_col).sum()).alias("t")).join(
        counts.rename({col: "code"}), on="code", how="left"
    ).with_columns(pl.col("share").fill_null(0.0))
    return float(np.corrcoef(j["share"], j["t"])[0, 1]), float((j["share"] - j["t"]).abs().max())


def resolve_year(directory: str | Path, year: int | None = None) -> int:
    """The year the cross-sectional figures use: ``year`` if given, else the extract's last year."""
    files = extract_files(directory)
    if year is None:
        return max(files)
    if year not in files:
        raise InputError("no extract for that year", file=directory, values=[year], hint=f"years: {list(files)}")
    return year


def has_cells(directory: str | Path) -> bool:
    """Whether the extract's files carry the home and work cell columns (``synth --zones grid1km``)."""
    files = extract_files(directory)
    path = files[max(files)]
    if path.suffix.lower() == ".parquet":
        names = pl.read_parquet_schema(path).keys()
    elif path.suffix.lower() == ".csv":
        names = pl.read_csv(path, n_rows=0).columns
    else:
        names = read_year(path).columns
    return HOME_CELL in names and WORK_CELL in names


def routed_km(progress: ProgressFn | None = None) -> PairKm:
    """The default :data:`PairKm`: road km of the fastest route between 1 km cells
    (:func:`pendling.routing.pairs.pair_times`, CH engine, results cached per graph)."""

    def km(pairs: pl.DataFrame) -> pl.DataFrame:
        from pendling.routing.pairs import pair_times

        return pair_times(pairs, GRID_ZONES, on_invalid="null", progress=progress).select(
            "origin", "destination", "km")

    return km


def grid_commutes(
    directory: str | Path,
    matrix: pl.DataFrame | None = None,
    pair_km: PairKm | None = None,
    progress: ProgressFn | None = None,
) -> pl.DataFrame:
    """Per ``year`` (Int16) × residence municipality ``KOM`` (Int16): ``persons`` (rows counted, see the
    module docstring), ``excluded`` (of those, rows without a cell or a routable cell pair),
    ``cross_border`` (persons working outside KOM), ``km_matrix_sum`` (matrix km of all ``persons``) and
    ``km_grid_sum`` (road km between home and work cell of the ``persons - excluded`` rows), km; the same
    for the persons working in KOM: ``within``, ``km_matrix_within_sum``, ``km_grid_within_sum`` (km).

    ``pair_km``: the cell-pair km source (default :func:`routed_km` with ``progress``); it is called once
    with the distinct pairs of all years.
    """
    if matrix is None:
        from pendling.odmatrix import load_matrix

        matrix = load_matrix()
    if not has_cells(directory):
        raise InputError(
            "the extract has no cell columns", file=directory, column=f"{HOME_CELL}, {WORK_CELL}",
            hint="write it with `pendling synth --zones grid1km`, or report at municipality level (--zones municipality)")
    pair_km = pair_km or routed_km(progress)
    codes = matrix["origin"].unique()
    km = matrix.select(pl.col("origin").alias("KOM"), pl.col("destination").alias("ARBKOM"), "km")
    rows = pl.concat([
        _clean(read_year(path), codes).join(km, on=["KOM", "ARBKOM"], how="left").select(
            pl.lit(y, pl.Int16).alias("year"), "KOM", "ARBKOM", "km",
            pl.col(HOME_CELL).alias("origin"), pl.col(WORK_CELL).alias("destination"))
        for y, path in extract_files(directory).items()
    ])
    pairs = rows.select("origin", "destination").drop_nulls().unique().sort("origin", "destination")
    got = pair_km(pairs)
    missing = {"origin", "destination", "km"} - set(got.columns)
    if missing:
        raise InputError("the cell-pair km source returned no km", column=", ".join(sorted(missing)),
                         hint="return origin, destination, km (road km) for every pair given")
    got = got.select(pl.col("origin").cast(rows.schema["origin"]), pl.col("destination").cast(rows.schema["destination"]),
                     pl.col("km").cast(pl.Float64).alias("km_grid")).unique(subset=["origin", "destination"])
    if pairs.height and got["km_grid"].null_count() == got.height:
        raise InputError("no home-work cell pair of the extract could be routed", file=directory,
                         column=f"{HOME_CELL}, {WORK_CELL}", values=pairs.head(3).rows(),
                         hint="check that the cell ids are ids of the 1 km grid (pendling.zones)")
    rows = rows.join(got, on=["origin", "destination"], how="left")
    return rows.group_by("year", "KOM").agg(
        pl.len().cast(pl.Int64).alias("persons"),
        pl.col("km_grid").is_null().sum().cast(pl.Int64).alias("excluded"),
        (pl.col("KOM") != pl.col("ARBKOM")).sum().cast(pl.Int64).alias("cross_border"),
        pl.col("km").sum().alias("km_matrix_sum"),
        pl.col("km_grid").sum().alias("km_grid_sum"),
        (pl.col("KOM") == pl.col("ARBKOM")).sum().cast(pl.Int64).alias("within"),
        pl.col("km").filter(pl.col("KOM") == pl.col("ARBKOM")).sum().alias("km_matrix_within_sum"),
        pl.col("km_grid").filter(pl.col("KOM") == pl.col("ARBKOM")).sum().alias("km_grid_within_sum"),
    ).sort("year", "KOM")


def grid_yearly(grid: pl.DataFrame) -> pl.DataFrame:
    """Per year from :func:`grid_commutes`, matrix and grid side by side against the same year's AFSTB4:
    ``persons``, ``excluded``, ``cross_border_share``; ``dst_national_km`` (km);
    ``matrix_national_km`` / ``grid_national_km`` (person-weighted means, km) and their ratios to DST
    (``matrix_ratio``, ``grid_ratio``); ``matrix_correlation`` / ``grid_correlation`` (Pearson r of the
    per-municipality means with AFSTB4 by residence municipality); ``grid_ok`` (both grid figures inside
    the bands of ``grid_national_mean_km_ratio`` and ``grid_municipal_mean_km_correlation``)."""
    by = grid_municipal(grid)
    bands = {t["metric"]: (t["low"], t["high"]) for t in realism_targets().iter_rows(named=True)}
    corr = []
    for (y,), g in by.filter(pl.col("afstb4_km").is_not_null()).group_by("year", maintain_order=True):
        r = {"year": y}
        for level in ("matrix", "grid"):
            r[f"{level}_correlation"] = (float(np.corrcoef(g[f"{level}_km"], g["afstb4_km"])[0, 1])
                                         if g.height > 1 else float("nan"))
        corr.append(r)
    out = grid.group_by("year").agg(pl.col("persons", "excluded", "cross_border", "km_matrix_sum", "km_grid_sum").sum()).select(
        "year", "persons", "excluded",
        (pl.col("cross_border") / pl.col("persons")).alias("cross_border_share"),
        (pl.col("km_matrix_sum") / pl.col("persons")).alias("matrix_national_km"),
        (pl.col("km_grid_sum") / (pl.col("persons") - pl.col("excluded"))).alias("grid_national_km"),
    ).join(pl.DataFrame(corr, schema={"year": pl.Int16, "matrix_correlation": pl.Float64,
                                      "grid_correlation": pl.Float64}), on="year", how="left").join(
        afstb4_national_km().select("year", pl.col("km").alias("dst_national_km")), on="year", how="left").sort("year")
    lo_r, hi_r = bands["grid_national_mean_km_ratio"]
    lo_c, hi_c = bands["grid_municipal_mean_km_correlation"]
    return out.with_columns(
        (pl.col("matrix_national_km") / pl.col("dst_national_km")).alias("matrix_ratio"),
        (pl.col("grid_national_km") / pl.col("dst_national_km")).alias("grid_ratio"),
    ).with_columns(
        (pl.col("grid_ratio").is_between(lo_r, hi_r) & pl.col("grid_correlation").is_between(lo_c, hi_c))
        .fill_null(False).alias("grid_ok")
    ).select("year", "persons", "excluded", "cross_border_share", "dst_national_km", "matrix_national_km",
             "grid_national_km", "matrix_ratio", "grid_ratio", "matrix_correlation", "grid_correlation", "grid_ok")


def grid_municipal(grid: pl.DataFrame) -> pl.DataFrame:
    """Per ``year`` × ``KOM`` from :func:`grid_commutes`: ``persons``, ``matrix_km`` and ``grid_km``
    (mean km of the municipality's residents), ``afstb4_km`` (AFSTB4 of that year; null where DST has
    none) and the misfits ``matrix_diff`` / ``grid_diff`` (model − AFSTB4, km)."""
    return grid.select(
        "year", "KOM", "persons",
        (pl.col("km_matrix_sum") / pl.col("persons")).alias("matrix_km"),
        (pl.col("km_grid_sum") / (pl.col("persons") - pl.col("excluded"))).alias("grid_km"),
    ).join(afstb4_commute_km().select(pl.col("code").alias("KOM"), "year", pl.col("km").alias("afstb4_km")),
           on=["KOM", "year"], how="left").with_columns(
        (pl.col("matrix_km") - pl.col("afstb4_km")).alias("matrix_diff"),
        (pl.col("grid_km") - pl.col("afstb4_km")).alias("grid_diff"),
    ).sort("year", "KOM")


def measure(
    directory: str | Path,
    matrix: pl.DataFrame | None = None,
    year: int | None = None,
    grid: pl.DataFrame | None = None,
) -> dict[str, float]:
    """The raw realism figures of an extract (see the module docstring); keys are metric names.
    ``grid``: :func:`grid_commutes` of the extract, which adds the grid-level figures of the year."""
    if matrix is None:
        from pendling.odmatrix import load_matrix

        matrix = load_matrix()
    files = extract_files(directory)
    year = resolve_year(directory, year)
    codes = matrix["origin"].unique()
    km = matrix.select(pl.col("origin").alias("KOM"), pl.col("destination").alias("ARBKOM"), "km")
    targets = municipality_targets()
    out: dict[str, float] = {}

    df = _clean(read_year(files[year]), codes).join(km, on=["KOM", "ARBKOM"], how="left")
    n = df.height
    res = df.group_by("KOM").agg((pl.len() / n).alias("share"))
    out["residence_share_correlation"], out["residence_share_max_abs_diff"] = _shares(
        res, "KOM", targets, "employed_residence_2022")
    work = df.group_by("ARBKOM").agg((pl.len() / n).alias("share"))
    out["workplace_share_correlation"], out["workplace_share_max_abs_diff"] = _shares(
        work, "ARBKOM", targets, "employed_workplace_2022")
    out["population_share_correlation"], _ = _shares(res, "KOM", targets, "population_2022q1")
    out["cross_border_share"] = float((df["KOM"] != df["ARBKOM"]).mean())
    out["national_mean_km"] = float(df["km"].mean())
    afstb4 = afstb4_commute_km()
    ref_year = year if year in set(afstb4["year"].to_list()) else 2022
    by_muni = df.group_by("KOM").agg(pl.col("km").mean().alias("model"), pl.len().alias("persons")).join(
        afstb4.filter(pl.col("year") == ref_year).select(pl.col("code").alias("KOM"), "km"), on="KOM"
    )
    out["municipal_mean_km_correlation"] = float(np.corrcoef(by_muni["model"], by_muni["km"])[0, 1])
    # extremes only where a municipality has enough residents for its mean to mean something
    sizable = by_muni.filter(pl.col("persons") >= MIN_PERSONS_FOR_EXTREMES)["model"]
    out["municipal_mean_km_min"] = float(sizable.min()) if len(sizable) else float("nan")
    out["municipal_mean_km_max"] = float(sizable.max()) if len(sizable) else float("nan")
    jg = assign_job_group(df, disco_column=DISCO)
    assert isinstance(jg, pl.DataFrame)
    hov = geo.municipalities().filter(pl.col("region_code") == geo.REGION_HOVEDSTADEN)["code"]
    jg = jg.with_columns(pl.col("KOM").is_in(hov.implode()).alias("hov"))
    dig_h = jg.filter("hov")["job_group"].eq("digital").mean()
    dig_r = jg.filter(~pl.col("hov"))["job_group"].eq("digital").mean()
    out["digital_share_hovedstaden_over_rest"] = float(dig_h / dig_r) if dig_r else float("nan")
    ps = jg.filter(pl.col("job_group") == "physical_social")["LBNR"].eq(0).mean()
    rest = jg.filter(pl.col("job_group").is_in(["digital", "office"]))["LBNR"].eq(0).mean()
    out["lbnr0_share_physical_social_over_rest"] = float(ps / rest) if rest else float("inf")

    sums = {"both": 0, "moves": 0, "within": 0, "real_both": 0, "job_changes": 0, "prev": 0, "exits": 0,
            "wp": 0, "wp_kept": 0}
    years = sorted(files)
    prev = None
    for y in years:
        cur = _clean(read_year(files[y]), codes)
        if prev is not None and y - 1 in files:
            pair = prev.join(cur, on="PNR", suffix="_1")
            moved = (pair["ADRESSE_ID"] != pair["ADRESSE_ID_1"]) | (pair["KOM"] != pair["KOM_1"])
            sums["both"] += pair.height
            sums["moves"] += int(moved.sum())
            sums["within"] += int((moved & (pair["KOM"] == pair["KOM_1"])).sum())
            real = (pair["LBNR"] != 0) & (pair["LBNR_1"] != 0)
            sums["real_both"] += int(real.sum())
            sums["job_changes"] += int((real & (pair["LBNR"] != pair["LBNR_1"])).sum())
            sums["prev"] += prev.height
            sums["exits"] += prev.height - pair.height
            big = prev.filter(pl.col("LBNR") != 0).group_by("LBNR").len().filter(pl.col("len") >= 5)["LBNR"]
            sums["wp"] += len(big)
            sums["wp_kept"] += int(big.is_in(cur["LBNR"].unique().implode()).sum())
        prev = cur
    if sums["both"]:
        out["move_rate"] = sums["moves"] / sums["both"]
        out["within_municipality_move_share"] = sums["within"] / max(sums["moves"], 1)
        out["job_change_rate"] = sums["job_changes"] / max(sums["real_both"], 1)
        out["exit_rate"] = sums["exits"] / sums["prev"]
        out["workplace_persistence"] = sums["wp_kept"] / max(sums["wp"], 1)
    if grid is not None:
        yr = grid_yearly(grid.filter(pl.col("year") == year))
        if yr.height:
            out["grid_national_mean_km_ratio"] = float(yr["grid_ratio"][0])
            out["grid_municipal_mean_km_correlation"] = float(yr["grid_correlation"][0])
    out["year"] = float(year)
    out["persons"] = float(n)
    return out


def realism_report(
    directory: str | Path,
    matrix: pl.DataFrame | None = None,
    year: int | None = None,
    grid: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Metric table: ``metric``, ``value``, ``target``, ``low``, ``high``, ``ok`` (value inside the band),
    ``unit``, ``source`` — one row per target in ``realism_targets.csv`` that the extract allows (the
    grid rows only with ``grid``, :func:`grid_commutes` of the extract)."""
    values = measure(directory, matrix, year, grid)
    rows = [
        {**t, "value": values[t["metric"]], "ok": bool(t["low"] <= values[t["metric"]] <= t["high"])}
        for t in realism_targets().iter_rows(named=True)
        if t["metric"] in values
    ]
    return pl.DataFrame(rows, schema=REPORT_SCHEMA).select(list(REPORT_SCHEMA))


def yearly_summary(directory: str | Path, matrix: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per year: ``persons`` (rows kept), ``cross_border_share``, ``national_mean_km`` (matrix km) next to
    DST's national AFSTB4 mean (``dst_national_km``, km)."""
    if matrix is None:
        from pendling.odmatrix import load_matrix

        matrix = load_matrix()
    codes = matrix["origin"].unique()
    km = matrix.select(pl.col("origin").alias("KOM"), pl.col("destination").alias("ARBKOM"), "km")
    rows = []
    for y, path in extract_files(directory).items():
        df = _clean(read_year(path), codes).join(km, on=["KOM", "ARBKOM"], how="left")
        rows.append({"year": y, "persons": df.height, "cross_border_share": float((df["KOM"] != df["ARBKOM"]).mean()),
                     "national_mean_km": float(df["km"].mean())})
    out = pl.DataFrame(rows, schema={"year": pl.Int16, "persons": pl.Int64, "cross_border_share": pl.Float64,
                                     "national_mean_km": pl.Float64})
    dst = afstb4_national_km().select("year", pl.col("km").alias("dst_national_km"))
    return out.join(dst, on="year", how="left")

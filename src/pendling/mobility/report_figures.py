"""The report's stated values (``data/reference/report_figures.csv``) and a check of results against them.

The CSV holds one checkable statement per row: a ``measure`` of a cell (flow × job group × home region ×
flow year) with a band [low, high] (null = unbounded); the rules that turn the report's words into bands
are in ``data/reference/report_figures.md`` (written by ``scripts/derive_report_figures.py``).
Relative changes are fractions (0.11 = 11 %), distances km.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from pendling.errors import InputError

MEASURES = ("level", "change_from_2019", "ratio_to_2019", "lead_over_other_groups", "rise_share_of_hovedstaden",
            "deviation_from_all", "mean_km")
BASE_YEAR = 2019
_GROUPS = ("digital", "office", "physical_social")


def report_figures_path() -> Path:
    from pendling.paths import reference_dir

    return reference_dir() / "report_figures.csv"


def load_report_figures(path: str | Path | None = None) -> pl.DataFrame:
    """The bands: figure, flow, job_group, region Utf8, year Int16, measure Utf8, low, high Float64
    (null = unbounded), band, quote, source Utf8."""
    p = Path(path) if path is not None else report_figures_path()
    df = pl.read_csv(p, schema_overrides={"figure": pl.Utf8, "year": pl.Int16, "low": pl.Float64,
                                          "high": pl.Float64})
    bad = sorted(set(df["measure"].to_list()) - set(MEASURES))
    if bad:
        raise InputError("unknown measures in the report figures table", file=str(p), column="measure", values=bad,
                         hint=f"use one of {', '.join(MEASURES)}")
    return df


def _levels(results: pl.DataFrame, estimator: str) -> dict[tuple, float | None]:
    cols = ["year", "flow", "job_group", "region", estimator]
    missing = [c for c in cols if c not in results.columns]
    if missing:
        raise InputError("the results table lacks columns", column=", ".join(missing),
                         hint="pass a table from pendling.compute")
    return {(int(y), f, g, r): v for y, f, g, r, v in results.select(cols).iter_rows()}


def measure_value(levels: dict[tuple, float | None], flow: str, job_group: str, region: str, year: int,
                  measure: str, mean_km: dict[int, float] | None = None) -> float | None:
    """One measure (see the module docstring and report_figures.md); None when a needed cell is missing."""

    def lv(y: int, g: str = job_group, r: str = region) -> float | None:
        return levels.get((y, flow, g, r))

    def sub(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else a - b

    if measure == "mean_km":
        return None if mean_km is None else mean_km.get(year)
    if measure == "level":
        return lv(year)
    if measure == "change_from_2019":
        return sub(lv(year), lv(BASE_YEAR))
    if measure == "ratio_to_2019":
        a, b = lv(year), lv(BASE_YEAR)
        return None if a is None or not b else a / b
    if measure == "lead_over_other_groups":
        others = [lv(year, g) for g in _GROUPS if g != job_group]
        return None if any(o is None for o in others) else sub(lv(year), max(others))  # type: ignore[type-var]
    if measure == "rise_share_of_hovedstaden":
        own, hov = sub(lv(year), lv(BASE_YEAR)), sub(lv(year, r="hovedstaden"), lv(BASE_YEAR, r="hovedstaden"))
        return None if own is None or not hov else own / hov
    if measure == "deviation_from_all":
        return sub(lv(year), lv(year, "all"))
    raise InputError("unknown measure", column="measure", values=[measure], hint=f"use one of {', '.join(MEASURES)}")


def check_report_figures(results: pl.DataFrame, mean_km: Any = None, *, figures: pl.DataFrame | None = None,
                         estimator: str = "mean_rel_change") -> pl.DataFrame:
    """Each band of ``report_figures.csv`` with the achieved ``value`` and ``ok`` (inside the band).

    ``results``: a :func:`pendling.compute` table holding flow years 2019 and 2021 (unsuppressed or
    suppressed; a missing or suppressed cell gives a null value and ok False). ``mean_km``: None (the
    3.6 rows get a null value), a {year: km} mapping or a frame with ``year`` and ``mean_km`` (such as
    :func:`pendling.report.distance_by_year` for region 'all'). ``estimator``: the results column read
    as the cell level (the report's is ``mean_rel_change``).
    """
    figs = load_report_figures() if figures is None else figures
    if isinstance(mean_km, pl.DataFrame):
        frame = mean_km.filter(pl.col("region") == "all") if "region" in mean_km.columns else mean_km
        mean_km = {int(y): float(v) for y, v in frame.select("year", "mean_km").iter_rows() if v is not None}
    levels = _levels(results, estimator)
    values = [measure_value(levels, f, g, r, int(y), m, mean_km)
              for f, g, r, y, m in figs.select("flow", "job_group", "region", "year", "measure").iter_rows()]
    v = pl.Series("value", values, dtype=pl.Float64)
    return figs.with_columns(v).with_columns(
        (pl.col("value").is_not_null()
         & (pl.col("low").is_null() | (pl.col("value") >= pl.col("low")))
         & (pl.col("high").is_null() | (pl.col("value") <= pl.col("high")))).alias("ok")
    ).select("figure", "flow", "job_group", "region", "year", "measure", "low", "high", "value", "ok", "band",
             "quote", "source")

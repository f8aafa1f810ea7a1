"""Cell statistics of the relative change in commute time, r = T_t / T_{t-1} - 1.

A cell is year × flow × job_group × region. Estimators (all relative changes are fractions:
0.11 = 11 %; times in minutes):

* ``mean_rel_change`` – mean of the individual r: the report's measure. ``ci_low``/``ci_high`` are its
  95 % t-interval, mean ± t(0.975, n-1) · sd / √n (normal approximation of the sampling distribution of
  the mean; null for n < 2). ``sd_rel_change`` is the sample standard deviation of r.
* ``ratio_of_means`` – ΣT_t / ΣT_{t-1} - 1: the change in the cell's mean commute. ``ratio_ci_low`` /
  ``ratio_ci_high``: delta-method 95 % interval, se = √((s²_a - 2R·s_ab + R²·s²_b) / n) / mean(T_{t-1})
  with R = mean(T_t)/mean(T_{t-1}), a = T_t, b = T_{t-1}, and the same t quantile.
* ``mean_log_ratio`` – mean of ln(T_t / T_{t-1}); ``geo_mean_rel_change`` = exp(mean_log_ratio) - 1,
  the geometric-mean change (symmetric for halving and doubling, less driven by a few long moves).
  With a zero-diagonal matrix a later time T_t = 0 (r = -1) has ln ratio -inf: the cell's
  mean_log_ratio is then -inf and its geo_mean_rel_change -1 (an earlier time of 0 never reaches
  a cell: see ``zero_time_before`` in :mod:`pendling.mobility.flows`).
* ``median_rel_change`` – the median of r (average of the two middle values for even n). Published
  only where :mod:`pendling.mobility.disclosure` allows it (n ≥ ``MEDIAN_MIN_N``).
* ``share_longer`` / ``share_shorter`` – share of the cell with r > 0 / r < 0 (the rest is r = 0,
  e.g. moves inside a municipality).
* ``mean_minutes_before`` / ``mean_minutes_after`` – mean T_{t-1} and T_t, minutes.

Sums are accumulated exactly in fixed point (r and ln ratio at 2^-36, minutes at 2^-32, far below
any reported precision), so results are bit-identical on every rerun, whatever the row order.

Regions are taken from the home municipality at t-1: ``hovedstaden`` (region code 1084), ``rest`` and
``all`` always; ``by='region'`` adds the other four regions, ``by='kommunegruppe'`` the five DST
kommunegrupper (v1:2018). Every job group also gets an ``all`` row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import polars as pl
from scipy import stats as _sps

from pendling.errors import InputError

REGION_HOVEDSTADEN = 1084

REGION_NAMES: dict[int, str] = {
    1081: "nordjylland",
    1082: "midtjylland",
    1083: "syddanmark",
    1084: "hovedstaden",
    1085: "sjaelland",
}
KOMMUNEGRUPPE_NAMES: dict[int, str] = {
    1: "hovedstadskommuner",
    2: "storbykommuner",
    3: "provinsbykommuner",
    4: "oplandskommuner",
    5: "landkommuner",
}
JOB_GROUPS: tuple[str, ...] = ("digital", "office", "physical_social", "unclassified")
ALL = "all"
NUISANCE_GROUPS: tuple[str, ...] = ("unclassified",)
"""Job groups reported in their own rows but left out of the job-group total ``all``: the total is
the classified persons (the lines a figure draws), so that a small nuisance cell never forces
complementary suppression of a headline cell (pendling.mobility.disclosure)."""
BY_OPTIONS: tuple[str, ...] = ("region", "kommunegruppe")
CONFIDENCE = 0.95

KEYS = ("year", "flow", "job_group", "region")
LEADING_COLUMNS = (*KEYS, "n", "mean_rel_change", "ratio_of_means", "ci_low", "ci_high", "suppressed")
STAT_COLUMNS = (
    "mean_minutes_before",
    "mean_minutes_after",
    "median_rel_change",
    "mean_log_ratio",
    "geo_mean_rel_change",
    "share_longer",
    "share_shorter",
    "sd_rel_change",
    "ratio_ci_low",
    "ratio_ci_high",
)


def normalize_by(by: str | Iterable[str] | None) -> tuple[str, ...]:
    """``None``/'region'/'kommunegruppe'/a list of them → a sorted-by-option tuple; InputError otherwise."""
    if by is None:
        return ()
    items = [by] if isinstance(by, str) else list(by)
    bad = [b for b in items if b not in BY_OPTIONS]
    if bad:
        raise InputError(
            "unknown 'by' grouping",
            column="by",
            values=bad,
            hint=f"use one or more of {', '.join(BY_OPTIONS)} (or nothing for hovedstaden/rest/all)",
        )
    return tuple(b for b in BY_OPTIONS if b in items)


def region_order(by: Sequence[str] = ()) -> list[str]:
    """Region labels in output order for the given ``by`` groupings."""
    labels = ["hovedstaden", "rest", ALL]
    if "region" in by:
        labels += [name for code, name in sorted(REGION_NAMES.items()) if code != REGION_HOVEDSTADEN]
    if "kommunegruppe" in by:
        labels += [KOMMUNEGRUPPE_NAMES[k] for k in sorted(KOMMUNEGRUPPE_NAMES)]
    return labels


def job_group_order(observed: Iterable[str] = ()) -> list[str]:
    """The four standard job groups, any other observed labels (sorted), then ``all``."""
    extra = sorted(set(observed) - set(JOB_GROUPS) - {ALL})
    return [*JOB_GROUPS, *extra, ALL]


def cells_from_sums(sums: Sequence[tuple], r_scale: int, m_scale: int) -> pl.DataFrame:
    """Cell estimators from exact fixed-point sums (see :func:`pendling.mobility.flows.cells_and_attrition`).

    Each tuple: year, flow, job_group, region, n, Σq_r, Σq_r², Σq_ln, Σq_b, Σq_a, Σq_b², Σq_a², Σq_a·q_b,
    n_longer, n_shorter, n_zero_after (persons with T_t = 0, whose ln ratio is -inf and not in Σq_ln), median — q_r = r·r_scale, q_ln = ln(T_t/T_{t-1})·r_scale, q_b = T_{t-1}·m_scale
    and q_a = T_t·m_scale, rounded to integers. Centred second moments are formed in exact integer
    arithmetic (n·Σq² - (Σq)²), so there is no cancellation and the floats are correctly rounded.
    One Python step per cell (at most a few thousand cells), never per person.
    """
    out: dict[str, list] = {k: [] for k in (
        *KEYS, "n", "mean_rel_change", "sd_rel_change", "median_rel_change", "mean_log_ratio",
        "share_longer", "share_shorter", "mean_minutes_before", "mean_minutes_after",
        "_var_before", "_var_after", "_cov")}
    for (year, flow, job_group, region, n, s_r, ss_r, s_l, s_b, s_a, ss_b, ss_a, s_ab,
         n_longer, n_shorter, n_zero_after, median) in sums:
        for key, value in zip(KEYS, (year, flow, job_group, region), strict=True):
            out[key].append(value)
        dof = n * (n - 1)
        rr, mm = r_scale * r_scale, m_scale * m_scale
        var_r = (n * ss_r - s_r * s_r) / (dof * rr) if n > 1 else None
        out["n"].append(n)
        out["mean_rel_change"].append(s_r / (n * r_scale))
        out["sd_rel_change"].append(math.sqrt(var_r) if var_r is not None else None)
        out["median_rel_change"].append(median)
        # a T_t = 0 (zero-diagonal matrix) has ln ratio -inf: so has the mean, and the geometric mean is -1
        out["mean_log_ratio"].append(-math.inf if n_zero_after else s_l / (n * r_scale))
        out["share_longer"].append(n_longer / n)
        out["share_shorter"].append(n_shorter / n)
        out["mean_minutes_before"].append(s_b / (n * m_scale))
        out["mean_minutes_after"].append(s_a / (n * m_scale))
        out["_var_before"].append((n * ss_b - s_b * s_b) / (dof * mm) if n > 1 else None)
        out["_var_after"].append((n * ss_a - s_a * s_a) / (dof * mm) if n > 1 else None)
        out["_cov"].append((n * s_ab - s_a * s_b) / (dof * mm) if n > 1 else None)
    schema = {k: pl.Float64 for k in out} | {"year": pl.Int16, "flow": pl.Utf8, "job_group": pl.Utf8,
                                              "region": pl.Utf8, "n": pl.Int64}
    return _estimators(pl.DataFrame(out, schema=schema))


def _t_quantile(n: pl.Series) -> np.ndarray:
    df = np.asarray(n.to_numpy(), dtype=float) - 1.0
    with np.errstate(invalid="ignore"):
        q = _sps.t.ppf(0.5 + CONFIDENCE / 2, np.where(df >= 1, df, np.nan))
    return q


def _estimators(cells: pl.DataFrame) -> pl.DataFrame:
    t = pl.Series("_t", _t_quantile(cells["n"]), dtype=pl.Float64)
    n = pl.col("n").cast(pl.Float64)
    ratio = pl.col("mean_minutes_after") / pl.col("mean_minutes_before")
    half = pl.col("_t") * pl.col("sd_rel_change") / n.sqrt()
    big_r = pl.col("_ratio")  # R = mean(T_t) / mean(T_{t-1})
    var_lin = pl.col("_var_after") - 2 * big_r * pl.col("_cov") + big_r**2 * pl.col("_var_before")
    # clip: the linearised variance is >= 0 in exact arithmetic; rounding can make it -1e-17
    se_ratio = (var_lin.clip(lower_bound=0) / n).sqrt() / pl.col("mean_minutes_before")
    return (
        cells.with_columns(t.fill_nan(None), ratio.alias("_ratio"))
        .with_columns(
            (pl.col("_ratio") - 1).alias("ratio_of_means"),
            (pl.col("mean_rel_change") - half).alias("ci_low"),
            (pl.col("mean_rel_change") + half).alias("ci_high"),
            (pl.col("mean_log_ratio").exp() - 1).alias("geo_mean_rel_change"),
            (pl.col("_ratio") - 1 - pl.col("_t") * se_ratio).alias("ratio_ci_low"),
            (pl.col("_ratio") - 1 + pl.col("_t") * se_ratio).alias("ratio_ci_high"),
            pl.lit(False).alias("suppressed"),
        )
        .drop("_t", "_ratio", "_var_before", "_var_after", "_cov")
    )


def full_grid(cells: pl.DataFrame, years: Sequence[int], by: Sequence[str] = (),
              job_groups: Iterable[str] = ()) -> pl.DataFrame:
    """Every year × flow × job_group × region cell (empty ones with n = 0), in the output sort order.

    Order: year ascending; flow movers, job_changers; job groups as :func:`job_group_order`; regions
    as :func:`region_order`. Columns: :data:`LEADING_COLUMNS` then :data:`STAT_COLUMNS`.
    """
    from pendling.mobility.flows import FLOWS

    jg = job_group_order(set(job_groups) | set(cells["job_group"].to_list()))
    regions = region_order(by)
    enum_cols = {
        "flow": pl.Enum(list(FLOWS)),
        "job_group": pl.Enum(jg),
        "region": pl.Enum(regions),
    }
    grid = (
        pl.DataFrame({"year": sorted(set(years))}, schema={"year": pl.Int16})
        .join(pl.DataFrame({"flow": list(FLOWS)}), how="cross")
        .join(pl.DataFrame({"job_group": jg}), how="cross")
        .join(pl.DataFrame({"region": regions}), how="cross")
    )
    out = (
        grid.join(cells.with_columns(pl.col("year").cast(pl.Int16)), on=list(KEYS), how="left")
        .with_columns(pl.col("n").fill_null(0), pl.col("suppressed").fill_null(False))
        .with_columns(pl.col(c).cast(dt).alias(f"_o_{c}") for c, dt in enum_cols.items())
        .sort("year", "_o_flow", "_o_job_group", "_o_region")
        .drop(f"_o_{c}" for c in enum_cols)
    )
    return out.select(*LEADING_COLUMNS, *STAT_COLUMNS)

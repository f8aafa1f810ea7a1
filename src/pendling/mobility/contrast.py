"""The report's claim as one number: the 2019→2021 rise of digital (and office) minus that of physical & social.

For flow f, home region R (at t-1), job group g and years t0 → t1, with E the cell estimator
(default the report's mean of the individual r = T_t/T_{t-1} - 1):

    contrast(f, R, g) = [E(f, R, g, t1) - E(f, R, g, t0)] - [E(f, R, ref, t1) - E(f, R, ref, t0)]

with ref = 'physical_social'. For movers the report's story is a positive contrast, most of all in
Hovedstaden; for job-changers it should be about 0.

**Uncertainty: cluster-robust (sandwich) variance by person.** The same person can be a mover in
t0 and again in t1, so the four cell estimates are not independent. Each estimator is a smooth
function of cell means, so the contrast is linearised: person-year i of cell c contributes
ψ_i = coef_c · IF_c(i), with the influence function IF of the estimator
(mean of ratios: (r_i - m_c)/n_c; ratio of means R_c = ΣT_t/ΣT_{t-1}: (T_t,i - R_c·T_{t-1},i)/ΣT_{t-1};
geometric mean exp(l̄_c) - 1 with l = ln(T_t/T_{t-1}): exp(l̄_c)·(l_i - l̄_c)/n_c) and coef ±1. The
ψ are summed per person (the cluster), and Var = G/(G-1) · Σ_p (Σ_{i∈p} ψ_i)² over the G persons
in the four cells; the 95 % interval is contrast ± 1.96·√Var (normal approximation; G is in the
hundreds or more in every published cell). No resampling, so reruns are identical and the
interval costs one pass. The median has no such smooth form (and often sits on r = 0 exactly): its
contrast is given without an interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl
from scipy import stats as _sps

from pendling.errors import InputError
from pendling.mobility.stats import REGION_HOVEDSTADEN, REGION_NAMES

REFERENCE = "physical_social"
GROUPS: tuple[str, ...] = ("digital", "office")
ESTIMATORS: tuple[str, ...] = ("mean_rel_change", "ratio_of_means", "median_rel_change", "geo_mean_rel_change")
CONFIDENCE = 0.95
CONTRAST_COLUMNS = ("flow", "region", "job_group", "reference", "first_year", "second_year", "estimator",
                    "rise", "rise_reference", "contrast", "se", "ci_low", "ci_high", "significant", "n_min",
                    "persons", "suppressed")


def parse_contrast(text: str | tuple[int, int] | Sequence[int]) -> tuple[int, int]:
    """'2019:2021' (or '2019-2021', (2019, 2021)) → (2019, 2021); the first year must be earlier."""
    if isinstance(text, str):
        parts = [p for p in text.replace("-", ":").replace("–", ":").split(":") if p.strip()]
    else:
        parts = list(text)
    try:
        a, b = (int(str(p).strip()) for p in parts)
    except ValueError:
        raise InputError("cannot read the contrast years", values=[text],
                         hint="write two flow years, e.g. --contrast 2019:2021") from None
    if a >= b:
        raise InputError("the contrast's first year must come before its second", values=[text],
                         hint="e.g. --contrast 2019:2021")
    return a, b


def _regions(by: Sequence[str]) -> pl.Expr:
    """Region labels of a row (home region at t-1): [hovedstaden|rest, all] plus the five regions with 'region'."""
    hov = pl.when(pl.col("region_code") == REGION_HOVEDSTADEN).then(pl.lit("hovedstaden")).otherwise(pl.lit("rest"))
    labels = [hov, pl.lit("all")]
    if "region" in by:
        labels.append(pl.col("region_code").replace_strict(
            {k: v for k, v in REGION_NAMES.items() if k != REGION_HOVEDSTADEN}, default=None, return_dtype=pl.Utf8))
    return pl.concat_list(labels).list.drop_nulls()


def contrast_rows(rows: pl.DataFrame | pl.LazyFrame, first: int, second: int, *,
                  estimator: str = "mean_rel_change", groups: Iterable[str] = GROUPS,
                  reference: str = REFERENCE, keys: Sequence[str] = ()) -> pl.DataFrame:
    """Contrasts from person-year rows.

    ``rows``: ``pnr``, ``year``, ``flow``, ``job_group``, ``region`` (one label per row; expand a row
    into several regions before), ``r`` (fraction), and for 'ratio_of_means' ``before``/``after``
    (minutes). ``keys``: further grouping columns (e.g. a simulation number), kept in the output.
    Returns one row per keys × flow × region × job group with the columns of :data:`CONTRAST_COLUMNS`
    except ``suppressed`` (see the module docstring for the estimator and its variance).
    """
    if estimator not in ESTIMATORS:
        raise InputError("unknown estimator", column="estimator", values=[estimator],
                         hint=f"use one of {', '.join(ESTIMATORS)}")
    groups = list(groups)
    k = list(keys)
    coef = pl.DataFrame(
        [(g, jg, y, c) for g in groups for jg, y, c in
         ((g, second, 1.0), (g, first, -1.0), (reference, second, -1.0), (reference, first, 1.0))],
        schema={"contrast_group": pl.Utf8, "job_group": pl.Utf8, "year": pl.Int16, "coef": pl.Float64}, orient="row")
    lf = rows.lazy().filter(pl.col("year").is_in([first, second]) & pl.col("job_group").is_in([*groups, reference]))
    lf = lf.with_columns(pl.col("year").cast(pl.Int16))
    if estimator == "geo_mean_rel_change":
        lf = lf.with_columns((pl.col("r") + 1).log().alias("_l"))
    cell = [*k, "flow", "region", "job_group", "year"]
    stats = {
        "mean_rel_change": [pl.col("r").mean().alias("_m")],
        "median_rel_change": [pl.col("r").median().alias("_m")],
        "ratio_of_means": [(pl.col("after").sum() / pl.col("before").sum() - 1).alias("_m"),
                           pl.col("before").sum().alias("_sb")],
        "geo_mean_rel_change": [(pl.col("_l").mean().exp() - 1).alias("_m"), pl.col("_l").mean().alias("_lbar")],
    }[estimator]
    cells = lf.group_by(cell).agg(pl.len().alias("_n"), *stats)
    obs = lf.join(cells, on=cell, how="inner")
    infl = {
        "mean_rel_change": (pl.col("r") - pl.col("_m")) / pl.col("_n"),
        "median_rel_change": pl.lit(None, dtype=pl.Float64),
        "ratio_of_means": (pl.col("after") - (pl.col("_m") + 1) * pl.col("before")) / pl.col("_sb"),
        "geo_mean_rel_change": pl.col("_lbar").exp() * (pl.col("_l") - pl.col("_lbar")) / pl.col("_n"),
    }[estimator]
    contrast_keys = [*k, "flow", "region", "contrast_group"]
    psi = (obs.join(coef.lazy(), on=["job_group", "year"], how="inner")
           .group_by([*contrast_keys, "pnr"]).agg((pl.col("coef") * infl).sum().alias("_psi")))
    var = psi.group_by(contrast_keys).agg(
        pl.len().alias("persons"),
        (pl.col("_psi").pow(2).sum() * pl.len() / (pl.len() - 1)).alias("_var"))
    est = (cells.join(coef.lazy(), on=["job_group", "year"], how="inner")
           .with_columns(is_ref=pl.col("job_group") == reference)
           .group_by(contrast_keys).agg(
               (pl.col("coef") * pl.col("_m")).filter(~pl.col("is_ref")).sum().alias("rise"),
               (-pl.col("coef") * pl.col("_m")).filter(pl.col("is_ref")).sum().alias("rise_reference"),
               (pl.col("coef") * pl.col("_m")).sum().alias("contrast"),
               pl.len().alias("_cells"), pl.col("_n").min().alias("n_min")))
    z = float(_sps.norm.ppf(0.5 + CONFIDENCE / 2))
    se = pl.col("_var").sqrt() if estimator != "median_rel_change" else pl.lit(None, dtype=pl.Float64)
    out = (est.join(var, on=contrast_keys, how="left")
           .with_columns(pl.when(pl.col("_cells") == 4).then(se).alias("se"))
           .with_columns(
               pl.when(pl.col("_cells") < 4).then(None).otherwise(pl.col("contrast")).alias("contrast"),
               (pl.col("contrast") - z * pl.col("se")).alias("ci_low"),
               (pl.col("contrast") + z * pl.col("se")).alias("ci_high"))
           .with_columns(((pl.col("ci_low") > 0) | (pl.col("ci_high") < 0)).alias("significant"),
                         pl.col("contrast_group").alias("job_group"), pl.lit(reference).alias("reference"),
                         pl.lit(first, dtype=pl.Int16).alias("first_year"),
                         pl.lit(second, dtype=pl.Int16).alias("second_year"), pl.lit(estimator).alias("estimator"),
                         pl.col("n_min").cast(pl.Int64), pl.col("persons").cast(pl.Int64))
           .collect())
    order = {"movers": 0, "job_changers": 1}
    regions = ["hovedstaden", "rest", "all", *(v for c, v in sorted(REGION_NAMES.items()) if c != REGION_HOVEDSTADEN)]
    return (out.with_columns(pl.col("flow").replace_strict(order, default=9).alias("_o1"),
                             pl.col("region").replace_strict({r: i for i, r in enumerate(regions)}, default=99)
                             .alias("_o2"),
                             pl.col("job_group").replace_strict({g: i for i, g in enumerate(groups)}).alias("_o3"))
            .sort([*k, "_o1", "_o2", "_o3"])
            .select(*k, *(c for c in CONTRAST_COLUMNS if c != "suppressed")))


def transition_rows(transitions: pl.DataFrame, by: Sequence[str] = ()) -> pl.DataFrame:
    """Usable movers and job-changers of a :func:`pendling.mobility.transitions` frame as contrast rows
    (one row per region label the person-year belongs to)."""
    return (transitions.filter(pl.col("flow").is_not_null())
            .select("pnr", "year", "flow", pl.col("job_group_before").alias("job_group"),
                    _regions(by).alias("region"), pl.col("rel_change").alias("r"),
                    pl.col("minutes_before").alias("before"), pl.col("minutes_after").alias("after"))
            .explode("region"))


def contrast(panel: Any, matrix: Any = None, years: str | Sequence[int] = "2019:2021", *, by: Any = None,
             estimator: str = "mean_rel_change", mover_definition: str = "address", method: str = "default",
             municipalities: pl.DataFrame | None = None, job_group_mapping: Any = None, min_n: int = 5,
             disclosure: bool = True, results: pl.DataFrame | None = None) -> pl.DataFrame:
    """Rise t0→t1 of digital and of office minus the rise of physical & social, by flow and home region.

    ``years``: '2019:2021' or (2019, 2021) (flow years; each needs its previous year in the panel).
    ``by``: None (hovedstaden, rest, all) or 'region' (adds the five regions). Other parameters as
    :func:`pendling.compute`. Columns: :data:`CONTRAST_COLUMNS` — ``rise``/``rise_reference`` (the two
    rises, fractions), ``contrast`` (their difference), ``se`` and the 95 % interval (cluster-robust
    by person, see the module docstring), ``significant`` (interval excludes 0), ``n_min`` (smallest
    of the four cells), ``persons`` (distinct persons in them). With ``disclosure``, a contrast whose
    smallest cell has fewer than ``min_n`` persons is suppressed (statistics null), and so is one that
    touches a cell hidden in the disclosure-controlled results: ``results`` (the table published beside
    the contrasts, e.g. ``compute``'s, when it holds both years) or else a run over the two years.
    """
    from pendling.mobility import api
    from pendling.mobility.disclosure import check_min_n
    from pendling.mobility.stats import normalize_by

    first, second = parse_contrast(years)
    by_t = normalize_by(by)
    api._check_definition(mover_definition)
    matrix, _ = api._apply_method(method, matrix, mover_definition)
    t = api.transitions(panel, matrix, [first, second], mover_definition=mover_definition,
                        municipalities=municipalities, job_group_mapping=job_group_mapping)
    out = contrast_rows(transition_rows(t, by_t), first, second, estimator=estimator)
    if not disclosure:
        return out.with_columns(pl.lit(False).alias("suppressed"))
    min_n = check_min_n(min_n)
    # the controlled results of the same cells: a contrast is a linear combination of four published
    # cells, so one that touches a cell the results hide (primary or complementary) would give it away
    if results is None or not {first, second} <= set(results["year"].to_list()):
        results = api.run(panel, matrix, [first, second], by=by, mover_definition=mover_definition, min_n=min_n,
                          municipalities=municipalities, job_group_mapping=job_group_mapping).results
    out = out.with_columns(touches_suppressed(out, results).alias("_cell_hidden"))
    small = pl.col("n_min").is_null() | (pl.col("n_min") < min_n) | pl.col("_cell_hidden")
    hide = ["rise", "rise_reference", "contrast", "se", "ci_low", "ci_high", "significant", "n_min", "persons"]
    return out.with_columns(small.alias("suppressed")).with_columns(
        pl.when(~pl.col("suppressed")).then(pl.col(c)).alias(c) for c in hide).drop("_cell_hidden")


def touches_suppressed(contrasts: pl.DataFrame, results: pl.DataFrame) -> pl.Series:
    """Per contrast row: does any of its four cells (group and reference, first and second year) carry a
    suppression (primary or complementary) in the disclosure-controlled ``results``? Boolean Series."""
    keys = ["flow", "region", "job_group", "year"]
    hidden = results.filter(pl.col("suppression").is_not_null()).select(
        pl.col("flow").cast(pl.Utf8), pl.col("region").cast(pl.Utf8), pl.col("job_group").cast(pl.Utf8),
        pl.col("year").cast(pl.Int64)).unique().with_columns(pl.lit(True).alias("_hidden"))
    cells = contrasts.with_row_index("_row").select(
        "_row", pl.col("flow").cast(pl.Utf8), pl.col("region").cast(pl.Utf8),
        pl.concat_list(pl.col("job_group").cast(pl.Utf8), pl.col("reference").cast(pl.Utf8)).alias("job_group"),
        pl.concat_list(pl.col("first_year").cast(pl.Int64), pl.col("second_year").cast(pl.Int64)).alias("year"),
    ).explode("job_group").explode("year")
    hit = (cells.join(hidden, on=keys, how="left").group_by("_row")
           .agg(pl.col("_hidden").fill_null(False).any()).sort("_row"))
    return hit["_hidden"].alias("cell_suppressed")


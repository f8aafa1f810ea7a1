"""How much each answer depends on the method: the headline cells and contrasts under every variant.

Variants (each choice the report leaves open, crossed with the others):

* within-municipality time ``internal``: 'area' (shipped), 'network', 'zero' (persons with an
  earlier time of 0 counted as ``zero_time_before``) — :mod:`pendling.mobility.variants`, each
  variant matrix built once and cached;
* ``mover_definition``: 'address', 'municipality';
* ``estimator``: mean of ratios (``mean_rel_change``), ratio of means, median, geometric mean.

One :func:`pendling.mobility.run` per matrix × mover definition (its results carry all four
estimators), one contrast per variant. The table has one row per variant × headline value: the
cells (flow × job group digital/office/physical & social/all × region hovedstaden/rest/all × the two
contrast years; ``quantity`` 'level') and the contrasts (``quantity`` 'contrast', with the 95 %
interval where the estimator has one). For each contrast, ``sign_holds`` says whether no variant
gives the opposite sign of the default (an exact 0 — typical of the median, which often sits on the
r = 0 of moves inside a municipality — is not opposite), ``significance_holds`` whether every
variant with an interval (mean of ratios, ratio of means, geometric mean; not the median) agrees
with the default on whether its interval excludes 0. Relative changes are fractions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from pendling.mobility.contrast import ESTIMATORS, contrast_rows, parse_contrast, touches_suppressed, transition_rows
from pendling.mobility.variants import INTERNAL_CHOICES, variant_matrix

MOVER_DEFINITIONS: tuple[str, ...] = ("address", "municipality")
DEFAULT_VARIANT = {"internal": "area", "mover_definition": "address", "estimator": "mean_rel_change"}
HEADLINE_GROUPS = ("digital", "office", "physical_social", "all")
HEADLINE_REGIONS = ("hovedstaden", "rest", "all")
TABLE_COLUMNS = ("quantity", "internal", "mover_definition", "estimator", "flow", "job_group", "region", "year",
                 "n", "value", "ci_low", "ci_high", "significant", "is_default", "sign_holds", "significance_holds")
ESTIMATOR_LABELS = {"mean_rel_change": "mean of ratios", "ratio_of_means": "ratio of means",
                    "median_rel_change": "median", "geo_mean_rel_change": "geometric mean"}


def sensitivity(panel: Any, matrix: Any = None, contrast: str | Sequence[int] = "2019:2021", *,
                internal: Sequence[str] = INTERNAL_CHOICES, mover_definitions: Sequence[str] = MOVER_DEFINITIONS,
                estimators: Sequence[str] = ESTIMATORS, municipalities: pl.DataFrame | None = None,
                job_group_mapping: Any = None, min_n: int = 5, disclosure: bool = True) -> pl.DataFrame:
    """The headline cells and contrasts under every variant (see the module docstring).

    ``panel``/``matrix``/``municipalities``/``job_group_mapping``/``min_n``/``disclosure`` as
    :func:`pendling.compute` (``matrix`` None = shipped; its variants differ only on the diagonal).
    ``contrast``: the two flow years, '2019:2021'. Columns :data:`TABLE_COLUMNS`; ``year`` is the cell's
    flow year, or the second contrast year for contrasts; ``n`` the cell size, or the smallest of
    the contrast's four cells.
    """
    from pendling.mobility import api

    first, second = parse_contrast(contrast)
    (frame, _, _), _ = api._panel_source(panel, [first, second])  # a path is read once, not per variant
    levels, contrasts = [], []
    for inner in internal:
        m = variant_matrix(inner, matrix)
        for md in mover_definitions:
            res = api.run(frame, m, [first, second], min_n=min_n, disclosure=disclosure, mover_definition=md,
                          municipalities=municipalities, job_group_mapping=job_group_mapping).results
            head = res.filter(pl.col("job_group").is_in(HEADLINE_GROUPS) & pl.col("region").is_in(HEADLINE_REGIONS))
            for est in estimators:
                levels.append(head.select(
                    pl.lit("level").alias("quantity"), pl.lit(inner).alias("internal"),
                    pl.lit(md).alias("mover_definition"), pl.lit(est).alias("estimator"),
                    pl.col("flow").cast(pl.Utf8), pl.col("job_group").cast(pl.Utf8), pl.col("region").cast(pl.Utf8),
                    "year", "n", pl.col(est).alias("value"),
                    pl.col("ci_low" if est == "mean_rel_change" else "ratio_ci_low").alias("ci_low")
                    if est in ("mean_rel_change", "ratio_of_means") else pl.lit(None, dtype=pl.Float64).alias("ci_low"),
                    pl.col("ci_high" if est == "mean_rel_change" else "ratio_ci_high").alias("ci_high")
                    if est in ("mean_rel_change", "ratio_of_means") else pl.lit(None, dtype=pl.Float64).alias("ci_high"),
                ))
            rows = transition_rows(api.transitions(frame, m, [first, second], mover_definition=md,
                                                   municipalities=municipalities,
                                                   job_group_mapping=job_group_mapping))
            rows = rows.filter(pl.col("region").is_in(HEADLINE_REGIONS))
            for est in estimators:
                c = contrast_rows(rows, first, second, estimator=est)
                small = (pl.col("n_min").is_null() | (pl.col("n_min") < min_n) | touches_suppressed(c, res)
                         if disclosure else pl.lit(False))
                contrasts.append(c.with_columns(small.alias("_hide")).select(
                    pl.lit("contrast").alias("quantity"), pl.lit(inner).alias("internal"),
                    pl.lit(md).alias("mover_definition"), pl.lit(est).alias("estimator"), "flow", "job_group",
                    "region", pl.col("second_year").alias("year"),
                    *(pl.when(~pl.col("_hide")).then(pl.col(a)).alias(b) for a, b in
                      (("n_min", "n"), ("contrast", "value"), ("ci_low", "ci_low"), ("ci_high", "ci_high"),
                       ("significant", "significant"))),
                ))
    lv = pl.concat(levels, how="vertical_relaxed").with_columns(
        ((pl.col("ci_low") > 0) | (pl.col("ci_high") < 0)).alias("significant"))
    ct = _robustness(pl.concat(contrasts, how="vertical_relaxed"))
    out = pl.concat([lv, ct], how="diagonal_relaxed")
    is_default = pl.all_horizontal(pl.col(k) == v for k, v in DEFAULT_VARIANT.items())
    return out.with_columns(is_default.alias("is_default")).select(
        pl.col(c).cast(pl.Int64) if c == "n" else pl.col(c) for c in TABLE_COLUMNS)


def _robustness(ct: pl.DataFrame) -> pl.DataFrame:
    """Per contrast: does every variant give the default's sign / the default's significance?"""
    key = ["flow", "job_group", "region"]
    default = ct.filter(pl.all_horizontal(pl.col(k) == v for k, v in DEFAULT_VARIANT.items())).select(
        *key, pl.col("value").sign().alias("_s0"), pl.col("significant").alias("_sig0"))
    verdict = ct.join(default, on=key, how="left").group_by(key).agg(
        # opposite sign anywhere breaks it; an exact 0 (a median sitting on r = 0) does not
        ((pl.col("value").sign() * pl.col("_s0") >= 0).all() & pl.col("value").is_not_null().all()).alias("sign_holds"),
        (pl.col("significant").drop_nulls() == pl.col("_sig0").first()).all().alias("significance_holds"))
    return ct.join(verdict, on=key, how="left")


def summary(table: pl.DataFrame) -> pl.DataFrame:
    """One row per contrast: default value and interval, range over variants, sign/significance verdicts."""
    ct = table.filter(pl.col("quantity") == "contrast")
    d = ct.filter(pl.col("is_default")).select("flow", "region", "job_group", pl.col("value").alias("default"),
                                               "ci_low", "ci_high", "significant")
    rng = ct.group_by("flow", "region", "job_group").agg(
        pl.col("value").min().alias("min_over_variants"), pl.col("value").max().alias("max_over_variants"),
        pl.col("sign_holds").first(), pl.col("significance_holds").first(), pl.len().alias("variants"))
    return d.join(rng, on=["flow", "region", "job_group"], how="left", maintain_order="left")


def plot_sensitivity(table: pl.DataFrame):
    """Dot plot of every contrast under every variant: one panel per flow, one row per region × job
    group, a dot per variant (colour = estimator, marker = within-municipality time, filled =
    address movers); the default's 95 % interval as a bar; 0 marked. Returns a FigureResult."""
    import numpy as np

    from pendling.report import style
    from pendling.report.style import FigureResult

    ct = table.filter(pl.col("quantity") == "contrast")
    flows = [f for f in ("movers", "job_changers") if f in set(ct["flow"])]
    rows = [(r, g) for r in HEADLINE_REGIONS for g in ("digital", "office")]
    fig = style.new_figure(10.0, 5.5)
    axes = fig.subplots(1, len(flows), sharex=True, squeeze=False)[0]
    colours = dict(zip(ESTIMATORS, ("#000000", "#0072B2", "#E69F00", "#009E73"), strict=True))
    markers = {"area": "o", "network": "s", "zero": "^"}
    variants = ct.select("internal", "mover_definition", "estimator").unique(maintain_order=True).rows()
    offsets = np.linspace(-0.3, 0.3, max(len(variants), 1))
    for ax, flow in zip(axes, flows, strict=True):
        part = ct.filter(pl.col("flow") == flow)
        for y, (region, group) in enumerate(rows):
            cell = part.filter((pl.col("region") == region) & (pl.col("job_group") == group))
            d = cell.filter(pl.col("is_default"))
            if d.height and d["ci_low"][0] is not None:
                ax.plot([d["ci_low"][0], d["ci_high"][0]], [y, y], color="#000000", linewidth=3, alpha=0.25,
                        solid_capstyle="butt")
            for off, (inner, md, est) in zip(offsets, variants, strict=True):
                v = cell.filter((pl.col("internal") == inner) & (pl.col("mover_definition") == md)
                                & (pl.col("estimator") == est))["value"]
                if v.len() and v[0] is not None:
                    ax.scatter([v[0]], [y + off], s=18, marker=markers.get(inner, "o"),
                               facecolors=colours[est] if md == "address" else "none", edgecolors=colours[est],
                               linewidths=0.8, zorder=3)
        ax.axvline(0, color="#555555", linewidth=0.8)
        ax.set_yticks(range(len(rows)), [f"{style.REGION_LABELS.get(r, r)}\n{style.label(g)}" for r, g in rows]
                      if ax is axes[0] else [""] * len(rows), fontsize=7)
        ax.invert_yaxis()
        ax.set_title(style.FLOW_LABELS.get(flow, flow), fontsize=9)
        ax.xaxis.set_major_formatter(lambda x, _: f"{x * 100:+.0f} pp")
        ax.set_xlabel("rise minus the rise of physical & social")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], linestyle="", marker="o", color=c, label=ESTIMATOR_LABELS[e]) for e, c in colours.items()]
    handles += [Line2D([], [], linestyle="", marker=m, color="#555555", markerfacecolor="none", label=f"{k} diagonal")
                for k, m in markers.items()]
    handles += [Line2D([], [], linestyle="", marker="o", color="#555555", markerfacecolor="none",
                       label="hollow: municipality movers")]
    fig.legend(handles=handles, loc="outside upper center", ncols=7, fontsize=7, frameon=False)
    caption = ("Each dot one method variant; grey bar: 95 % interval (clustered by person) of the default "
               "(area diagonal, address movers, mean of ratios). Synthetic or register data as given.")
    style.add_caption(fig, caption)
    return FigureResult(fig, ct, caption)

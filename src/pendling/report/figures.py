"""Line figures of the results: relative change in commute time per year and job group, and distance.

Every function returns a :class:`~pendling.report.style.FigureResult`: the matplotlib figure *and*
the exact table it draws, so what leaves a research server can be checked against the results
table. Suppressed cells (flagged ``suppressed`` or with ``n`` below ``min_n``) are drawn as gaps,
never as 0; the same cells are null in ``FigureResult.data``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator, PercentFormatter

from pendling.errors import InputError
from pendling.report import style
from pendling.report.style import FigureResult

RESULT_COLUMNS = ("year", "flow", "job_group", "region", "n", "mean_rel_change", "ci_low", "ci_high", "suppressed")
DEFAULT_GROUPS = ("digital", "office", "physical_social", "all")
DISTANCE_COLUMNS = ("year", "n", "mean_km")
DISTANCE_TABLE = ("year", "region", "n", "mean_km", "ci_low", "ci_high", "suppressed")


def change_data(
    results: pl.DataFrame,
    *,
    flow: str = "movers",
    region: str = "all",
    job_groups: Sequence[str] | None = None,
    min_n: int = 5,
    disclosure: bool = True,
) -> pl.DataFrame:
    """The table a change figure draws: one row per year × job group (a full grid), sorted.

    Columns: ``year`` Int16, ``job_group``, ``n`` (null if the cell is absent from ``results`` or
    suppressed), ``mean_rel_change``, ``ci_low``, ``ci_high`` (fractions: 0.05 = +5 %; null where
    suppressed or absent), ``suppressed``.
    With ``disclosure`` (the default) the whole ``results`` table first goes through
    :func:`pendling.mobility.disclosure.apply_disclosure` with ``min_n``: a no-op for a table
    `pendling compute` disclosed with the same min N, and for any other table it blanks what the
    rules would blank (primary and complementary), so a figure never shows more than an exported
    table may. Years are those of ``flow`` in ``results`` (any region), so regional figures share
    the x axis.
    """
    _require_columns(results, RESULT_COLUMNS, "results")
    if disclosure:
        from pendling.mobility.disclosure import apply_disclosure

        results = apply_disclosure(results, min_n)
    flows = sorted(results["flow"].unique().drop_nulls().to_list())
    if flow not in flows:
        raise InputError(
            f"the results have no rows for flow {flow!r}",
            column="flow",
            values=flows,
            hint="choose a flow the results contain (movers or job_changers)",
        )
    of_flow = results.filter(pl.col("flow") == flow)
    regions = sorted(of_flow["region"].unique().drop_nulls().to_list())
    if region not in regions:
        raise InputError(
            f"the results have no rows for region {region!r} (flow {flow!r})",
            column="region",
            values=regions,
            hint="pick one of the regions listed, or recompute the results with that region",
        )
    present = set(of_flow["job_group"].unique().drop_nulls().to_list())
    groups = [g for g in (job_groups or DEFAULT_GROUPS) if g in present]
    if not groups:
        raise InputError(
            "none of the requested job groups are in the results",
            column="job_group",
            values=sorted(present),
            hint=f"job groups are {', '.join(style.JOB_GROUPS)}",
        )
    years = of_flow.select(pl.col("year").cast(pl.Int16).unique().sort())
    grid = years.join(pl.DataFrame({"job_group": groups}), how="cross")
    cells = of_flow.filter(pl.col("region") == region).select(
        pl.col("year").cast(pl.Int16),
        "job_group",
        pl.col("n").cast(pl.Int64),
        *(pl.col(c).cast(pl.Float64) for c in ("mean_rel_change", "ci_low", "ci_high")),
        pl.col("suppressed").cast(pl.Boolean),
    )
    dup = cells.group_by("year", "job_group").len().filter(pl.col("len") > 1)
    if dup.height:
        raise InputError(
            "the results hold more than one row per year × job group for this flow and region",
            column="year, job_group",
            values=dup.select(pl.format("{} {}", "year", "job_group")).to_series().to_list(),
            hint="results split further (by=...) must be filtered to one row per cell before plotting",
        )
    hide = pl.col("suppressed").fill_null(False) | (pl.col("n") < min_n).fill_null(False)
    data = grid.join(cells, on=["year", "job_group"], how="left", maintain_order="left")
    data = data.with_columns(
        *(pl.when(hide).then(None).otherwise(pl.col(c)).alias(c) for c in ("mean_rel_change", "ci_low", "ci_high")),
        suppressed=hide,
    )
    order = {g: i for i, g in enumerate(groups)}
    return data.sort(pl.col("job_group").replace_strict(order, return_dtype=pl.Int8), "year")


def plot_change(
    results: pl.DataFrame,
    *,
    flow: str = "movers",
    region: str = "all",
    job_groups: Sequence[str] | None = None,
    min_n: int = 5,
    note: str | None = None,
    disclosure: bool = True,
) -> FigureResult:
    """Mean relative change in one-way commute time (minutes) per year, one line per job group.

    The report's Fig 3.7 (movers, all of Denmark), 3.8/3.9 (``region='hovedstaden'``/``'rest'``) and
    3.10 (``flow='job_changers'``). y in percent; shaded bands are the 95 % confidence intervals.
    ``job_groups`` defaults to digital, office, physical_social and all (unclassified DISCO codes
    are left out, as in the report). Each line carries ``gid`` = job group, so
    ``line.get_ydata()`` can be read back in tests.
    ``note`` is appended to the caption (e.g. "synthetic demo data"). ``disclosure``: see
    :func:`change_data` (False only for figures that stay on the research server).
    """
    data = change_data(results, flow=flow, region=region, job_groups=job_groups, min_n=min_n, disclosure=disclosure)
    fig = style.new_figure()
    ax = fig.add_subplot()
    ax.axhline(0.0, color="#555555", linewidth=0.8, gid="zero")
    for group, part in data.group_by("job_group", maintain_order=True):
        g = str(group[0])
        x = part["year"].to_numpy()
        y, lo, hi = (_nan(part[c]) for c in ("mean_rel_change", "ci_low", "ci_high"))
        ax.plot(x, y, marker="o", markersize=4, color=style.colour(g), label=style.label(g), gid=g,
                linewidth=2.0 if g == "all" else 1.6, linestyle="--" if g == "all" else "-")
        band = np.isfinite(lo) & np.isfinite(hi)
        ax.fill_between(x, lo, hi, where=band, color=style.colour(g), alpha=0.15, linewidth=0, gid=f"{g}_ci")
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.set_ylabel("Mean relative change in commute time")
    _year_axis(ax, "Year t (change from November t−1 to November t)")
    ax.set_title(f"{style.FLOW_LABELS.get(flow, flow)} — {style.REGION_LABELS.get(region, region)}", loc="left")
    ax.legend(frameon=False, fontsize=8, loc="best")
    caption = _caption(
        data,
        "Relative change = (after − before) / before, car travel time between municipalities.",
        min_n,
        note,
    )
    fig.supxlabel(caption, fontsize=7, x=0.01, ha="left", color="#333333")
    return FigureResult(fig, data, caption)


def distance_by_year(
    panel: pl.DataFrame,
    matrix: pl.DataFrame | None = None,
    *,
    min_n: int = 5,
    region: str = "all",
) -> pl.DataFrame:
    """Mean one-way home–work road distance (km) per year over employed person-years.

    ``panel`` is the canonical person-year frame (``year``, ``home_muni``, ``work_muni``); each row's
    distance is the matrix ``km`` for (home_muni → work_muni), the diagonal being the
    within-municipality distance, so the level is comparable with DST's AFSTB4 (residence based,
    shortest road km). ``region`` ('all'|'hovedstaden'|'rest') selects by home municipality.

    Returns ``year`` Int16, ``region``, ``n`` (person-years), ``mean_km``, ``ci_low``, ``ci_high``
    (95 % normal interval of the mean, km), ``suppressed``. Disclosure control is that of the result
    tables (:func:`pendling.mobility.disclosure.apply_disclosure`): the series is computed for all,
    hovedstaden and rest together so that a small region-year cannot be recovered as all − other.
    A (home, work) pair missing from the matrix is an InputError, never a silent drop.
    """
    from pendling import geo
    from pendling.mobility.disclosure import apply_disclosure

    if region not in style.REGION_LABELS:
        raise InputError(
            f"unknown region {region!r}", column="region", values=[region], hint="use all, hovedstaden or rest"
        )
    _require_columns(panel, ("year", "home_muni", "work_muni"), "panel")
    if matrix is None:
        from pendling.odmatrix import load_matrix

        matrix = load_matrix()
    hovedstaden = geo.municipalities().filter(pl.col("region_code") == geo.REGION_HOVEDSTADEN)["code"]
    km = matrix.lazy().select(
        pl.col("origin").cast(pl.Int16).alias("home_muni"),
        pl.col("destination").cast(pl.Int16).alias("work_muni"),
        pl.col("km").cast(pl.Float64),
    )
    rows = (
        panel.lazy()
        .select(pl.col("year").cast(pl.Int16), pl.col("home_muni").cast(pl.Int16), pl.col("work_muni").cast(pl.Int16))
        .join(km, on=["home_muni", "work_muni"], how="left")
        .with_columns(
            part=pl.when(pl.col("home_muni").is_in(hovedstaden.implode()))
            .then(pl.lit("hovedstaden"))
            .otherwise(pl.lit("rest"))
        )
    )
    unmatched = rows.filter(pl.col("km").is_null()).select("home_muni", "work_muni").unique().collect()
    if unmatched.height:
        raise InputError(
            f"{unmatched.height} home → work municipality pairs of the panel are not in the matrix",
            column="home_muni, work_muni",
            values=unmatched.sort("home_muni", "work_muni").select(pl.format("{}→{}", "home_muni", "work_muni")).to_series(),
            hint="use a matrix covering all 98 municipalities (the shipped one does)",
        )
    z = 1.959963984540054  # standard normal 97.5 % quantile
    stats = [pl.len().cast(pl.Int64).alias("n"), pl.col("km").mean().alias("mean_km"), pl.col("km").std(ddof=1).alias("sd")]
    cells = pl.concat(
        [
            rows.group_by("year").agg(stats).with_columns(region=pl.lit("all")),
            rows.group_by("year", pl.col("part").alias("region")).agg(stats),
        ],
        how="diagonal",
    )
    half = z * pl.col("sd") / pl.col("n").cast(pl.Float64).sqrt()
    table = (
        cells.with_columns(ci_low=pl.col("mean_km") - half, ci_high=pl.col("mean_km") + half)
        .select(
            "year",
            pl.lit("distance").alias("flow"),
            pl.lit("all").alias("job_group"),
            "region",
            "n",
            "mean_km",
            "ci_low",
            "ci_high",
            pl.lit(False).alias("suppressed"),
        )
        .sort("year", pl.col("region").replace_strict({"all": 0, "hovedstaden": 1, "rest": 2}, return_dtype=pl.Int8))
        .collect()
    )
    safe = apply_disclosure(table, min_n)
    return safe.filter(pl.col("region") == region).select(*DISTANCE_TABLE)


def plot_distance(
    distance: pl.DataFrame,
    reference: pl.DataFrame | None = None,
    *,
    min_n: int = 5,
    region: str = "all",
    note: str | None = None,
) -> FigureResult:
    """Mean home–work road km per year (with 95 % CI), DST's national AFSTB4 mean overlaid.

    ``distance`` is a :func:`distance_by_year` table (or one read back from file); rows with
    ``n < min_n`` are gaps whatever their ``suppressed`` flag says. ``reference`` defaults to the
    shipped AFSTB4 series (:func:`pendling.report.afstb4.load_afstb4_national`) and is drawn only for
    ``region='all'``, the only level it describes. Lines carry ``gid`` 'pendling', 'afstb4'
    (official DST values) and 'afstb4_estimate' (employment-weighted estimate years).
    """
    _require_columns(distance, DISTANCE_COLUMNS, "distance table")
    if "region" in distance.columns:
        regions = sorted(distance["region"].unique().drop_nulls().to_list())
        if region not in regions:
            raise InputError(
                f"the distance table has no rows for region {region!r}",
                column="region",
                values=regions,
                hint="pick one of the regions listed",
            )
        distance = distance.filter(pl.col("region") == region)
    ours = distance.select(
        pl.col("year").cast(pl.Int16),
        pl.col("n").cast(pl.Int64),
        *(pl.col(c).cast(pl.Float64) if c in distance.columns else pl.lit(None, pl.Float64).alias(c)
          for c in ("mean_km", "ci_low", "ci_high")),
        (pl.col("suppressed").cast(pl.Boolean) if "suppressed" in distance.columns else pl.lit(False)).alias(
            "suppressed"
        ),
    )
    hide = pl.col("suppressed").fill_null(False) | (pl.col("n") < min_n).fill_null(True)
    ours = ours.with_columns(
        *(pl.when(hide).then(None).otherwise(pl.col(c)).alias(c) for c in ("mean_km", "ci_low", "ci_high")),
        suppressed=hide,
    )
    if region == "all":
        if reference is None:
            from pendling.report.afstb4 import load_afstb4_national

            reference = load_afstb4_national()
        ref = reference.select(
            pl.col("year").cast(pl.Int16), pl.col("km").alias("afstb4_km"), pl.col("kind").alias("afstb4_kind")
        )
    else:
        ref = pl.DataFrame(schema={"year": pl.Int16, "afstb4_km": pl.Float64, "afstb4_kind": pl.String})
    years = pl.concat([ours.select("year"), ref.select("year")]).unique().sort("year")
    data = years.join(ours, on="year", how="left").join(ref, on="year", how="left")

    fig = style.new_figure()
    ax = fig.add_subplot()
    x = data["year"].to_numpy()
    y, lo, hi = (_nan(data[c]) for c in ("mean_km", "ci_low", "ci_high"))
    ax.plot(x, y, marker="o", markersize=4, color=style.colour("all"), label="pendling: matrix km, employed", gid="pendling")
    band = np.isfinite(lo) & np.isfinite(hi)
    ax.fill_between(x, lo, hi, where=band, color=style.colour("all"), alpha=0.15, linewidth=0, gid="pendling_ci")
    if ref.height:
        official = data["afstb4_kind"] == "dst_national"
        for gid, mask, text, filled in (
            ("afstb4", official, "DST AFSTB4, Hele landet", True),
            ("afstb4_estimate", ~official.fill_null(True), "AFSTB4 estimate (employment-weighted municipalities)", False),
        ):
            yr = np.where(mask.fill_null(False).to_numpy(), _nan(data["afstb4_km"]), np.nan)
            ax.plot(x, yr, marker="s", markersize=4, linestyle="--", color="#D55E00", label=text, gid=gid,
                    markerfacecolor="#D55E00" if filled else "white")
    ax.set_ylabel("Mean one-way home–work distance (km)")
    ax.set_ylim(bottom=0)
    _year_axis(ax)
    ax.set_title(f"Commuting distance — {style.REGION_LABELS.get(region, region)}", loc="left")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    caption = _caption(
        data.filter(pl.col("year").is_in(ours["year"].implode())),
        "Road km of the fastest car route between home and work municipality (diagonal: within-municipality km).",
        min_n,
        note,
    )
    fig.supxlabel(caption, fontsize=7, x=0.01, ha="left", color="#333333")
    return FigureResult(fig, data, caption)


def _caption(data: pl.DataFrame, method: str, min_n: int, note: str | None = None) -> str:
    hidden = pl.col("suppressed").fill_null(False)
    shown = data.filter(~hidden & (pl.col("n").fill_null(0) > 0))
    n_hidden = data.filter(hidden).height
    n_empty = data.filter(~hidden & (pl.col("n").fill_null(0) == 0)).height
    lo, hi = (shown["n"].min(), shown["n"].max()) if shown.height else (None, None)
    n_part = "no point shown" if lo is None else f"n per point {lo:,}" + (f"–{hi:,}" if hi != lo else "")
    empty = f"; {n_empty} without observations" if n_empty else ""
    return (
        f"{method}\nShaded: 95 % confidence interval. {n_part}; cells with n < {min_n} suppressed "
        f"(drawn as gaps: {n_hidden}{empty})." + (f"\n{note}" if note else "")
    )


def _year_axis(ax: Axes, label: str = "Year (November)") -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(label)
    ax.grid(axis="y", color="#DDDDDD", linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)


def _nan(s: pl.Series) -> np.ndarray:
    return s.cast(pl.Float64).fill_null(np.nan).to_numpy()


def _require_columns(df: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"the {what} lacks columns needed for this figure",
            column=", ".join(missing),
            values=df.columns,
            hint="use a results table written by `pendling compute` (or a distance table from `pendling plot --data-out`)",
        )

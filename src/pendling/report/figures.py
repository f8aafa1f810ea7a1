"""Line figures of the results: relative change in commute time per year and job group, and distance.

Every function returns a :class:`~pendling.report.style.FigureResult`: the matplotlib figure *and*
the exact table it draws, so what leaves a research server can be checked against the results
table. Suppressed cells (flagged ``suppressed`` or with ``n`` below ``min_n``) are drawn as gaps,
never as 0; the same cells are null in ``FigureResult.data``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from pendling._extras import optional

optional("matplotlib", "plot")  # first: a missing extra gets the install hint
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from pendling.errors import InputError
from pendling.report import style
from pendling.report.style import FigureResult

if TYPE_CHECKING:
    from pendling.panel import Panel

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
    results = _eager(results)
    if disclosure:
        from pendling.mobility.disclosure import apply_disclosure

        results = apply_disclosure(results, min_n)
    _require_value(results, "flow", flow, "the results", "choose a flow the results contain (movers or job_changers)")
    of_flow = results.filter(pl.col("flow") == flow)
    _require_value(
        of_flow, "region", region, f"the results (flow {flow!r})",
        "pick one of the regions listed, or recompute the results with that region",
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
        *([pl.col("suppression").cast(pl.Utf8)] if "suppression" in of_flow.columns else []),
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
        _series_with_band(ax, part["year"].to_numpy(), *(part[c] for c in ("mean_rel_change", "ci_low", "ci_high")),
                          colour=style.colour(g), label=style.label(g), gid=g,
                          linewidth=2.0 if g == "all" else 1.6, linestyle="--" if g == "all" else "-")
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.set_ylabel("Mean relative change in commute time")
    caption = _caption(
        data,
        "Relative change = (after − before) / before, car travel time between municipalities.",
        min_n,
        note,
    )
    return _finish(
        fig,
        ax,
        data,
        title=f"{style.FLOW_LABELS.get(flow, flow)} — {style.REGION_LABELS.get(region, region)}",
        caption=caption,
        xlabel="Year t (change from November t−1 to November t)",
        legend_loc="best",
    )


def distance_by_year(
    panel: Panel | pl.DataFrame | pl.LazyFrame,
    matrix: pl.DataFrame | None = None,
    *,
    min_n: int = 5,
    region: str = "all",
) -> pl.DataFrame:
    """Mean one-way home–work road distance (km) per year over employed person-years.

    ``panel`` is a :class:`pendling.panel.Panel` (as :func:`pendling.load_panel` returns) or its
    canonical person-year frame, eager or lazy (``year``, ``home_muni``, ``work_muni``); each row's
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

    if region not in style.DISTANCE_REGIONS:
        raise InputError(
            f"the distance figure has no region {region!r}", column="region", values=[region],
            hint="use all, hovedstaden or rest (the five regions and kommunegrupper are for the change figures)",
        )
    rows_in = _person_years(panel)
    _require_columns(rows_in, ("year", "home_muni", "work_muni"), "panel")
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
        rows_in.lazy()
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
    # Person-years per (year, part, home, work) are exact counts whatever the thread order; the km
    # sums are then taken in one fixed order (_km_moments), so a rerun gives the same bits.
    pairs = (
        rows.group_by("year", "part", "home_muni", "work_muni")
        .agg(pl.len().alias("k"), pl.col("km").first())
        .sort("year", "part", "home_muni", "work_muni")
        .collect()
    )
    cells = pl.concat([_km_moments(pairs, ["year"]), _km_moments(pairs, ["year", "part"])], how="diagonal")
    half = z * pl.col("sd") / pl.col("n").cast(pl.Float64).sqrt()
    table = (
        cells.lazy()
        .with_columns(ci_low=pl.col("mean_km") - half, ci_high=pl.col("mean_km") + half)
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


def _km_moments(pairs: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """``n``, ``mean_km`` and ``sd`` (km, ddof 1; null for n = 1) per group of ``keys``, from
    (``k`` person-years at ``km``) rows sorted by ``keys``; ``region`` = part, or 'all'.

    Sums run sequentially in row order (numpy.bincount), unlike a parallel group_by whose float
    sums depend on how rows were split between threads.
    """
    g = pairs.select(pl.struct(keys).rle_id()).to_series().to_numpy()
    k = pairs["k"].cast(pl.Float64).to_numpy()
    x = pairs["km"].to_numpy()
    n = np.bincount(g, weights=k)
    mean = np.bincount(g, weights=k * x) / n
    ss = np.bincount(g, weights=k * (x - mean[g]) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.where(n > 1, np.sqrt(ss / (n - 1)), np.nan)
    first = np.flatnonzero(np.r_[True, np.diff(g) != 0])
    return pairs[first].select(
        "year",
        (pl.col("part") if "part" in keys else pl.lit("all")).alias("region"),
        pl.Series("n", n.round().astype(np.int64)),
        pl.Series("mean_km", mean),
        pl.Series("sd", sd).fill_nan(None),
    )


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
    distance = _eager(distance)
    if "region" in distance.columns:
        _require_value(distance, "region", region, "the distance table", "pick one of the regions listed")
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
    _series_with_band(ax, x, *(data[c] for c in ("mean_km", "ci_low", "ci_high")),
                      colour=style.colour("all"), label="pendling: matrix km, employed", gid="pendling")
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
    caption = _caption(
        data.filter(pl.col("year").is_in(ours["year"].implode())),
        "Road km of the fastest car route between home and work municipality (diagonal: within-municipality km).",
        min_n,
        note,
    )
    return _finish(
        fig,
        ax,
        data,
        title=f"Commuting distance — {style.REGION_LABELS.get(region, region)}",
        caption=caption,
        legend_loc="lower right",
    )


def _series_with_band(
    ax: Axes, x: np.ndarray, y: pl.Series, lo: pl.Series, hi: pl.Series, *, colour: str, label: str, gid: str,
    **line: object,
) -> None:
    """One line of points per year and its shaded 95 % CI (``gid`` and ``gid_ci``); nulls are gaps."""
    ys, los, his = _nan(y), _nan(lo), _nan(hi)
    ax.plot(x, ys, marker="o", markersize=4, color=colour, label=label, gid=gid, **line)
    band = np.isfinite(los) & np.isfinite(his)
    ax.fill_between(x, los, his, where=band, color=colour, alpha=0.15, linewidth=0, gid=f"{gid}_ci")
    # a band needs two neighbouring years: a year without a neighbour (one year of results, or next
    # to a gap) gets its interval as an error bar, so every stated CI is drawn
    prev = np.concatenate([[False], band[:-1]])
    nxt = np.concatenate([band[1:], [False]])
    alone = band & ~prev & ~nxt
    if alone.any():
        ax.vlines(x[alone], los[alone], his[alone], colors=colour, linewidth=1.2, gid=f"{gid}_ci_bar")


def _finish(
    fig: Figure,
    ax: Axes,
    data: pl.DataFrame,
    *,
    title: str,
    caption: str,
    legend_loc: str,
    xlabel: str = "Year (November)",
) -> FigureResult:
    """The parts every year-axis figure shares: year ticks, grid, title, legend and caption."""
    _year_axis(ax, xlabel, data["year"].drop_nulls().to_list() if "year" in data.columns else ())
    ax.set_title(title, loc="left")
    ax.legend(frameon=False, fontsize=8, loc=legend_loc)
    style.add_caption(fig, caption)
    return FigureResult(fig, data, caption)


def _caption(data: pl.DataFrame, method: str, min_n: int, note: str | None = None) -> str:
    """Method line, then n per point and the suppressed cells by rule (primary: n < min_n;
    complementary: hidden so the primary ones cannot be recovered from totals), drawn as gaps.
    One line each, short enough for the figure's width (captions are not wrapped)."""
    hidden = pl.col("suppressed").fill_null(False)
    shown = data.filter(~hidden & (pl.col("n").fill_null(0) > 0))
    rule = pl.col("suppression") if "suppression" in data.columns else pl.lit(None, dtype=pl.Utf8)
    n_complementary = data.filter(hidden & (rule == "complementary").fill_null(False)).height
    n_primary = data.filter(hidden).height - n_complementary  # hidden for its own n (or a rule not recorded)
    n_empty = data.filter(~hidden & (pl.col("n").fill_null(0) == 0)).height
    lo, hi = (shown["n"].min(), shown["n"].max()) if shown.height else (None, None)
    n_part = "no point shown" if lo is None else f"n per point {lo:,}" + (f"–{hi:,}" if hi != lo else "")
    empty = f" {n_empty} cells without observations are gaps too." if n_empty else ""
    return (
        f"{method}\nShaded (a bar where a year stands alone): 95 % confidence interval. {n_part}.\n"
        f"Disclosure control: suppressed cells are drawn as gaps — {n_primary} primary (n < {min_n}), {n_complementary} "
        f"complementary (protecting them from subtraction).{empty}"
        + (f"\n{note}" if note else "")
    )


def _year_axis(ax: Axes, label: str = "Year (November)", years: Sequence[int] = ()) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(set(years)) == 1:  # matplotlib would widen a single x to ±100 (1925–2125 for 2025)
        (y,) = set(years)
        ax.set_xlim(y - 1, y + 1)
        ax.set_xticks([y])
    ax.set_xlabel(label)
    ax.grid(axis="y", color="#DDDDDD", linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)


def _nan(s: pl.Series) -> np.ndarray:
    return s.cast(pl.Float64).fill_null(np.nan).to_numpy()


def _person_years(panel: object) -> pl.DataFrame | pl.LazyFrame:
    """The canonical person-year rows of a :class:`~pendling.panel.Panel` or a Polars frame."""
    from pendling.panel import Panel

    if isinstance(panel, Panel):
        return panel.frame
    if isinstance(panel, (pl.DataFrame, pl.LazyFrame)):
        return panel
    raise InputError(
        f"expected a pendling Panel or a Polars DataFrame/LazyFrame of person-years, got {type(panel).__name__}",
        values=[type(panel).__name__],
        hint="pass pendling.load_panel(...) or its .frame (columns year, home_muni, work_muni); "
        "convert a pandas frame with polars.from_pandas first",
    )


def _eager(df: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    # result and distance tables are a few hundred rows: collecting costs nothing
    return df.collect() if isinstance(df, pl.LazyFrame) else df


def _require_value(df: pl.DataFrame, column: str, value: object, what: str, hint: str) -> None:
    """InputError listing the values present unless ``value`` occurs in ``df[column]``."""
    present = sorted(df[column].unique().drop_nulls().to_list())
    if value not in present:
        raise InputError(
            f"no rows for {column} {value!r} in {what}", column=column, values=present, hint=hint
        )


def _require_columns(df: pl.DataFrame | pl.LazyFrame, columns: Sequence[str], what: str) -> None:
    """InputError unless ``df`` is a Polars frame with ``columns`` (LazyFrames only where a caller collects)."""
    if not isinstance(df, (pl.DataFrame, pl.LazyFrame)):
        raise InputError(
            f"the {what} must be a Polars DataFrame, got {type(df).__name__}",
            values=[type(df).__name__],
            hint="pass the table `pendling compute` returns (or read one back with polars.read_parquet)",
        )
    names = df.collect_schema().names() if isinstance(df, pl.LazyFrame) else df.columns
    missing = [c for c in columns if c not in names]
    if missing:
        raise InputError(
            f"the {what} lacks columns needed for this figure",
            column=", ".join(missing),
            values=names,
            hint="use a results table written by `pendling compute` (or a distance table from `pendling plot --data-out`)",
        )

"""Maps of the travel-time matrix: minutes from one municipality (choropleth) and the 98×98 heatmap.

Drawn in EPSG:25832 (ETRS89 / UTM 32N, metres), the projection Danish agencies use. Like the line
figures, each function returns a :class:`~pendling.report.style.FigureResult` whose ``data`` is
exactly what is coloured, in drawing order.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from pendling._extras import optional

optional("matplotlib", "maps")  # first: a missing extra gets the install hint
from matplotlib.colors import BoundaryNorm, Colormap
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from pendling import paths
from pendling.errors import DataMissingError, InputError
from pendling.report import style
from pendling.report.style import FigureResult

if TYPE_CHECKING:
    import geopandas as gpd

METRIC_CRS = "EPSG:25832"
# East to west, then north: the order the report lists regions in, so Copenhagen sits top-left.
REGION_ORDER = (1084, 1085, 1083, 1082, 1081)
REGION_SHORT = {1084: "Hovedstaden", 1085: "Sjælland", 1083: "Syddanmark", 1082: "Midtjylland", 1081: "Nordjylland"}
# Class breaks in minutes: quarter hours up to an hour, then the half/whole hours people plan by.
MINUTE_BINS = (0, 15, 30, 45, 60, 90, 120, 180, 240, 360)
KM_BINS = (0, 10, 20, 30, 50, 75, 100, 150, 200, 300, 400, 500)
FIXED_LINKS_FILE = "fixed_links.geojson"


def class_edges(top: float, bins: tuple[float, ...]) -> np.ndarray:
    """Colour class edges from 0 up to just above the largest value ``top`` (minutes or km).

    The breaks of ``bins`` below ``top``, then floor(top) + 1: the colour bar ends where the data
    end (the caption's range), and nothing above the last break is lumped into one wide class.
    """
    below = [b for b in bins if b < top]
    return np.array([*below, np.floor(top) + 1.0], dtype=float)


def load_fixed_links(path: str | Path | None = None) -> gpd.GeoDataFrame:
    """Road bridges/tunnels across water (``kind``, ``length_m``), EPSG:4326; ``None`` → shipped file."""
    gpd = optional("geopandas", "maps")

    p = Path(path) if path is not None else paths.reference_dir() / FIXED_LINKS_FILE
    if not p.is_file():
        raise DataMissingError(f"{p} is missing. Rebuild it with `python scripts/derive_fixed_links.py`.")
    return gpd.read_file(p)


def travel_time_data(origin: int, matrix: pl.DataFrame, names: pl.DataFrame, value: str = "minutes") -> pl.DataFrame:
    """Travel from ``origin`` to every municipality: ``destination`` Int16, ``name``, ``minutes``, ``km``.

    Sorted by destination code. ``names`` needs ``code`` and ``name``.
    """
    codes = set(matrix["origin"].unique().to_list())
    if origin not in codes:
        raise InputError(
            f"municipality {origin} is not an origin in the matrix",
            column="origin",
            values=[origin],
            hint="use a 3-digit municipality code, e.g. --from 101 (København) or --from 751 (Aarhus)",
        )
    if value not in matrix.columns:
        raise InputError(f"the matrix has no column {value!r}", column=value, values=matrix.columns)
    return (
        matrix.filter(pl.col("origin") == origin)
        .select(pl.col("destination").cast(pl.Int16), pl.col(value).cast(pl.Float64), *(["km"] if value != "km" else []))
        .join(names.select(pl.col("code").cast(pl.Int16).alias("destination"), "name"), on="destination", how="left")
        .select("destination", "name", value, *(["km"] if value != "km" else []))
        .sort("destination")
    )


def travel_time_map(
    origin: int,
    matrix: pl.DataFrame | None = None,
    *,
    boundaries: gpd.GeoDataFrame | None = None,
    ferries: gpd.GeoDataFrame | None = None,
    fixed_links: gpd.GeoDataFrame | None = None,
    value: str = "minutes",
) -> FigureResult:
    """Choropleth of car travel time (minutes) from ``origin`` to each municipality.

    Ferry routes are drawn dashed, bridges and tunnels across water solid, so the reader sees what
    the road graph crosses. ``boundaries`` defaults to :func:`pendling.geo.boundaries`, ``ferries`` to
    the ferry table's terminal-to-terminal lines (:func:`ferry_lines`), ``fixed_links`` to
    :func:`load_fixed_links`; pass an empty GeoDataFrame to leave a layer out. The polygon
    collection has ``gid='municipalities'`` and its colour array equals ``data[value]``.
    """
    _check_value(value)
    matrix = _matrix(matrix)
    boundaries = _boundaries(boundaries)
    names = pl.DataFrame({"code": boundaries["code"].astype("int64").to_list(), "name": boundaries["name"].to_list()})
    data = travel_time_data(origin, matrix, names, value)
    shapes = _align(boundaries, data["destination"].to_list())
    shapes = shapes.assign(value=data[value].to_numpy())

    fig = style.new_figure(8.0, 6.4)
    ax = fig.add_subplot()
    edges = class_edges(float(data[value].max()), MINUTE_BINS if value == "minutes" else KM_BINS)
    cmap = _cmap(len(edges) - 1)
    norm = BoundaryNorm(edges, cmap.N)
    shapes.plot(ax=ax, column="value", cmap=cmap, norm=norm, edgecolor="white", linewidth=0.3, gid="municipalities")
    shapes[shapes["code"] == origin].boundary.plot(ax=ax, color="#D55E00", linewidth=1.6)
    handles = [Patch(facecolor="none", edgecolor="#D55E00", label=f"origin: {origin} {_name(data, origin)}")]
    ferries = ferry_lines() if ferries is None else ferries
    if len(ferries):
        ferries.to_crs(METRIC_CRS).plot(ax=ax, color="#0072B2", linewidth=0.9, linestyle=(0, (3, 2)), gid="ferries")
        handles.append(Line2D([], [], color="#0072B2", linestyle=(0, (3, 2)), label="car ferry"))
    links = load_fixed_links() if fixed_links is None else fixed_links
    if len(links):
        links.to_crs(METRIC_CRS).plot(ax=ax, color="#222222", linewidth=2.0, gid="fixed_links")
        handles.append(Line2D([], [], color="#222222", linewidth=2.0, label="bridge / tunnel"))
    cbar = fig.colorbar(ax.collections[0], ax=ax, shrink=0.7, spacing="uniform", ticks=edges)
    cbar.set_label("car travel time (minutes)" if value == "minutes" else "road distance (km)")
    cbar.ax.set_ylim(edges[0], edges[-1])
    ax.legend(handles=handles, loc="upper right", frameon=False, fontsize=8)
    ax.set_axis_off()
    ax.set_aspect("equal")
    what = "Car travel time" if value == "minutes" else "Road distance"
    ax.set_title(f"{what} from {_name(data, origin)} ({origin})", loc="left")
    measure = ("Car minutes of the fastest route between municipality points, ferries included (crossing + "
               "boarding)" if value == "minutes" else
               "Road km of the fastest car route between municipality points, ferries included")
    unit = "minutes" if value == "minutes" else "km"
    caption = (
        f"{measure}. Range {data[value].min():.0f}–{data[value].max():.0f} {unit}; "
        f"own municipality = within-municipality {'time' if value == 'minutes' else 'distance'}.\n"
        "© OpenStreetMap contributors (ODbL); boundaries: DAGI 1:500 000, SDFI. Projection EPSG:25832."
    )
    style.add_caption(fig, caption)
    return FigureResult(fig, data, caption)


def matrix_data(matrix: pl.DataFrame, municipalities: pl.DataFrame, value: str = "minutes") -> pl.DataFrame:
    """The matrix as a square wide table ordered by region (east → west) then code.

    First column ``origin`` (Int16), then one Float64 column per destination code (as text), in the
    same order as the rows.
    """
    order = (
        municipalities.select(pl.col("code").cast(pl.Int16), pl.col("region_code").cast(pl.Int16))
        .filter(pl.col("code").is_in(matrix["origin"].unique().implode()))
        .with_columns(rank=pl.col("region_code").replace_strict(
            {r: i for i, r in enumerate(REGION_ORDER)}, default=len(REGION_ORDER), return_dtype=pl.Int8
        ))
        .sort("rank", "code")
    )
    missing = sorted(set(matrix["origin"].unique().to_list()) - set(order["code"].to_list()))
    if missing:
        raise InputError(
            "matrix codes without a region in the municipality table",
            column="origin",
            values=missing,
            hint="use the shipped municipality table (pendling geo build)",
        )
    codes = order["code"].to_list()
    wide = matrix.pivot(on="destination", index="origin", values=value, sort_columns=False)
    wide = wide.rename({c: str(c) for c in wide.columns})
    return (
        order.select(pl.col("code").alias("origin"))
        .join(wide.with_columns(pl.col("origin").cast(pl.Int16)), on="origin", how="left", maintain_order="left")
        .select("origin", *(pl.col(str(c)).cast(pl.Float64) for c in codes))
    )


def matrix_heatmap(
    matrix: pl.DataFrame | None = None,
    *,
    municipalities: pl.DataFrame | None = None,
    value: str = "minutes",
) -> FigureResult:
    """Heatmap of the whole matrix (rows = origin, columns = destination), ordered by region.

    ``data`` is :func:`matrix_data`; the image (``ax.images[0]``, ``gid='matrix'``) holds exactly its
    numeric part. Region blocks are outlined and labelled.
    """
    _check_value(value)
    matrix = _matrix(matrix)
    if municipalities is None:
        from pendling import geo

        municipalities = geo.municipalities()
    data = matrix_data(matrix, municipalities, value)
    values = data.drop("origin").to_numpy()
    regions = (
        data.select("origin")
        .join(municipalities.select(pl.col("code").cast(pl.Int16).alias("origin"), "region_code"), on="origin", how="left")
        ["region_code"].to_list()
    )

    fig = style.new_figure(7.6, 6.6)
    ax = fig.add_subplot()
    im = ax.imshow(values, cmap="viridis", interpolation="nearest", aspect="equal", gid="matrix")
    cbar = fig.colorbar(im, ax=ax, shrink=0.8)
    cbar.set_label("car travel time (minutes)" if value == "minutes" else "road distance (km)")
    starts = [i for i, r in enumerate(regions) if i == 0 or r != regions[i - 1]]
    ends = [*starts[1:], len(regions)]
    for s in starts[1:]:
        ax.axhline(s - 0.5, color="white", linewidth=0.8)
        ax.axvline(s - 0.5, color="white", linewidth=0.8)
    mids = [(s + e - 1) / 2 for s, e in zip(starts, ends, strict=True)]
    labels = [REGION_SHORT.get(regions[s], str(regions[s])) for s in starts]
    ax.set_xticks(mids, labels, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(mids, labels, fontsize=8)
    ax.tick_params(length=0)
    ax.set_xlabel("destination (work) municipality")
    ax.set_ylabel("origin (home) municipality")
    what = "Travel-time" if value == "minutes" else "Road-distance"
    ax.set_title(f"{what} matrix, {len(regions)}×{len(regions)} municipalities", loc="left")
    caption = (
        f"Ordered by region (east → west), then municipality code. Range {np.nanmin(values):.0f}–"
        f"{np.nanmax(values):.0f} {'minutes' if value == 'minutes' else value}; diagonal = within-municipality "
        f"{'time' if value == 'minutes' else 'distance'}."
    )
    style.add_caption(fig, caption)
    return FigureResult(fig, data, caption)


def ferry_lines(path: str | Path | None = None) -> gpd.GeoDataFrame:
    """Straight terminal-to-terminal lines of the car-ferry table (EPSG:4326), for drawing only.

    The table is read and checked by :func:`pendling.routing.ferries.load_ferries` (``None`` → the
    shipped ``data/reference/ferries.csv``); columns ``route`` and ``minutes`` (crossing + wait +
    extra, the edge time the router uses).
    """
    gpd = optional("geopandas", "maps")
    linestrings = optional("shapely", "maps").linestrings

    from pendling.routing.ferries import load_ferries

    t = load_ferries(path)
    xy = t.select("lon_a", "lat_a", "lon_b", "lat_b").to_numpy().reshape(-1, 2, 2)
    minutes = t.select(pl.sum_horizontal("crossing_minutes", "wait_minutes", "extra_minutes"))
    return gpd.GeoDataFrame(
        {"route": t["route"].to_list(), "minutes": minutes.to_series().to_list()},
        geometry=list(linestrings(xy)),
        crs="EPSG:4326",
    )


def _matrix(matrix: pl.DataFrame | None) -> pl.DataFrame:
    if matrix is None:
        from pendling.odmatrix import load_matrix

        return load_matrix()
    return matrix


def _boundaries(boundaries: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    if boundaries is None:
        from pendling import geo

        boundaries = geo.boundaries()
    if boundaries.crs is None:
        raise InputError("the boundaries have no CRS", hint="set one (the shipped file is EPSG:4326)")
    return boundaries.to_crs(METRIC_CRS)


def _align(boundaries: gpd.GeoDataFrame, codes: list[int]) -> gpd.GeoDataFrame:
    """Boundaries in the order of ``codes``; every code must have exactly one polygon."""
    b = boundaries.assign(code=boundaries["code"].astype("int64")).set_index("code", drop=False)
    missing = sorted(set(codes) - set(b.index))
    if missing or b.index.has_duplicates:
        raise InputError(
            "the boundaries do not match the matrix municipalities",
            column="code",
            values=missing or sorted(b.index[b.index.duplicated()].unique()),
            hint="use the shipped boundaries (pendling geo build) with the shipped matrix",
        )
    return b.loc[codes].reset_index(drop=True)


def _name(data: pl.DataFrame, code: int) -> str:
    hit = data.filter(pl.col("destination") == code)["name"]
    return str(hit[0]) if len(hit) and hit[0] is not None else str(code)


def _check_value(value: str) -> None:
    if value not in ("minutes", "km"):
        raise InputError(f"cannot map {value!r}", column=value, values=[value], hint="use minutes or km")


def _cmap(n: int) -> Colormap:
    from matplotlib import colormaps

    # Light = near, dark = far; resampled so each class gets a distinct shade.
    return colormaps["YlGnBu"].resampled(n)

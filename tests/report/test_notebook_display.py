"""Notebook use of the report API: a FigureResult shows as its figure, report functions take a Panel,
and the two year-axis figures share one layout."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from matplotlib.colors import to_rgb
from polars.testing import assert_frame_equal

from pendling.errors import InputError
from pendling.panel import Panel
from pendling.report import figures, maps, style

from .test_figures import _panel

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height in pixels from the IHDR chunk (read here, not by matplotlib)."""
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    ihdr = data[16:29]
    assert zlib.crc32(kind + ihdr) == struct.unpack(">I", data[29:33])[0]
    return struct.unpack(">II", ihdr[:8])


def test_repr_png_is_the_saved_png(results: pl.DataFrame, tmp_path: Path) -> None:
    fr = figures.plot_change(results, flow="movers")
    png = fr._repr_png_()
    # 8 × 5 inches at 150 dpi, the size every change figure is saved at
    assert _png_size(png) == (8 * style.DPI, 5 * style.DPI)
    assert png == style.save_figure(fr.figure, tmp_path / "change.png").read_bytes()
    # deterministic: further calls and a freshly built figure give the same bytes
    assert fr._repr_png_() == png and fr._repr_png_() == png
    assert figures.plot_change(results, flow="movers")._repr_png_() == png
    # a different figure is a different picture
    assert figures.plot_change(results, flow="job_changers")._repr_png_() != png
    # the existing API is unchanged
    assert fr.figure is not None and fr.data.height > 0 and "suppressed" in fr.caption


@pytest.mark.parametrize("make", ["change", "heatmap"])
def test_saved_bytes_do_not_depend_on_earlier_draws(results, toy_matrix, tmp_path: Path, make: str) -> None:
    """Constrained layout drifts a little on every draw; a shown-then-saved figure must still save
    the bytes a straight save gives, in both formats."""
    def build() -> style.FigureResult:
        return figures.plot_change(results) if make == "change" else maps.matrix_heatmap(toy_matrix)

    straight = {ext: style.save_figure(build().figure, tmp_path / f"straight.{ext}").read_bytes() for ext in ("png", "svg")}
    fr = build()
    for i in range(4):  # shown a few times, saved in between
        assert fr._repr_png_() == straight["png"]
        assert style.save_figure(fr.figure, tmp_path / f"again{i}.svg").read_bytes() == straight["svg"]
    assert style.save_figure(fr.figure, tmp_path / "last.png").read_bytes() == straight["png"]


def test_ipython_displays_the_figure(toy_matrix: pl.DataFrame) -> None:
    formatters = pytest.importorskip("IPython.core.formatters")
    fr = maps.matrix_heatmap(toy_matrix)
    data, _ = formatters.DisplayFormatter().format(fr)
    assert "image/png" in data
    assert data["image/png"] == fr._repr_png_()
    assert _png_size(data["image/png"]) == (round(7.6 * style.DPI), round(6.6 * style.DPI))


def _as_panel(frame: pl.DataFrame) -> Panel:
    attrition = pl.DataFrame(
        {"stage": ["panel"], "year": [None], "bucket": ["kept"], "n": [frame.height], "description": ["kept"]},
        schema={"stage": pl.Utf8, "year": pl.Int16, "bucket": pl.Utf8, "n": pl.Int64, "description": pl.Utf8},
    )
    return Panel(frame=frame, attrition=attrition, sources=["<test>"])


@pytest.mark.parametrize("region", ["all", "hovedstaden", "rest"])
def test_distance_by_year_accepts_panel_and_lazy_frame(toy_matrix: pl.DataFrame, region: str) -> None:
    frame = _panel()
    expected = figures.distance_by_year(frame, toy_matrix, region=region)
    assert_frame_equal(figures.distance_by_year(_as_panel(frame), toy_matrix, region=region), expected)
    assert_frame_equal(figures.distance_by_year(frame.lazy(), toy_matrix, region=region), expected)


def test_distance_by_year_of_a_panel_by_hand(toy_matrix: pl.DataFrame) -> None:
    # 2019 over all of Denmark, from the matrix km without the engine: 4×(101→147) 2×(147→147)
    # 5×(751→751) 3×(751→461)
    km = {(o, d): k for o, d, k in toy_matrix.select("origin", "destination", "km").iter_rows()}
    expected = (4 * km[(101, 147)] + 2 * km[(147, 147)] + 5 * km[(751, 751)] + 3 * km[(751, 461)]) / 14
    out = figures.distance_by_year(_as_panel(_panel()), toy_matrix)
    assert out.filter(pl.col("year") == 2019)["mean_km"].item() == pytest.approx(expected)


@pytest.mark.parametrize(
    "bad",
    [
        {"year": [2019], "home_muni": [101], "work_muni": [147]},
        pd.DataFrame({"year": [2019], "home_muni": [101], "work_muni": [147]}),
        "extracts/",
    ],
    ids=["dict", "pandas", "path"],
)
def test_distance_by_year_other_input_is_an_input_error(toy_matrix: pl.DataFrame, bad: object) -> None:
    with pytest.raises(InputError, match="expected a pendling Panel or a Polars DataFrame/LazyFrame") as info:
        figures.distance_by_year(bad, toy_matrix)
    assert "load_panel" in (info.value.hint or "")


def test_lazy_panel_missing_columns_is_an_input_error(toy_matrix: pl.DataFrame) -> None:
    with pytest.raises(InputError, match="lacks columns") as info:
        figures.distance_by_year(_panel().drop("work_muni").lazy(), toy_matrix)
    assert info.value.column == "work_muni"


def test_change_figure_of_a_non_frame_is_an_input_error(results: pl.DataFrame) -> None:
    with pytest.raises(InputError, match="must be a Polars DataFrame, got dict"):
        figures.plot_change(results.to_dict(as_series=False))
    # a lazy results table draws the same figure as the eager one
    assert figures.plot_change(results.lazy())._repr_png_() == figures.plot_change(results)._repr_png_()


def test_year_axis_figures_share_one_layout(results: pl.DataFrame, toy_matrix: pl.DataFrame) -> None:
    change = figures.plot_change(results)
    distance = figures.plot_distance(figures.distance_by_year(_panel(), toy_matrix))
    for fr, gid in ((change, "all"), (distance, "pendling")):
        (ax,) = fr.figure.axes
        caption = fr.figure.get_supxlabel()
        assert caption == fr.caption
        text = fr.figure._supxlabel
        assert text.get_fontsize() == 7 and text.get_ha() == "left" and text.get_position()[0] == 0.01
        assert ax.get_title(loc="left") and ax.get_legend() is not None
        assert ax.get_legend().get_frame_on() is False
        assert not ax.spines["top"].get_visible() and not ax.spines["right"].get_visible()
        assert ax.xaxis.get_major_locator()._integer
        line = next(x for x in ax.lines if x.get_gid() == gid)
        band = next(c for c in ax.collections if c.get_gid() == f"{gid}_ci")
        assert line.get_marker() == "o" and line.get_markersize() == 4
        assert np.allclose(band.get_facecolor()[0][:3], to_rgb(line.get_color()))
        assert band.get_alpha() == 0.15
    assert change.figure.axes[0].get_xlabel().startswith("Year t (change")
    assert distance.figure.axes[0].get_xlabel() == "Year (November)"


def test_drawn_figures_are_not_kept_alive(results: pl.DataFrame) -> None:
    import gc
    import weakref

    fr = figures.plot_change(results)
    fr._repr_png_()
    gone = weakref.ref(fr.figure)
    del fr
    gc.collect()
    assert gone() is None  # the first-layout record must not pin the figure in memory

"""Figures, maps and Excel export of pendling results.

- :mod:`pendling.report.figures`: relative change per year and job group; commuting distance vs AFSTB4.
- :mod:`pendling.report.maps`: travel time from one municipality; the 98×98 matrix as a heatmap.
- :mod:`pendling.report.excel`: results + attrition + method notes as one .xlsx, with a disclosure check.
- :mod:`pendling.report.style`: the shared palette, :class:`FigureResult` and deterministic saving.

Every figure function returns ``FigureResult(figure, data, caption)``: ``data`` is exactly what is drawn.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "FigureResult": "pendling.report.style",
    "save_figure": "pendling.report.style",
    "JOB_GROUP_COLOURS": "pendling.report.style",
    "change_data": "pendling.report.figures",
    "plot_change": "pendling.report.figures",
    "distance_by_year": "pendling.report.figures",
    "plot_distance": "pendling.report.figures",
    "load_afstb4_national": "pendling.report.afstb4",
    "travel_time_map": "pendling.report.maps",
    "matrix_heatmap": "pendling.report.maps",
    "load_fixed_links": "pendling.report.maps",
    "ferry_lines": "pendling.report.maps",
    "write_results_xlsx": "pendling.report.excel",
    "disclosure_problems": "pendling.report.excel",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # Lazy: importing pendling.report must not pull in matplotlib/geopandas until a figure is made.
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pendling.report' has no attribute {name!r}")

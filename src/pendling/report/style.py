"""One look for every pendling figure: the job-group palette, labels, and deterministic saving.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot, no global state, so no
GUI backend is ever touched on a headless research server; PNG is drawn by Agg), and saved with fixed metadata so a rerun on the same data gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib
import polars as pl
from matplotlib.figure import Figure

from pendling.errors import InputError
from pendling.io import atomic_path

JOB_GROUPS: tuple[str, ...] = ("digital", "office", "physical_social", "unclassified", "all")

# Okabe–Ito colours (readable with colour-vision deficiency); 'all' is black so it reads as the total.
JOB_GROUP_COLOURS: dict[str, str] = {
    "digital": "#0072B2",
    "office": "#E69F00",
    "physical_social": "#009E73",
    "unclassified": "#999999",
    "all": "#000000",
}

JOB_GROUP_LABELS: dict[str, str] = {
    "digital": "Digital & knowledge-based",
    "office": "Traditional office",
    "physical_social": "Physical & social",
    "unclassified": "Unclassified DISCO",
    "all": "All employed",
}

REGION_LABELS: dict[str, str] = {
    "all": "all of Denmark",
    "hovedstaden": "Region Hovedstaden",
    "rest": "outside Region Hovedstaden",
}

FLOW_LABELS: dict[str, str] = {
    "movers": "Movers who kept their workplace",
    "job_changers": "Job changers who kept their home",
}

# Fixed so SVG element ids (hashed with this salt) do not change between runs.
SVG_HASHSALT = "pendling"
FIGURE_FORMATS = (".png", ".svg")
DPI = 150


@dataclass(frozen=True)
class FigureResult:
    """A figure and the exact table it draws (one row per plotted point; gaps are null/NaN).

    ``caption`` is the line printed under the plot (n range, suppression rule, source).
    """

    figure: Figure
    data: pl.DataFrame
    caption: str


def colour(job_group: str) -> str:
    """Colour of a job group; the same in every figure."""
    return JOB_GROUP_COLOURS.get(job_group, "#CC79A7")


def label(job_group: str) -> str:
    return JOB_GROUP_LABELS.get(job_group, job_group)


def new_figure(width_in: float = 8.0, height_in: float = 5.0) -> Figure:
    """A blank figure (inches) with the pendling defaults; not registered with pyplot."""
    fig = Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` atomically as PNG or SVG (by suffix) with fixed metadata: reruns are byte-identical."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FIGURE_FORMATS:
        raise InputError(
            f"unsupported figure format {suffix or '(none)'!r}",
            file=path,
            hint="name the output file …png or …svg",
        )
    # Date/Software metadata would embed the run time and matplotlib version; drop both.
    metadata = {"Date": None} if suffix == ".svg" else {"Software": None}
    with matplotlib.rc_context({"svg.hashsalt": SVG_HASHSALT, "svg.fonttype": "path"}):
        with atomic_path(path, suffix) as tmp:
            fig.savefig(tmp, format=suffix[1:], dpi=DPI, metadata=metadata)
    return path

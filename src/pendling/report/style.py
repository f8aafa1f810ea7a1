"""One look for every pendling figure: the job-group palette, labels, and deterministic saving.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot, no global state, so no
GUI backend is ever touched on a headless research server; PNG is drawn by Agg), and saved with fixed metadata so a rerun on the same data gives the same bytes.
"""

from __future__ import annotations

import io
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pendling._extras import optional

optional("matplotlib", "plot")  # first: a missing extra gets the install hint
import matplotlib
import polars as pl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.transforms import Bbox

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
    "all": "All three groups",  # job group total: unclassified DISCO codes are outside it
}

REGION_LABELS: dict[str, str] = {
    "all": "all of Denmark",
    "hovedstaden": "Region Hovedstaden",
    "rest": "outside Region Hovedstaden",
    # compute(by='region')
    "nordjylland": "Region Nordjylland",
    "midtjylland": "Region Midtjylland",
    "syddanmark": "Region Syddanmark",
    "sjaelland": "Region Sjælland",
    # compute(by='kommunegruppe'): DST kommunegrupper v1:2018
    "hovedstadskommuner": "Hovedstadskommuner",
    "storbykommuner": "Storbykommuner",
    "provinsbykommuner": "Provinsbykommuner",
    "oplandskommuner": "Oplandskommuner",
    "landkommuner": "Landkommuner",
}
DISTANCE_REGIONS = ("all", "hovedstaden", "rest")

FLOW_LABELS: dict[str, str] = {
    "movers": "Movers who kept their workplace",
    "job_changers": "Job changers who kept their home",
}

# Axes positions of each figure as they were before its first draw (see _reset_layout). Weak at
# both levels: an Axes refers to its figure, so a plain inner dict would keep every figure alive.
_FIRST_LAYOUT: weakref.WeakKeyDictionary[Figure, weakref.WeakKeyDictionary[Axes, tuple[Bbox, Bbox]]] = (
    weakref.WeakKeyDictionary()
)

# Fixed so SVG element ids (hashed with this salt) do not change between runs.
SVG_HASHSALT = "pendling"
FIGURE_FORMATS = (".png", ".svg", ".pdf")
DPI = 150


@dataclass(frozen=True)
class FigureResult:
    """A figure and the exact table it draws (one row per plotted point; gaps are null/NaN).

    ``caption`` is the line printed under the plot (n range, suppression rule, source).
    Returned last in a notebook cell it shows as the figure itself (:meth:`_repr_png_`).
    """

    figure: Figure
    data: pl.DataFrame
    caption: str

    def _repr_png_(self) -> bytes:
        """The figure as PNG bytes, the same bytes :func:`save_figure` writes to a .png file.

        IPython/Jupyter call this to display the result; the figure is never registered with pyplot,
        so without it a notebook would only print the dataclass repr.
        """
        buf = io.BytesIO()
        _render(self.figure, buf, "png")
        return buf.getvalue()


def colour(job_group: str) -> str:
    """Colour of a job group; the same in every figure."""
    return JOB_GROUP_COLOURS.get(job_group, "#CC79A7")


def label(job_group: str) -> str:
    return JOB_GROUP_LABELS.get(job_group, job_group)


def new_figure(width_in: float = 8.0, height_in: float = 5.0) -> Figure:
    """A blank figure (inches) with the pendling defaults; not registered with pyplot."""
    fig = Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    return fig


def add_caption(fig: Figure, caption: str) -> None:
    """Print ``caption`` (n range, suppression rule, source) small and left-aligned under the plot."""
    fig.supxlabel(caption, fontsize=7, x=0.01, ha="left", color="#333333")


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` atomically as PNG, SVG or PDF (by suffix) with fixed metadata: reruns are byte-identical."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FIGURE_FORMATS:
        raise InputError(
            f"unsupported figure format {suffix or '(none)'!r}",
            file=path,
            hint="name the output file …png, …svg or …pdf",
        )
    with atomic_path(path, suffix) as tmp:
        _render(fig, tmp, suffix[1:])
    return path


def _render(fig: Figure, target: str | Path | IO[bytes], fmt: str) -> None:
    """Draw ``fig`` as ``fmt`` ('png', 'svg' or 'pdf') at :data:`DPI` with fixed metadata.

    The bytes depend only on the figure and the format, not on how often it was drawn before.
    """
    _reset_layout(fig)
    # Date/Software metadata would embed the run time and matplotlib version; drop both.
    metadata: dict[str, None] = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "Producer": None}}.get(
        fmt, {"Software": None})
    with matplotlib.rc_context({"svg.hashsalt": SVG_HASHSALT, "svg.fonttype": "path"}):
        fig.savefig(target, format=fmt, dpi=DPI, metadata=metadata)


def _reset_layout(fig: Figure) -> None:
    """Put every layout-managed Axes back where it was before the figure's first draw.

    Constrained layout starts from the current Axes positions, and each draw moves them by ~1e-14,
    now and then enough to shift a pixel: a figure shown in a notebook and then saved would differ
    from the same figure saved straight away. Starting each draw from the first state makes every
    draw of a format identical to the first.
    """
    if not isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine):
        return
    first = _FIRST_LAYOUT.setdefault(fig, weakref.WeakKeyDictionary())
    for ax in fig.axes:
        if not ax.get_in_layout():  # placed by hand (set_position): leave it where the user put it
            continue
        if ax in first:
            original, active = first[ax]
            ax.set_position(original, which="original")
            ax.set_position(active, which="active")
            ax.set_in_layout(True)  # set_position takes an Axes out of the layout; keep it managed
        else:
            first[ax] = (ax.get_position(original=True).frozen(), ax.get_position(original=False).frozen())

"""Where pendling finds its shipped data and where it caches generated data.

Resolution order for the data directory:
1. the ``PENDLING_DATA_DIR`` environment variable;
2. ``data/`` at the root of a source checkout (editable install, the normal case);
3. ``pendling/_data`` inside an installed wheel.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

_PKG = Path(__file__).resolve().parent
_REPO_DATA = _PKG.parents[1] / "data"
_WHEEL_DATA = _PKG / "_data"


def data_dir() -> Path:
    """Directory holding the shipped reference data (municipalities, OD matrix, road graph, mappings)."""
    env = os.environ.get("PENDLING_DATA_DIR")
    if env:
        return Path(env)
    if _REPO_DATA.is_dir():
        return _REPO_DATA
    return _WHEEL_DATA


def repo_root() -> Path | None:
    """Root of the source checkout, or None when running from an installed wheel."""
    root = _PKG.parents[1]
    return root if (root / "pyproject.toml").is_file() else None


def cache_dir() -> Path:
    """Per-user cache for generated artefacts (e.g. the synthetic demo extract).

    Override with ``PENDLING_CACHE_DIR`` (tests point it at a temporary directory).
    """
    env = os.environ.get("PENDLING_CACHE_DIR")
    path = Path(env) if env else Path(platformdirs.user_cache_dir("pendling"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def municipalities_dir() -> Path:
    return data_dir() / "municipalities"


def od_matrix_dir() -> Path:
    return data_dir() / "od_matrix"


def roads_dir() -> Path:
    """The stored national car road graph (contracted; nodes/edges Parquet, graph.json), as written by
    `pendling roads build` and read by :func:`pendling.routing.load_graph`."""
    return data_dir() / "roads"


def reference_dir() -> Path:
    """Editable mapping tables (DISCO-08 → job group, column maps, ferry table...)."""
    return data_dir() / "reference"

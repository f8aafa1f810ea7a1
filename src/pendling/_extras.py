"""Optional dependencies: ``pip install pendling`` is the lean core; extras add the rest.

The core (panel reading incl. SAS/Stata extracts, ``compute``, ``synth``, the shipped matrix, every
output format) needs none of the packages below. A feature that does imports them through
:func:`optional`, so a missing package fails with the extra to install, not a bare ImportError.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from pendling.errors import PendlingError

# extra: the import names it provides (pyproject.toml's [project.optional-dependencies] installs them)
EXTRAS: dict[str, tuple[str, ...]] = {
    "plot": ("matplotlib",),
    "maps": ("matplotlib", "geopandas", "shapely", "pyproj", "pyogrio"),
    "routing": ("osmium", "mapbox_vector_tile", "geopandas", "shapely", "pyproj", "pyogrio", "pandana"),
}
EXTRAS["build"] = EXTRAS["routing"]

# pip names differ from import names for these
PIP_NAMES = {"osmium": "osmium", "mapbox_vector_tile": "mapbox-vector-tile"}


class MissingExtraError(PendlingError):
    """A feature needs a package of an optional extra that is not installed."""

    def __init__(self, module: str, extra: str, feature: str | None = None) -> None:
        self.module, self.extra = module, extra
        what = feature or f"this feature of pendling ({extra})"
        super().__init__(
            f"{what} needs the optional package {PIP_NAMES.get(module, module)!r}, which is not installed\n"
            f"  what to do: pip install \"pendling[{extra}]\"  (or \"pendling[all]\" for every feature)"
        )


def optional(module: str, extra: str, feature: str | None = None) -> ModuleType:
    """Import ``module`` (e.g. ``"geopandas"``) of extra ``extra``; if it is missing, raise
    :class:`MissingExtraError` naming the extra (the CLI prints it and exits with status 2).

    Use at each import site of an optional package: ``gpd = optional("geopandas", "maps")``.
    """
    if extra not in EXTRAS or module.split(".")[0] not in EXTRAS[extra]:
        raise ValueError(f"{module!r} is not part of the extra {extra!r}")  # a bug, not a user error
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in EXTRAS[extra]:
            raise  # installed, but broken inside (a missing shared library, say): show the real error
        raise MissingExtraError(missing, extra, feature) from None

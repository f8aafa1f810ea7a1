"""pendling: commute-time mobility engine for Danish register data.

The public API, imported lazily so ``import pendling`` stays fast:

* geo: :func:`municipalities`, :func:`boundaries`
* travel times: :func:`load_matrix` (the shipped 98×98 matrix), :func:`build_graph`, :func:`travel_time_matrix`,
  :func:`pair_times` (any zone pairs: municipalities, national grid cells, points; zones in ``pendling.zones``)
* registers: :func:`load_panel`, :func:`attrition`
* statistics: :func:`compute`
* synthetic data: :func:`synthesize`, :func:`demo_extract`
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "municipalities": "pendling.geo",
    "boundaries": "pendling.geo",
    "load_matrix": "pendling.odmatrix",
    "build_graph": "pendling.routing",
    "travel_time_matrix": "pendling.routing",
    "pair_times": "pendling.routing",
    "load_panel": "pendling.panel",
    "attrition": "pendling.mobility",
    "compute": "pendling.mobility",
    "contrast": "pendling.mobility",
    "sensitivity": "pendling.mobility",
    "synthesize": "pendling.synth",
    "demo_extract": "pendling.synth",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'pendling' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_API))

"""Movers and job-changers: flows between November t-1 and t, commute-time statistics, disclosure control.

    >>> import pendling.mobility as mob
    >>> results = mob.compute(panel, years="2015-2022", by="region")      # doctest: +SKIP

Modules: :mod:`~pendling.mobility.flows` (classifies every person-year in Polars, sums cells in DuckDB),
:mod:`~pendling.mobility.stats` (estimators per cell), :mod:`~pendling.mobility.disclosure`
(DST disclosure control as pure functions on result tables), :mod:`~pendling.mobility.api`.
"""

from pendling.mobility.api import (
    MobilityResult,
    attrition,
    compute,
    flow_attrition,
    parse_years,
    run,
    transitions,
    years_label,
)
from pendling.mobility.contrast import contrast
from pendling.mobility.disclosure import apply_count_disclosure, apply_disclosure, recoverable_cells
from pendling.mobility.flows import BUCKETS, FLOWS
from pendling.mobility.sensitivity import sensitivity

__all__ = [
    "BUCKETS",
    "FLOWS",
    "MobilityResult",
    "apply_count_disclosure",
    "apply_disclosure",
    "attrition",
    "compute",
    "contrast",
    "flow_attrition",
    "parse_years",
    "recoverable_cells",
    "run",
    "sensitivity",
    "transitions",
    "years_label",
]

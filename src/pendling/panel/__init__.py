"""Register extracts → canonical person-year panel with an attrition table; DISCO-08 → job group.

Public API::

    load_panel(source, *, column_map=None, years=None, strict=True, on_duplicate=None, jobgroups=None,
               zones=False) -> Panel                    # zones: read the grid cells (True, "auto", "grid1km" ...)
    Panel(frame, attrition, sources, flags, warnings, provenance)
    attrition(panel_or_source) -> pl.DataFrame          # stage 'panel' attrition table
    check_attrition(table, n_input, stage='panel')      # raises unless the counts sum to the input
    export_panel(panel, out) -> {name: path}            # table + job_group + region_code, and side files
    load_mapping(path=None), assign_job_group(frame, mapping=None)
    load_column_map(path_or_dict=None) -> ColumnMap

See :mod:`pendling.panel.columns` for the canonical columns and :mod:`pendling.panel.buckets` for the
attrition buckets and their precedence.
"""

from pendling.panel.buckets import (
    ATTRITION_SCHEMA,
    FLAGS_SCHEMA,
    KEPT_BUCKETS,
    PANEL_BUCKETS,
    PANEL_FLAGS,
    attrition_wide,
    check_attrition,
    rows_per_year,
)
from pendling.panel.columns import CANONICAL_COLUMNS, CANONICAL_SCHEMA, ColumnMap, load_column_map
from pendling.panel.jobgroups import JOB_GROUPS, assign_job_group, job_group_expr, load_mapping
from pendling.panel.load import Panel, add_derived_columns, attrition, export_panel, load_panel, side_paths

__all__ = [
    "ATTRITION_SCHEMA",
    "CANONICAL_COLUMNS",
    "CANONICAL_SCHEMA",
    "FLAGS_SCHEMA",
    "JOB_GROUPS",
    "KEPT_BUCKETS",
    "PANEL_BUCKETS",
    "PANEL_FLAGS",
    "ColumnMap",
    "Panel",
    "add_derived_columns",
    "assign_job_group",
    "attrition",
    "attrition_wide",
    "check_attrition",
    "export_panel",
    "job_group_expr",
    "load_column_map",
    "load_mapping",
    "load_panel",
    "rows_per_year",
    "side_paths",
]

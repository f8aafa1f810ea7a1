#!/usr/bin/env bash
# Regenerate the figures the README shows (committed PNGs in docs/img/).
#
#   scripts/make_readme_figures.sh            # from the repository root or anywhere inside it
#
# Needs the shipped data (matrix, municipalities, ferry table) and the engine; the line figure is
# computed from the built-in synthetic demo extract, and its caption says so. Output is
# deterministic: rerunning on the same inputs gives byte-identical PNGs.
set -euo pipefail

cd "$(dirname "$0")/.."
PENDLING="${PENDLING:-$( [ -x .venv/bin/pendling ] && echo .venv/bin/pendling || echo pendling )}"
OUT=docs/img
mkdir -p "$OUT"

# Figure: movers who kept their workplace, mean relative change in commute time by job group (report Fig 3.7).
"$PENDLING" plot --figure movers -o "$OUT/movers_by_job_group.png"

# Map: car travel time from København (101), ferries and fixed links drawn.
"$PENDLING" map --from 101 -o "$OUT/travel_time_from_101.png"

ls -l "$OUT"/movers_by_job_group.png "$OUT"/travel_time_from_101.png

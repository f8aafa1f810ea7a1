#!/usr/bin/env bash
# Re-derive the shipped road graph (data/roads/) and travel-time matrix (data/od_matrix/) from the
# OpenMapTiles vector tiles of Denmark (tokenless-tiles/denmark gh-pages 6451d712, built by tilemaker
# from the Geofabrik Denmark extract of about 2021-08-05). Deterministic: same tiles → same bytes.
#
# Usage: scripts/build_matrix.sh [TILES_DIR]   (default ../shared/data/roads/tiles relative to the repo)
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TILES="${1:-$REPO_ROOT/../shared/data/roads/tiles}"
PENDLING="${PENDLING:-$REPO_ROOT/.venv/bin/pendling}"
[ -x "$PENDLING" ] || PENDLING="pendling"
[ -d "$TILES/13" ] || { echo "error: no zoom-13 tiles under $TILES" >&2; exit 2; }

"$PENDLING" roads build --tiles "$TILES" --osm-date 2021-08-05 --out "$REPO_ROOT/data/roads"
"$PENDLING" matrix build --graph "$REPO_ROOT/data/roads" --points inside --internal area --out "$REPO_ROOT/data/od_matrix"
"$PENDLING" matrix check --matrix "$REPO_ROOT/data/od_matrix/od_matrix.parquet"

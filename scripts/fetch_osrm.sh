#!/usr/bin/env bash
# Fetch the OSRM command-line tools (osrm-extract/partition/customize/routed + car.lua) shipped inside
# the PyPI wheel osrm-bindings==26.10.0 and unpack them into <repo>/.cache/osrm/.
#
# The wheel is cp312-only, but the binaries in it need only libc/libstdc++, so we download it for
# Python 3.12 without installing it and just unzip it. Idempotent: does nothing when the binaries are
# already in place and run. Used by the routing tests (OSRM backend) and the bootstrap/CI script.
#
# Usage: scripts/fetch_osrm.sh [DEST]   (default: <repo>/.cache/osrm)
set -euo pipefail

VERSION="26.10.0"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$REPO_ROOT/.cache/osrm}"
PY="${PYTHON:-$REPO_ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"

if [ -x "$DEST/osrm/bin/osrm-routed" ] && [ -f "$DEST/VERSION" ] && [ "$(cat "$DEST/VERSION")" = "$VERSION" ]; then
    echo "OSRM $VERSION already in $DEST"
    exit 0
fi

mkdir -p "$DEST"
TMP="$(mktemp -d "$DEST/.download.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

"$PY" -m pip download --quiet --no-deps --only-binary=:all: \
    --python-version 3.12 --platform manylinux_2_28_x86_64 \
    "osrm-bindings==$VERSION" -d "$TMP"

WHEEL="$(ls "$TMP"/osrm_bindings-"$VERSION"-*.whl | head -n 1)"
"$PY" - "$WHEEL" "$TMP/unpacked" <<'PYEOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as zf:
    members = [m for m in zf.namelist() if m.startswith("osrm/bin/") or m.startswith("osrm/share/")]
    zf.extractall(sys.argv[2], members)
PYEOF
chmod +x "$TMP"/unpacked/osrm/bin/*
rm -rf "$DEST/osrm"
mv "$TMP/unpacked/osrm" "$DEST/osrm"
echo "$VERSION" > "$DEST/VERSION"

if "$DEST/osrm/bin/osrm-routed" --version >/dev/null 2>&1; then
    echo "OSRM $VERSION installed in $DEST ($("$DEST/osrm/bin/osrm-routed" --version 2>&1 | head -n 1))"
else
    echo "warning: OSRM binaries unpacked in $DEST but do not run on this machine; OSRM tests will skip" >&2
fi

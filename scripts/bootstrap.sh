#!/usr/bin/env bash
# Set up everything pendling needs on a fresh machine, idempotently:
#   a virtual environment in .venv with pendling (editable), its test tools and the docs tools (mkdocs),
#   and the OSRM binaries used by the OSRM backend tests (from the osrm-bindings wheel on PyPI).
# Usage: bash scripts/bootstrap.sh        (PYTHON=python3.12 to pick another interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "pendling needs Python >= 3.11; found $("$PY" --version 2>&1). Set PYTHON=/path/to/python3.11+." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $("$PY" --version)"
  "$PY" -m venv .venv
fi
echo "==> installing pendling and its dependencies into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[all,test,docs]"

if [ -f scripts/fetch_osrm.sh ]; then
  echo "==> OSRM binaries (for the OSRM backend and its tests)"
  bash scripts/fetch_osrm.sh || echo "warning: OSRM binaries could not be installed; OSRM tests will be skipped" >&2
fi
echo "==> ready: .venv/bin/pendling --help"

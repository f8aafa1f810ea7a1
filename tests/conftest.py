"""Suite-wide setup: generated artefacts go to a per-session temporary cache, never the user's."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    if "PENDLING_CACHE_DIR" not in os.environ:
        os.environ["PENDLING_CACHE_DIR"] = str(tmp_path_factory.mktemp("pendling-cache"))

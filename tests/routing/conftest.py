"""Shared fixtures for the routing tests: the real OSM extracts in tests/data/osm (ODbL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pendling import routing

OSM_DIR = Path(__file__).resolve().parents[1] / "data" / "osm"


@pytest.fixture(scope="session")
def osm_dir() -> Path:
    return OSM_DIR


@pytest.fixture(scope="session")
def sindal_raw() -> routing.RoadGraph:
    """Sindal, no ferries, largest component, not simplified (OSM nodes kept)."""
    return routing.build_graph(osm=OSM_DIR / "sindal.osm", ferries=False, simplify=False)


@pytest.fixture(scope="session")
def roenne_raw() -> routing.RoadGraph:
    return routing.build_graph(osm=OSM_DIR / "roenne.osm", ferries=False, simplify=False)


@pytest.fixture(scope="session")
def kalvebod_all() -> routing.RoadGraph:
    """Ørestad with every component kept (the extract cuts the motorway at its edges)."""
    return routing.build_graph(osm=OSM_DIR / "kalvebod_faelled.osm", ferries=False, keep_largest=False, simplify=False)

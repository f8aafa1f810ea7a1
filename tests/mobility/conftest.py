"""Fixtures for the mobility tests; the hand-built rows themselves live in mobility_cases.py."""

from __future__ import annotations

import polars as pl
import pytest

from mobility_cases import MINUTES, panel_rows


@pytest.fixture
def panel() -> pl.DataFrame:
    return panel_rows()


@pytest.fixture
def matrix() -> pl.DataFrame:
    return pl.DataFrame(
        [(o, d, m, m) for (o, d), m in sorted(MINUTES.items())],
        schema={"origin": pl.Int16, "destination": pl.Int16, "minutes": pl.Float64, "km": pl.Float64},
        orient="row",
    )


@pytest.fixture
def municipalities() -> pl.DataFrame:
    return pl.DataFrame(
        {"code": [101, 147, 751], "region_code": [1084, 1084, 1082], "kommunegruppe_code": [1, 1, 2]},
        schema={"code": pl.Int16, "region_code": pl.Int16, "kommunegruppe_code": pl.Int8},
    )

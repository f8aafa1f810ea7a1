"""Shared synthetic extracts for the synth tests (generated once per session, small and fast)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pendling.odmatrix import load_matrix
from pendling.synth import SynthResult, generate

DEFAULT_PERSONS = 150_000


@pytest.fixture(scope="session")
def matrix() -> pl.DataFrame:
    return load_matrix()


@pytest.fixture(scope="session")
def default_extract(tmp_path_factory: pytest.TempPathFactory, matrix: pl.DataFrame) -> SynthResult:
    """The default scenario (planted effects from 2020), 150,000 persons, 2017-2022."""
    out: Path = tmp_path_factory.mktemp("synth-default")
    return generate(out, persons=DEFAULT_PERSONS, years="2017-2022", seed=11, scenario="default", matrix=matrix)


@pytest.fixture(scope="session")
def null_extract(tmp_path_factory: pytest.TempPathFactory, matrix: pl.DataFrame) -> SynthResult:
    """No planted effect anywhere (data/scenarios/null.toml), 150,000 persons, 2016-2022."""
    out: Path = tmp_path_factory.mktemp("synth-null")
    return generate(out, persons=DEFAULT_PERSONS, years="2016-2022", seed=12, scenario="null", matrix=matrix)

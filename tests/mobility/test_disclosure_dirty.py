"""Issue 19, on the extract it was found on: `pendling synth --scenario dirty` at 20,000 persons,
compute by region. A few unclassified movers used to cost the digital line of Hovedstaden."""

from __future__ import annotations

import polars as pl
import pytest

from pendling import load_panel, mobility
from pendling.mobility.disclosure import recoverable_cells
from pendling.synth import generate

KEYS = ["year", "flow", "job_group", "region"]


@pytest.fixture(scope="module")
def dirty(tmp_path_factory):
    out = tmp_path_factory.mktemp("dirty20k")
    generate(out, persons=20_000, scenario="dirty")  # seed 1, 2015-2022, shipped matrix: the CLI's defaults
    panel = load_panel(out, on_duplicate="drop")
    raw = mobility.compute(panel, by="region", disclosure=False)
    safe = mobility.compute(panel, by="region")
    return raw, safe


def test_no_headline_cell_is_suppressed_for_an_unclassified_cell(dirty):
    raw, safe = dirty
    both = safe.join(raw.select(*KEYS, pl.col("n").alias("n_raw")), on=KEYS)
    unclassified_primary = both.filter((pl.col("job_group") == "unclassified") & (pl.col("suppression") == "primary"))
    assert unclassified_primary.height > 0  # the case of the issue is there
    assert both.filter((pl.col("suppression") == "complementary") & (pl.col("n_raw") >= 50)).is_empty()
    # complements of the unclassified cells stay in the unclassified rows
    blocks = unclassified_primary.select("year", "flow").unique()
    others = both.join(blocks, on=["year", "flow"]).filter(
        (pl.col("suppression") == "complementary") & (pl.col("job_group") != "unclassified"))
    primaries = both.join(others.select("year", "flow").unique(), on=["year", "flow"]).filter(
        (pl.col("suppression") == "primary") & (pl.col("job_group") != "unclassified"))
    assert others.is_empty() or primaries.height > 0  # a classified complement only for a classified primary
    # the headline figure lines (digital, office, physical & social, all × hovedstaden/rest/all) are complete
    headline = both.filter(pl.col("job_group") != "unclassified", pl.col("region").is_in(["hovedstaden", "rest", "all"]))
    assert headline.filter(pl.col("n_raw") >= 50)["suppressed"].sum() == 0


def test_margin_check_still_proves_nothing_is_recoverable(dirty):
    _, safe = dirty
    assert recoverable_cells(safe).is_empty()
    published = safe.filter(~pl.col("suppressed"))["n"]
    assert not ((published > 0) & (published < 5)).any()

"""The planted truth against computations that do not share the generator's code.

1. Cell means and counts re-derived from the written files with plain Polars joins (not the
   mobility engine): every count equal, every mean within the stated tolerance.
2. The expected value of one cell recomputed from scratch from the gravity parameters, with a Python
   loop over candidate municipalities, equal to truth.parquet to rounding.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from synth_helpers import cell_means, read_years

from pendling import geo
from pendling.panel.jobgroups import assign_job_group
from pendling.synth import TOLERANCE_SE_MULTIPLE, fit_gravity, load_scenario
from pendling.synth.scenario import REGIONS

KEYS = ["year", "flow", "job_group", "region"]


def test_truth_table_shape(default_extract) -> None:
    t = default_extract.truth
    assert t.columns[:6] == ["year", "flow", "job_group", "region", "expected_mean_rel_change", "tolerance"]
    assert set(t["flow"]) == {"movers", "job_changers"} and set(t["year"]) == set(range(2018, 2023))
    np.testing.assert_allclose(t["tolerance"], TOLERANCE_SE_MULTIPLE * t["standard_error"])


def test_truth_matches_an_independent_recount(default_extract, matrix) -> None:
    est = cell_means(default_extract.directory, matrix)
    j = default_extract.truth.join(est, on=KEYS, how="full", suffix="_files", coalesce=True)
    assert j["n"].null_count() == 0 and j["n_files"].null_count() == 0
    assert (j["n"] == j["n_files"]).all()  # exactly the persons the engine would classify
    dev = (j["mean_rel_change"] - j["expected_mean_rel_change"]).abs()
    assert (dev <= j["tolerance"]).all(), j.filter(dev > j["tolerance"])


def test_expected_value_recomputed_from_scratch(default_extract, matrix) -> None:
    """Movers, digital, Hovedstaden, 2022 and job changers, office, rest, 2021: E[r] by hand."""
    g = fit_gravity(matrix)
    scen = load_scenario("default")
    codes = g.codes.tolist()
    T = g.minutes
    n = len(codes)
    hov = set(geo.municipalities().filter(pl.col("region_code") == geo.REGION_HOVEDSTADEN)["code"].to_list())
    # share of local moves, from its definition
    s = sum(g.joint[h, w] * g.joint[h, w] / g.joint[:, w].sum() for h in range(n) for w in range(n))
    a = (scen.rates["move_within_municipality"] - s) / (1 - s)

    data = read_years(default_extract.directory)
    prev = data.with_columns((pl.col("year") + 1).cast(pl.Int16))
    pairs = assign_job_group(data.join(prev, on=["PNR", "year"], suffix="_0"),
                             disco_column="DISCO08_ALLE_INDK_13_0")
    real = (pl.col("LBNR") != 0) & (pl.col("LBNR_0") != 0)
    moved = (pl.col("ADRESSE_ID") != pl.col("ADRESSE_ID_0")) | (pl.col("KOM") != pl.col("KOM_0"))

    # movers: digital, hovedstaden, 2022
    m = scen.multipliers("movers", 2022)[0, REGIONS.index("hovedstaden")]
    movers = pairs.filter(real, moved, pl.col("LBNR") == pl.col("LBNR_0"), pl.col("ARBKOM") == pl.col("ARBKOM_0"),
                          pl.col("year") == 2022, pl.col("job_group") == "digital", pl.col("KOM_0").is_in(hov))
    expected = []
    for h0, w in movers.select("KOM_0", "ARBKOM").iter_rows():
        wi, hi0 = codes.index(w), codes.index(h0)
        weights = [g.A[h] * np.exp(-m * g.beta[h] * T[h, wi] + g.delta * (h == wi)) for h in range(n)]
        mean_t = sum(wt * T[h, wi] for h, wt in enumerate(weights)) / sum(weights)
        expected.append((1 - a) * (mean_t / T[hi0, wi] - 1))
    truth = default_extract.truth.filter(pl.col("year") == 2022, pl.col("flow") == "movers",
                                         pl.col("job_group") == "digital", pl.col("region") == "hovedstaden")
    assert truth["n"].item() == len(expected) > 100
    assert truth["expected_mean_rel_change"].item() == pytest.approx(np.mean(expected), rel=1e-9)

    # job changers: office, rest, 2021
    m = scen.multipliers("job_changers", 2021)[1, REGIONS.index("rest")]
    changers = pairs.filter(real, ~moved, pl.col("LBNR") != pl.col("LBNR_0"), pl.col("year") == 2021,
                            pl.col("job_group") == "office", ~pl.col("KOM_0").is_in(hov))
    expected = []
    for h, w0 in changers.select("KOM_0", "ARBKOM_0").iter_rows():
        hi, wi0 = codes.index(h), codes.index(w0)
        weights = [np.exp(-m * g.beta[hi] * T[hi, w] + g.delta * (w == hi)) * g.B[w] for w in range(n)]
        mean_t = sum(wt * T[hi, w] for w, wt in enumerate(weights)) / sum(weights)
        expected.append(mean_t / T[hi, wi0] - 1)
    truth = default_extract.truth.filter(pl.col("year") == 2021, pl.col("flow") == "job_changers",
                                         pl.col("job_group") == "office", pl.col("region") == "rest")
    assert truth["n"].item() == len(expected) > 100
    assert truth["expected_mean_rel_change"].item() == pytest.approx(np.mean(expected), rel=1e-9)

"""Contrasts 2019→2021 (digital/office minus physical & social) with person-clustered intervals."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pendling.errors import InputError
from pendling import load_panel
from pendling.mobility.contrast import contrast, contrast_rows, parse_contrast
from test_compute_cli import extract  # noqa: F401  (module fixture: DST-named extract)


def _simulated(simulations: int, persons: int, seed: int, shift: float = 0.0) -> pl.DataFrame:
    """Movers in 2019 and 2021 with a person effect shared by both years (strong clustering) and
    heavy-tailed r; ``shift`` is added to digital's r in 2021 only (0 = the null)."""
    rng = np.random.default_rng(seed)
    n = simulations * persons
    sim = np.repeat(np.arange(simulations), persons)
    group = rng.choice(np.array(["digital", "physical_social"]), size=n)
    effect = rng.normal(0, 0.5, n)  # log-normal r: skewed, like relative changes
    parts = []
    for year in (2019, 2021):
        present = rng.random(n) < 0.8  # most persons in both years, some in one
        r = np.exp(effect + rng.normal(0, 0.3, n)) - 1 + np.where((group == "digital") & (year == 2021), shift, 0)
        parts.append(pl.DataFrame({"sim": sim[present], "pnr": np.arange(n)[present], "year": year,
                                   "flow": "movers", "job_group": group[present], "region": "all", "r": r[present]}))
    return pl.concat(parts)


def test_null_intervals_cover_zero_about_95_percent():
    out = contrast_rows(_simulated(200, 400, seed=7), 2019, 2021, groups=["digital"], keys=["sim"])
    assert out.height == 200
    covered = ((out["ci_low"] <= 0) & (out["ci_high"] >= 0)).mean()
    # binomial sd of a 95 % rate over 200 draws is 1.5 pp: accept 95 % ± 4 pp (about 2.6 sd)
    assert 0.91 <= covered <= 0.99, covered


def test_ignoring_the_clustering_would_be_visible():
    # same data, every person-year its own cluster: the rises share persons, so the naive variance differs
    rows = _simulated(1, 4000, seed=3)
    clustered = contrast_rows(rows, 2019, 2021, groups=["digital"])
    naive = contrast_rows(rows.with_columns(pl.int_range(pl.len()).alias("pnr")), 2019, 2021, groups=["digital"])
    assert clustered["contrast"][0] == pytest.approx(naive["contrast"][0])
    assert clustered["se"][0] < 0.8 * naive["se"][0]  # positive within-person correlation cancels in a rise


def test_contrast_by_hand():
    rows = pl.DataFrame({
        "pnr": [1, 2, 3, 1, 2, 4, 5, 6, 5, 7],
        "year": [2019, 2019, 2019, 2021, 2021, 2021, 2019, 2019, 2021, 2021],
        "flow": ["movers"] * 10,
        "job_group": ["digital"] * 6 + ["physical_social"] * 4,
        "region": ["all"] * 10,
        "r": [0.1, 0.2, 0.3, 0.5, 0.4, 0.6, 0.1, 0.1, 0.2, 0.0],
    })
    out = contrast_rows(rows, 2019, 2021, groups=["digital"]).row(0, named=True)
    rise_d, rise_p = 0.5 - 0.2, 0.1 - 0.1
    assert out["rise"] == pytest.approx(rise_d) and out["rise_reference"] == pytest.approx(rise_p)
    assert out["contrast"] == pytest.approx(rise_d - rise_p)
    # influence by hand: each person's ±(r - cell mean)/n summed over their years
    psi = {1: -(0.1 - 0.2) / 3 + (0.5 - 0.5) / 3, 2: -(0.2 - 0.2) / 3 + (0.4 - 0.5) / 3, 3: -(0.3 - 0.2) / 3,
           4: (0.6 - 0.5) / 3, 5: (0.1 - 0.1) / 2 - (0.2 - 0.1) / 2, 6: (0.1 - 0.1) / 2, 7: -(0.0 - 0.1) / 2}
    g = len(psi)
    assert out["se"] == pytest.approx(np.sqrt(g / (g - 1) * sum(v * v for v in psi.values())))
    assert out["persons"] == 7 and out["n_min"] == 2


def test_parse_contrast():
    assert parse_contrast("2019:2021") == (2019, 2021) == parse_contrast((2019, 2021))
    with pytest.raises(InputError):
        parse_contrast("2021:2019")
    with pytest.raises(InputError):
        parse_contrast("2019")


def test_contrast_on_a_panel_and_its_suppression(panel, matrix, municipalities):
    # the tiny hand-built panel has 2020-2021 only: contrast 2020:2021 is defined where cells exist
    frame = pl.concat([panel, panel.with_columns(pl.col("year") - 2)]).sort("pnr", "year")
    out = contrast(frame, matrix, "2019:2021", municipalities=municipalities, disclosure=True, min_n=3)
    assert out["suppressed"].all() and out["contrast"].null_count() == out.height  # every cell tiny
    raw = contrast(frame, matrix, "2019:2021", municipalities=municipalities, disclosure=False)
    assert set(raw["flow"]) == {"movers", "job_changers"} and set(raw["job_group"]) <= {"digital", "office"}


def test_cli_contrast_writes_the_api_table(extract, tmp_path):  # noqa: F811
    from typer.testing import CliRunner

    from pendling.cli import app

    out = tmp_path / "res.csv"
    r = CliRunner().invoke(app, ["compute", "--panel", str(extract), "--year", "2021", "--contrast", "2020:2021",
                                 "--out", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    written = pl.read_csv(tmp_path / "res.contrast.csv")
    api = contrast(load_panel(extract), None, "2020:2021")
    assert written.height == api.height == 12  # 2 flows × 3 regions × 2 groups
    assert np.allclose(written["contrast"].fill_null(np.nan).to_numpy(), api["contrast"].fill_null(np.nan).to_numpy(),
                       equal_nan=True)


def test_default_scenario_digital_minus_physical_in_hovedstaden_is_clear():
    from pendling.synth import demo_extract

    panel = load_panel(demo_extract(), years=[2018, 2019, 2020, 2021])
    out = contrast(panel, None, "2019:2021")
    row = out.filter((pl.col("flow") == "movers") & (pl.col("region") == "hovedstaden")
                     & (pl.col("job_group") == "digital")).row(0, named=True)
    assert row["contrast"] > 0 and row["ci_low"] > 0, row
    jc = out.filter((pl.col("flow") == "job_changers") & (pl.col("region") == "all"))
    assert (jc["ci_low"] < 0.05).all()  # job-changers: nothing planted, no clear rise


def test_a_contrast_touching_a_complementary_suppressed_cell_is_hidden():
    # the four cells of (movers, hovedstaden, digital, 2019:2021): one of them (the reference's 2019 cell)
    # is hidden in the results as a complementary cell although its n is large: the contrast would give
    # its value away, so it is flagged; the contrast for 'rest' touches no hidden cell
    from pendling.mobility.contrast import touches_suppressed

    contrasts = pl.DataFrame({"flow": ["movers", "movers"], "region": ["hovedstaden", "rest"],
                              "job_group": ["digital", "digital"], "reference": ["physical_social"] * 2,
                              "first_year": [2019, 2019], "second_year": [2021, 2021]})
    results = pl.DataFrame({
        "flow": ["movers"] * 4, "region": ["hovedstaden", "hovedstaden", "rest", "rest"],
        "job_group": ["physical_social", "digital", "physical_social", "digital"],
        "year": pl.Series([2019, 2021, 2019, 2021], dtype=pl.Int16),
        "suppression": ["complementary", None, None, None]})
    assert touches_suppressed(contrasts, results).to_list() == [True, False]
    assert touches_suppressed(contrasts, results.with_columns(pl.lit(None, dtype=pl.Utf8).alias("suppression"))
                              ).to_list() == [False, False]

"""Synthetic register extracts with planted effects, their exact truth, a realism report and a demo.

    >>> from pendling.synth import synthesize, demo_extract, realism_report
    >>> result = synthesize("out", persons=1_000_000, years="2014-2022", seed=1)   # doctest: +SKIP
    >>> realism_report("out")                                                       # doctest: +SKIP

One file per year in DST's variable names (``PNR, KOM, ADRESSE_ID, LBNR, ARBKOM,
DISCO08_ALLE_INDK_13``) named ``ras<year>.<ext>``, plus ``truth.parquet`` (expected mean relative
change per cell under the generator's own model, with a tolerance) and ``manifest.json``; readable
by :func:`pendling.panel.load_panel` unchanged.

Modules: :mod:`~pendling.synth.calibration` (DST marginals, gravity fit on the travel-time matrix),
:mod:`~pendling.synth.scenario` (planted effects, rates, dirt; TOML), :mod:`~pendling.synth.model`
(the yearly process and per-person truth), :mod:`~pendling.synth.truth`, :mod:`~pendling.synth.writer`,
:mod:`~pendling.synth.report`, :mod:`~pendling.synth.api` (the entry points).
"""

from pendling.synth.calibration import Gravity, fit_gravity, gravity_table, matrix_hash
from pendling.synth.api import (
    GENERATOR_VERSION,
    SynthResult,
    demo_dir,
    demo_extract,
    generate,
    parse_years,
)
from pendling.synth.report import realism_report, yearly_summary
from pendling.synth.scenario import Scenario, load_scenario, parse_scenario
from pendling.synth.truth import TOLERANCE_SE_MULTIPLE
from pendling.synth.writer import FORMATS

synthesize = generate
"""Alias of :func:`generate` (the name :mod:`pendling` exports)."""

__all__ = [
    "FORMATS",
    "GENERATOR_VERSION",
    "Gravity",
    "Scenario",
    "SynthResult",
    "TOLERANCE_SE_MULTIPLE",
    "demo_dir",
    "demo_extract",
    "fit_gravity",
    "generate",
    "gravity_table",
    "load_scenario",
    "matrix_hash",
    "parse_scenario",
    "parse_years",
    "realism_report",
    "synthesize",
    "yearly_summary",
]

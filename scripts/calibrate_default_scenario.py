"""Recalibrate data/scenarios/default.toml to the report's stated values and print targets vs achieved.

Tunes only generator parameters (:mod:`pendling.synth.tuning`: movers' decay and same-municipality
multipliers per job group × region, before and from 2020; job changers' common decay and per-group
decay in Hovedstaden; the first year's workplace-draw decay), in memory on a simulated population,
then writes the scenario file and checks the planted expectation (``truth``, exactly what the
default run estimates) against every band of data/reference/report_figures.csv.

Deterministic: the same persons, seed and shipped matrix give the same file. One command:

    .venv/bin/python scripts/calibrate_default_scenario.py            # 1,000,000 persons, ~1-2 min

``--check-only`` skips the tuning and checks the committed scenario. The benchmark at national scale
(3 M persons, seeds 1-3, the engine on written extracts) is benchmarks/report_bands.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import polars as pl  # noqa: E402

from pendling.io import write_text  # noqa: E402
from pendling.mobility.report_figures import check_report_figures  # noqa: E402
from pendling.synth import tuning  # noqa: E402
from pendling.synth.api import build_world  # noqa: E402
from pendling.synth.scenario import load_scenario  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "data/scenarios/default.toml")
    ap.add_argument("--check-only", action="store_true", help="check the scenario in --out, do not tune")
    args = ap.parse_args()
    t0 = time.perf_counter()
    if not args.check_only:
        params = tuning.calibrate(args.persons, args.seed, passes=args.passes)
        write_text(tuning.scenario_toml(params), args.out)
        print(f"wrote {args.out} ({time.perf_counter() - t0:.0f} s)")
    scenario = load_scenario(args.out)
    truth, km, _ = tuning.simulate(build_world(args.persons, args.seed, scenario))
    check = check_report_figures(tuning.achieved(truth, km), km)
    with pl.Config(tbl_rows=60, tbl_width_chars=160, fmt_str_lengths=40, tbl_hide_dataframe_shape=True):
        print(f"targets (bands of report_figures.csv) vs achieved (planted expectation, {args.persons:,} persons, "
              f"seed {args.seed})")
        print(check.select("figure", "flow", "job_group", "region", "year", "measure", "low", "high",
                           pl.col("value").round(4), "ok"))
    print(f"{int(check['ok'].sum())} of {check.height} bands met; {time.perf_counter() - t0:.0f} s in all")
    sys.exit(0 if check["ok"].all() else 1)


if __name__ == "__main__":
    main()

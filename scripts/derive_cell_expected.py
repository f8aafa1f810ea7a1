"""Derive ``data/od_matrix/cell_expected_1km.parquet``: the expected cell-to-cell road minutes and km per
(home municipality, work municipality) under the grid synth's cell placement.

Run from the repository root (needs the stored road graph ``data/roads`` and the 1 km surface; a few
minutes on a cold pair cache)::

    .venv/bin/python scripts/derive_cell_expected.py [--seed 18] [--out data/od_matrix]

Method: :func:`pendling.synth.gridfit.expected_cell_matrix` — per municipality pair, independent weighted
draws of a home cell (``w_home``) and a work cell (``w_work``) of :func:`pendling.synth.cells.cell_weights`,
routed with :func:`pendling.routing.pairs.pair_times` (1 km grid, CH engine, pair cache), averaged.
Writes the parquet and ``cell_expected_1km.json`` (inputs and their hashes, sample sizes, seed, standard
errors, routing counts) atomically; the same inputs and seed give the same file.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from pendling import __version__, paths  # noqa: E402
from pendling.io import sha256_file, write_json, write_parquet  # noqa: E402
from pendling.odmatrix import load_matrix  # noqa: E402
from pendling.routing.pairs import last_summary, pair_times  # noqa: E402
from pendling.synth import cells  # noqa: E402
from pendling.synth import gridfit as G  # noqa: E402
from pendling.synth.calibration import matrix_arrays, matrix_hash  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=G.SEED)
    ap.add_argument("--out", type=Path, default=paths.od_matrix_dir())
    a = ap.parse_args()
    t0 = time.perf_counter()
    matrix = load_matrix()
    codes, minutes, _ = matrix_arrays(matrix)
    sizes = G.sample_sizes(minutes)
    weights = cells.cell_weights("grid1km")

    def times(pairs: pl.DataFrame) -> pl.DataFrame:
        return pair_times(pairs, "grid1km", engine="ch", on_invalid="null").select("origin", "destination", "minutes", "km")

    out = G.expected_cell_matrix(weights, codes, sizes, times, seed=a.seed)
    summary = last_summary()
    seconds = time.perf_counter() - t0
    a.out.mkdir(parents=True, exist_ok=True)
    target = a.out / G.CELL_EXPECTED_NAME
    write_parquet(out, target)
    diag = out.filter(pl.col("origin") == pl.col("destination"))
    rel = out.select((pl.col("minutes_se") / pl.col("minutes")).alias("r"), (pl.col("km_se") / pl.col("km")).alias("k"))
    surface = paths.data_dir() / "surface" / "grid_1km.parquet"
    prov = {
        "file": target.name,
        "sha256": sha256_file(target),
        "command": "python scripts/derive_cell_expected.py" + (f" --seed {a.seed}" if a.seed != G.SEED else ""),
        "pendling_version": __version__,
        "method": "per (home municipality i, work municipality j): mean road minutes and km of the fastest route "
                  "between independent weighted draws of a home cell of i (w_home) and a work cell of j (w_work) "
                  "of pendling.synth.cells.cell_weights('grid1km'), routed by pendling.routing.pairs.pair_times "
                  "(grid1km, engine ch, access legs included, same cell = within-cell time); draws that do not "
                  "route are counted (pairs - pairs_routed) and left out; se = sd / sqrt(pairs_routed)",
        "seed": a.seed,
        "sample_sizes": {"diagonal": G.PAIRS_DIAGONAL, "near": G.PAIRS_NEAR, "near_k": G.NEAR_K,
                         "far": G.PAIRS_FAR, "near_by": "shipped matrix minutes",
                         "total_draws": int(out["pairs"].sum()), "routed_draws": int(out["pairs_routed"].sum())},
        "inputs": {
            "od_matrix_sha256": matrix_hash(matrix),
            "surface_grid_1km_sha256": sha256_file(surface) if surface.is_file() else None,
            "surface_share": cells.SURFACE_SHARE,
            "home_classes": list(cells.HOME_CLASSES),
            "cells_weighted": int(weights.height),
        },
        "routing": None if summary is None else {
            "distinct_cell_pairs": summary.pairs, "routed": summary.routed, "same_zone": summary.same_zone,
            "not_routable": summary.not_routable, "node_pairs_routed": summary.node_pairs_routed,
            "node_pairs_cached": summary.node_pairs_cached, "engine": summary.engine},
        "standard_errors": {
            "diagonal_minutes_se_max": float(diag["minutes_se"].max()),
            "diagonal_km_se_max": float(diag["km_se"].max()),
            "relative_minutes_se_median": float(rel["r"].median()),
            "relative_minutes_se_max": float(rel["r"].max()),
            "relative_km_se_max": float(rel["k"].max()),
        },
        "seconds": round(seconds, 1),
    }
    write_json(prov, a.out / "cell_expected_1km.json")
    print(f"wrote {target} ({out.height} pairs, {int(out['pairs'].sum()):,} draws, "
          f"{int(out['pairs_routed'].sum()):,} routed) in {seconds:.0f} s")
    print(prov["standard_errors"], prov["routing"])
    cmp = out.join(matrix.select("origin", "destination", pl.col("km").alias("matrix_km")), on=["origin", "destination"])
    d = cmp.filter(pl.col("origin") == pl.col("destination"))
    print("diagonal km, cells vs matrix (mean):", round(float(d["km"].mean()), 2), round(float(d["matrix_km"].mean()), 2))


if __name__ == "__main__":
    main()

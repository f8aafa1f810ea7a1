"""Generate a synthetic register extract: one file per year, ``truth.parquet`` and ``manifest.json``.

Streams year by year (only the current state and one year's frame are in memory), so a national
run of 3 million persons needs a few hundred MB. Deterministic per seed: the same arguments give
byte-identical files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

import pendling
from pendling import geo, paths
from pendling.errors import InputError
from pendling.io import sha256_file, write_json, write_parquet
from pendling.synth.calibration import Gravity, fitted_gravity, matrix_hash
from pendling.synth.model import DST_COLUMNS, Simulation, World, local_move_share, nearest_neighbours
from pendling.synth.occupations import build_occupations
from pendling.synth.scenario import Scenario, load_scenario
from pendling.synth.truth import TOLERANCE_SE_MULTIPLE, finalize_truth

if TYPE_CHECKING:
    from pendling.synth.gridtruth import TimeSource
from pendling.synth.writer import check_format, write_extract

GENERATOR_VERSION = "2"  # 2: [initial] job_choice, effects with local (same-municipality bonus)
"""Bump whenever the model, calibration or file layout changes: cached demo extracts are rebuilt."""

DEMO_PERSONS = 200_000
DEMO_YEARS = (2014, 2022)  # from 2014, like the report's distance series (AFSTA4)
DEMO_SEED = 2015
DEMO_DIRNAME = "demo"

Progress = Callable[[int, int, int], None]
"""progress(done, total, year): called after each year is written."""


@dataclass
class SynthResult:
    """What :func:`generate` wrote. ``seconds`` (wall-clock per stage) is not written to disk."""

    directory: Path
    files: list[Path]
    truth: pl.DataFrame
    manifest: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)
    grid_truth: pl.DataFrame | None = None  # truth_<zones>.parquet, when a cell time source was given

    def _summary(self) -> tuple[str, list[tuple[str, str]], list[str]]:
        """Title, rows and detail attributes of the notebook/console summary (no manifest dump)."""
        from pendling import _summary as S

        m = self.manifest
        files = m.get("files", [])
        rows_written = sum(int(f.get("rows", 0)) for f in files)
        scenario = m.get("scenario", {})
        dirt = {k: v for k, v in (scenario.get("dirt") or {}).items() if v}
        rows = [
            ("persons", f"{int(m.get('persons', 0)):,} employed per year, seed {m.get('seed')}"),
            ("years", S.span(m.get("years", []))),
            ("rows", f"{rows_written:,} in {len(files)} {m.get('format', '')} files in {self.directory}"),
            ("scenario", S.cut(f"{scenario.get('name', '?')}: {scenario.get('description', '')}".strip().rstrip(":"))),
            ("dirt", ", ".join(f"{k} {v:g}" for k, v in sorted(dirt.items())) or "none"),
            ("truth", f"{self.truth.height:,} cells with expected values"),
        ]
        if self.seconds:
            rows.append(("took", f"{sum(self.seconds.values()):.1f} s"))
        return "SynthResult", rows, [".files", ".truth", ".manifest", ".seconds"]

    def __repr__(self) -> str:
        from pendling import _summary as S

        return S.text(*self._summary())

    def _repr_html_(self) -> str:
        from pendling import _summary as S

        return S.html_table(*self._summary())


def parse_years(years: str | Iterable[int] | tuple[int, int]) -> list[int]:
    """'2014-2022', '2014..2022', '2015' or an iterable of consecutive years → the list of years."""
    if isinstance(years, str):
        m = re.fullmatch(r"\s*(\d{4})\s*(?:(?:-|\.\.|:)\s*(\d{4}))?\s*", years)
        if not m:
            raise InputError("years must look like 2014-2022 or 2015", values=[years])
        first, last = int(m.group(1)), int(m.group(2) or m.group(1))
        out = list(range(first, last + 1))
    else:
        out = sorted(int(y) for y in years)
    if not out or out != list(range(out[0], out[0] + len(out))):
        raise InputError("years must be one consecutive range (the process runs year by year)", values=out)
    if out[0] < 2008 or out[-1] > 2100:
        raise InputError("years must lie in 2008-2100 (DISCO-08 and today's municipalities)", values=out)
    return out


def region_index(codes: np.ndarray) -> np.ndarray:
    """0 for municipalities in Region Hovedstaden, 1 for the rest, in the order of ``codes``."""
    mun = geo.municipalities().select("code", "region_code")
    lookup = dict(zip(mun["code"].to_list(), mun["region_code"].to_list(), strict=True))
    missing = [int(c) for c in codes if int(c) not in lookup]
    if missing:
        raise InputError("municipality codes without a region", values=missing)
    return np.array([0 if lookup[int(c)] == geo.REGION_HOVEDSTADEN else 1 for c in codes], dtype=np.int8)


def build_world(
    persons: int,
    seed: int,
    scenario: Scenario,
    matrix: pl.DataFrame | None = None,
    gravity: Gravity | None = None,
    zones: str = "municipality",
) -> World:
    """Fit (or take) the gravity model and set up occupations for a run. ``zones='grid1km'``: the
    choices use the gravity fitted on the expected cell-level times (:func:`pendling.synth.gridfit.grid_gravity`),
    the truth keeps the matrix's; the scenario's ``[initial] job_choice`` is translated to that fit
    (:func:`pendling.synth.gridfit.grid_initial_multiplier`, ``World.scenario`` holds the translated value)."""
    if persons < 1_000:
        raise InputError("persons must be at least 1,000", values=[persons],
                         hint="the generator needs a few persons per municipality")
    if gravity is None:
        if matrix is None:
            from pendling.odmatrix import load_matrix

            matrix = load_matrix()
        if zones == "municipality":
            gravity = fitted_gravity(matrix)
        else:
            from pendling.synth.gridfit import grid_gravity, grid_initial_multiplier

            gravity = grid_gravity(matrix)
            # the scenario's first-year multiplier was tuned on the matrix fit: the same relative shortening
            scenario = dataclasses.replace(scenario, initial_job_choice=grid_initial_multiplier(
                gravity, fitted_gravity(matrix), scenario.initial_job_choice))
    region = region_index(gravity.codes)
    occupations = build_occupations(float(gravity.residence[region == 0].sum()))
    a, _ = local_move_share(gravity, scenario.rates["move_within_municipality"])
    return World(
        gravity=gravity, occupations=occupations, scenario=scenario, region=region, persons=int(persons),
        seed=int(seed), local_move_share=a, nearest=nearest_neighbours(gravity.minutes),
    )


def generate(
    out: str | Path,
    *,
    persons: int = DEMO_PERSONS,
    years: str | Iterable[int] = "2015-2022",
    seed: int = 1,
    fmt: str = "parquet",
    scenario: str | Path | Scenario | None = None,
    matrix: pl.DataFrame | None = None,
    progress: Progress | None = None,
    zones: str = "municipality",
    cell_truth: TimeSource | str | None = None,
    cell_truth_min_prob: float = 0.0,
    cell_truth_progress: Callable[[int, int], None] | None = None,
) -> SynthResult:
    """Write a synthetic extract to ``out``: ``ras<year>.<fmt>`` per year, ``truth.parquet``, ``manifest.json``.

    ``persons``: employed persons per year; ``years``: e.g. '2014-2022'; ``fmt``: parquet, csv, dta or
    xpt (sas7bdat is not writable); ``scenario``: a TOML path, a shipped name ('default', 'null',
    'dirty') or a parsed Scenario; ``matrix``: travel-time matrix (default: the shipped one).
    ``zones``: 'municipality' (default) or 'grid1km': every dwelling and workplace also gets a 1 km
    DDKN cell in its municipality (columns BOP_DDKN, ARB_DDKN; :mod:`pendling.synth.cells`), and the
    workplace and home choices use the gravity fitted on the expected cell-level times
    (:mod:`pendling.synth.gridfit`): the municipality marginals and rates are the same targets, the
    flows between municipalities differ from a municipality-level extract's.

    ``cell_truth`` (grid zones only): a cell time source — 'routed' (the road graph, as
    ``compute --zones`` times the pairs) or a function pairs → minutes (:data:`gridtruth.TimeSource`) —
    adds ``truth_<zones>.parquet``, the exact cell-level truth under those times
    (:mod:`pendling.synth.gridtruth`); ``cell_truth_min_prob`` > 0 truncates each choice
    distribution's support (its moved mass is the ``tail_mass`` column); ``cell_truth_progress(done,
    total)`` reports the (key, cell) rows summed.
    """
    t_start = time.perf_counter()
    fmt = check_format(fmt)
    if zones not in ("municipality", "grid1km"):
        raise InputError("synth places cells at 1 km only", values=[zones], hint="use --zones municipality or grid1km")
    year_list = parse_years(years)
    scen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if matrix is None:
        from pendling.odmatrix import load_matrix

        matrix = load_matrix()
    world = build_world(persons, seed, scen, matrix=matrix, zones=zones)
    grid = None
    if cell_truth is not None:
        if zones == "municipality":
            raise InputError("a cell-level truth needs grid zones", values=["municipality"],
                             hint="pass zones='grid1km' (--zones grid1km) with the cell time source")
        from pendling.synth.gridtruth import GridTruth, routed_times

        if isinstance(cell_truth, str):
            if cell_truth != "routed":
                raise InputError("unknown cell time source", values=[cell_truth],
                                 hint="'routed', or a function pairs -> minutes")
            cell_truth = routed_times(zones)
        grid = GridTruth.build(world.gravity.codes, cell_truth, zones, seed, cell_truth_min_prob,
                               cell_truth_progress)
    out = Path(out)
    _check_out_dir(out, year_list)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {"setup": time.perf_counter() - t_start, "simulate": 0.0, "write": 0.0}

    sim = Simulation(world, grid)
    grid_parts: list[pl.DataFrame] = []
    file_info: list[dict[str, Any]] = []
    truth_parts: list[pl.DataFrame] = []
    events: dict[str, dict[str, int]] = {}

    if zones != "municipality":
        from pendling.synth.cells import add_cells, cell_weights

        cell_weights(zones)  # once, before the writer thread needs it

    def write(frame: pl.DataFrame, year: int) -> tuple[dict[str, Any], float]:
        t = time.perf_counter()
        if zones != "municipality":
            frame = add_cells(frame, zones, seed)
        path = write_extract(frame, out, year, fmt)
        info = {"name": path.name, "year": year, "rows": frame.height, "sha256": sha256_file(path)}
        return info, time.perf_counter() - t

    # Year t+1 is simulated while year t is compressed and written (Polars and NumPy release the
    # GIL); at most one year waits, so memory stays at about two years' frames.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: Future[tuple[dict[str, Any], float]] | None = None
        for i, year in enumerate(year_list):
            t0 = time.perf_counter()
            result = sim.first_year(year) if i == 0 else sim.next_year(year)
            seconds["simulate"] += time.perf_counter() - t0
            if pending is not None:
                _collect(pending, file_info, seconds, progress, len(year_list))
            pending = pool.submit(write, result.frame, year)
            events[str(year)] = result.events
            if result.truth is not None:
                truth_parts.append(result.truth)
            if result.grid_truth is not None:
                grid_parts.append(result.grid_truth)
            del result
        if pending is not None:
            _collect(pending, file_info, seconds, progress, len(year_list))
    files = [out / f["name"] for f in file_info]

    truth = finalize_truth(truth_parts)
    write_parquet(truth, out / "truth.parquet")
    manifest = _manifest(world, scen, year_list, fmt, file_info, events, matrix)
    if zones != "municipality":
        from pendling.synth.cells import HOME_COLUMN, WORK_COLUMN

        manifest["columns"] += [HOME_COLUMN, WORK_COLUMN]
        manifest["zones"] = {
            "system": zones,
            "placement": "municipality chosen by gravity fitted on the expected cell-to-cell times "
                         f"(data/od_matrix/cell_expected_1km.parquet, content sha256 {world.gravity.choice_sha256}), then the dwelling (ADRESSE_ID) "
                         "and workplace (LBNR) placed in a 1 km cell of that municipality by a hash of id and "
                         "municipality on road-metre weights (pendling.synth.cells)",
            "truth": "municipality level: truth.parquet holds the planted municipality-level expectation (the "
                     "matrix minutes under the grid-fitted choices)",
        }
    grid_truth = None
    if grid is not None:
        grid_truth = finalize_truth(grid_parts, zones)
        name = f"truth_{zones}.parquet"
        write_parquet(grid_truth, out / name)
        manifest["zones"]["truth"] = (f"truth.parquet: municipality level; {name}: cell level, the expectation over "
                                      "the model's municipality and cell choices under the cell time source "
                                      "(pendling.synth.gridtruth)")
        manifest["zones"]["cell_truth"] = {"file": name, "min_prob": grid.min_prob,
                                           "pairs_timed": grid.times.asked,
                                           "max_tail_mass": float(grid_truth["tail_mass"].max() or 0.0)}
    write_json(manifest, out / "manifest.json")
    if grid is not None:
        seconds["cell_truth"] = grid.seconds  # inside 'simulate'
    seconds["total"] = time.perf_counter() - t_start
    return SynthResult(directory=out, files=files, truth=truth, manifest=manifest, seconds=seconds,
                       grid_truth=grid_truth)


def _check_out_dir(out: Path, years: list[int]) -> None:
    """Refuse a folder holding extract files of other years: the panel reader would mix them in."""
    if not out.is_dir():
        return
    stale = sorted(
        p.name for p in out.iterdir()
        if (m := re.fullmatch(r"ras(\d{4})\.\w+", p.name)) and int(m.group(1)) not in years
    )
    if stale:
        raise InputError(
            "the output folder already holds extract files for other years",
            file=out,
            values=stale,
            hint="write to an empty (or new) folder; files for the same years are overwritten",
        )


def _collect(pending: Future[tuple[dict[str, Any], float]], file_info: list[dict[str, Any]],
             seconds: dict[str, float], progress: Progress | None, total: int) -> None:
    info, spent = pending.result()
    file_info.append(info)
    seconds["write"] += spent
    if progress is not None:
        progress(len(file_info), total, int(info["year"]))


def _manifest(world: World, scen: Scenario, years: list[int], fmt: str, files: list[dict[str, Any]],
              events: dict[str, dict[str, int]], matrix: pl.DataFrame) -> dict[str, Any]:
    g = world.gravity
    return {
        "generator": "pendling.synth",
        "generator_version": GENERATOR_VERSION,
        "pendling_version": pendling.__version__,
        "persons": world.persons,
        "years": years,
        "seed": world.seed,
        "format": fmt,
        "columns": list(DST_COLUMNS),
        "files": files,
        "truth": {
            "file": "truth.parquet",
            "tolerance_se_multiple": TOLERANCE_SE_MULTIPLE,
            "cells": "year (t) x flow x job group at t-1 x home region at t-1, with 'all' margins",
            "mover_definition": "address",
        },
        "scenario": {
            "name": scen.name,
            "description": scen.description,
            "source": Path(scen.source).name,
            "sha256": hashlib.sha256(scen.text.encode("utf-8")).hexdigest(),
            "rates": scen.rates,
            "dirt": scen.dirt,
        },
        "matrix_sha256": matrix_hash(matrix),
        "calibration": {
            **({"initial_job_choice": world.scenario.initial_job_choice}
               if world.scenario.initial_job_choice != scen.initial_job_choice else {}),
            "beta_bounds_per_minute": [float(g.beta.min()), float(g.beta.max())],
            "delta": g.delta,
            "iterations": g.iterations,
            "local_move_share": world.local_move_share,
            **{k: round(v, 12) for k, v in g.diagnostics.items()},
        },
        "events": events,
    }


def demo_dir() -> Path:
    return paths.cache_dir() / DEMO_DIRNAME


def _demo_is_current(directory: Path, matrix_sha: str) -> bool:
    manifest = directory / "manifest.json"
    if not manifest.is_file():
        return False
    try:
        meta = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if meta.get("generator_version") != GENERATOR_VERSION or meta.get("matrix_sha256") != matrix_sha:
        return False
    # a recalibrated default scenario must rebuild the demo too
    default = load_scenario("default")
    if meta.get("scenario", {}).get("sha256") != hashlib.sha256(default.text.encode("utf-8")).hexdigest():
        return False
    return all((directory / f["name"]).is_file() for f in meta.get("files", [])) and (
        directory / "truth.parquet"
    ).is_file()


def demo_extract(*, refresh: bool = False, progress: Progress | None = None) -> Path:
    """The small deterministic demo extract (200,000 persons, 2014-2022, Parquet) in the user cache.

    Generated on first use (a few seconds) and again whenever the generator version, the shipped
    default scenario or the shipped travel-time matrix changes. Built in a temporary directory and renamed into place, so a killed
    run never leaves a half-written demo. Returns the directory (pass it to ``load_panel``).
    """
    from pendling.odmatrix import load_matrix

    matrix = load_matrix()
    sha = matrix_hash(matrix)
    target = demo_dir()
    if not refresh and _demo_is_current(target, sha):
        return target
    cache = target.parent
    tmp = Path(tempfile.mkdtemp(prefix=".demo-build-", dir=cache))
    try:
        generate(tmp, persons=DEMO_PERSONS, years=f"{DEMO_YEARS[0]}-{DEMO_YEARS[1]}", seed=DEMO_SEED,
                 fmt="parquet", scenario="default", matrix=matrix, progress=progress)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=".demo-old-", dir=cache))
            os.replace(target, old / DEMO_DIRNAME)
        try:
            os.replace(tmp, target)
        except OSError:
            # another process put a demo in place meanwhile: keep theirs if it is good
            if not _demo_is_current(target, sha):
                raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target

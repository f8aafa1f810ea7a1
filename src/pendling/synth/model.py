"""The synthetic labour market, year by year: persons, homes, workplaces (LBNR), occupations.

State (one array entry per employed person): pseudonymous PNR, home municipality and dwelling
(ADRESSE_ID), workplace (an LBNR, or a fictive job with LBNR 0), workplace municipality, DISCO code.
Workplaces persist with a stable LBNR in a fixed municipality; a small share relocates each year.

Each transition t-1 → t (streams per year and purpose, see :mod:`pendling.synth.sampling`):

1. **exit**: a share ``rates.exit`` leaves employment (absent from year t);
2. **relocation**: a share ``rates.workplace_relocation`` of workplaces moves to one of the 5 nearest
   municipalities (their staff then has the same LBNR in another municipality);
3. **job change**: a share ``rates.job_change`` takes another workplace: municipality w from
   ``Q[h, w] ∝ B[w]·exp(-m·beta[h]·minutes[h, w] + delta·[h == w])`` (the calibrated gravity model
   with the scenario's decay multiplier m for the person's job group × home region × year), then a
   workplace in w by size (never the old one); the job group is kept;
4. **move**: a share ``rates.move`` moves home (always a new ADRESSE_ID). A share ``a`` of the moves
   is local (same municipality); the rest draw the municipality from
   ``K[w, h] ∝ A[h]·exp(-m·beta[h]·minutes[h, w] + delta·[h == w])`` (m for job group × region of the
   old home × year), which can again be the old one. ``a`` is set so that the share of moves that
   stay in the municipality equals ``rates.move_within_municipality`` under the calibrated model;
5. **entry**: as many new persons as left, drawn from the calibrated joint home × work distribution.

With every multiplier equal to 1 the job-change and move steps resample one coordinate of the
(home, work) pair from its conditional under the calibrated joint distribution, which leaves that
joint distribution unchanged: the realism targets hold in every year of a no-effect scenario.

**Planted truth.** For each person classified as a mover or job-changer (exactly as
:mod:`pendling.mobility.flows` classifies: address or KOM changed with the same non-zero LBNR and
workplace municipality; LBNR changed, both non-zero, home unchanged), the expected relative change
of commute time under the generator's own distribution is exact:
mover ``E[r] = (1-a)·(Σ_h K[w, h]·T[h, w] / T[h0, w] - 1)``; job changer
``E[r] = Σ_w Q[h, w]·T[h, w] / T[h, w0] - 1``, with the variance from the second moments.
:mod:`pendling.synth.truth` averages these per cell.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from pendling.panel.jobgroups import JOB_GROUPS
from pendling.synth import sampling as S
from pendling.synth.calibration import Gravity
from pendling.synth.occupations import RECODE_ON_JOB_CHANGE, Occupations
from pendling.synth.scenario import Scenario

if TYPE_CHECKING:
    from pendling.synth.gridtruth import GridTruth

MEAN_WORKPLACE_SIZE = 10.0  # employed persons per workplace (DST: ~3 M employed, ~300 000 workplaces)
WORKPLACE_SIZE_PARETO = 1.3  # tail index of workplace attractiveness: many small, a few very large
MIN_WORKPLACES = 2  # per municipality, so a job changer can always find another workplace there
RELOCATION_NEIGHBOURS = 5

# id ranges (pseudonyms): PNR and ADRESSE_ID 10 digits, LBNR 8 digits; multipliers coprime to moduli
PNR_IDS = (2_654_435_761, 9_000_000_000, 1_000_000_000)
ADDRESS_IDS = (1_597_334_677, 9_000_000_000, 1_000_000_000)
LBNR_IDS = (48_271, 90_000_000, 10_000_000)

DST_COLUMNS: dict[str, pl.DataType] = {
    "PNR": pl.Int64(),
    "KOM": pl.Int16(),
    "ADRESSE_ID": pl.Int64(),
    "LBNR": pl.Int64(),
    "ARBKOM": pl.Int16(),
    "DISCO08_ALLE_INDK_13": pl.String(),
}
N_GROUPS = len(JOB_GROUPS)
HOVEDSTADEN, REST = 0, 1


@dataclass(frozen=True)
class World:
    """Fixed inputs of a run: the fitted gravity model, occupations, scenario, seed and size."""

    gravity: Gravity
    occupations: Occupations
    scenario: Scenario
    region: np.ndarray  # per municipality index: 0 hovedstaden, 1 rest
    persons: int
    seed: int
    local_move_share: float
    nearest: np.ndarray  # [n_muni, RELOCATION_NEIGHBOURS] nearest other municipalities by minutes

    @property
    def n_muni(self) -> int:
        return int(self.gravity.codes.size)


def local_move_share(gravity: Gravity, within_target: float) -> tuple[float, float]:
    """(a, s): the share ``a`` of local moves that makes ``within_target`` of all moves stay in the
    municipality, given ``s`` = chance that a gravity draw lands in the old municipality (baseline)."""
    K = gravity.home_choice(1.0)  # [w, h]
    s = float((gravity.joint * K.T).sum())
    a = (within_target - s) / (1 - s)
    return float(np.clip(a, 0.0, 1.0)), s


def nearest_neighbours(minutes: np.ndarray, k: int = RELOCATION_NEIGHBOURS) -> np.ndarray:
    """The k nearest other municipalities (by travel minutes) of each municipality, as indices."""
    order = np.argsort(minutes + np.diag(np.full(minutes.shape[0], np.inf)), axis=1, kind="stable")
    return order[:, :k]


@dataclass(frozen=True)
class Kernels:
    """Choice distributions of one transition year, flattened for :func:`sampling.draw_rows`.

    Job choice rows: ``g * n + h``; home choice rows: ``(g * 2 + r) * n + w``. ``job_m1/m2``: first and
    second moments of T[h, w] (minutes) under each job-choice row; ``home_m1/m2``: of T[h, w] under
    each home-choice row.
    """

    job_flat: np.ndarray
    home_flat: np.ndarray
    job: np.ndarray  # [N_GROUPS * n, n] job-choice probabilities (rows g * n + h)
    home: np.ndarray  # [N_GROUPS * 2 * n, n] home-choice probabilities (rows (g * 2 + r) * n + w)
    job_m1: np.ndarray
    job_m2: np.ndarray
    home_m1: np.ndarray
    home_m2: np.ndarray


def build_kernels(world: World, year: int) -> Kernels:
    """The job- and home-choice distributions of transition year ``year`` under the scenario's
    decay multipliers (one per job group × region), with the moments the truth needs (minutes)."""
    g = world.gravity
    n = world.n_muni
    T = g.minutes
    mult_job = world.scenario.multipliers("job_changers", year)  # [group, region]
    mult_home = world.scenario.multipliers("movers", year)
    local_job = world.scenario.locals("job_changers", year)  # same-municipality bonus multipliers
    local_home = world.scenario.locals("movers", year)
    job = np.empty((N_GROUPS * n, n))
    home = np.empty((N_GROUPS * 2 * n, n))
    cache: dict[tuple[float, float], tuple[np.ndarray, np.ndarray]] = {}

    def choices(m: float, d: float) -> tuple[np.ndarray, np.ndarray]:
        if (m, d) not in cache:
            cache[(m, d)] = (g.job_choice(m, d), g.home_choice(m, d))
        return cache[(m, d)]

    for gi in range(N_GROUPS):
        # job changers: the multiplier depends on the region of the (unchanged) home h
        for r in (HOVEDSTADEN, REST):
            rows = world.region == r
            Q = choices(float(mult_job[gi, r]), float(local_job[gi, r]))[0]
            job[gi * n : (gi + 1) * n][rows] = Q[rows]
            K = choices(float(mult_home[gi, r]), float(local_home[gi, r]))[1]
            home[(gi * 2 + r) * n : (gi * 2 + r + 1) * n] = K
    home_T = np.tile(T.T, (N_GROUPS * 2, 1))  # row (g, r, w) → T[h, w] over h
    job_T = np.tile(T, (N_GROUPS, 1))  # row (g, h) → T[h, w] over w
    return Kernels(
        job_flat=S.row_offsets(S.cumulative(job)),
        home_flat=S.row_offsets(S.cumulative(home)),
        job=job,
        home=home,
        job_m1=(job * job_T).sum(axis=1),
        job_m2=(job * job_T**2).sum(axis=1),
        home_m1=(home * home_T).sum(axis=1),
        home_m2=(home * home_T**2).sum(axis=1),
    )


@dataclass
class Workplaces:
    """All workplaces: ``lbnr`` (stable id), ``muni`` (municipality index, may change on relocation),
    ``weight`` (attractiveness ∝ expected size). Sampling tables are rebuilt by :meth:`index`."""

    lbnr: np.ndarray
    muni: np.ndarray
    weight: np.ndarray
    order: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    start: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    count: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    flat: np.ndarray = field(default_factory=lambda: np.empty(0))

    def index(self, n_muni: int) -> None:
        """(Re)build the per-municipality sampling table (one increasing array over all workplaces)."""
        self.order = np.argsort(self.muni, kind="stable")
        muni_sorted = self.muni[self.order]
        self.count = np.bincount(muni_sorted, minlength=n_muni).astype(np.int64)
        self.start = np.concatenate([[0], np.cumsum(self.count)[:-1]])
        w = self.weight[self.order]
        csum = np.cumsum(w)
        before = np.concatenate([[0.0], csum])[self.start]
        total = np.add.reduceat(w, self.start) if w.size else w
        within = (csum - np.repeat(before, self.count)) / np.repeat(total, self.count)
        # the last workplace of each municipality ends exactly at 1.0
        last = self.start + self.count - 1
        within[last] = 1.0
        self.flat = within + muni_sorted.astype(np.float64)

    def draw(self, muni: np.ndarray, u: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
        """A workplace index in each municipality ``muni`` by size; never ``exclude`` (the old job)."""
        muni = muni.astype(np.int64)
        pos = np.searchsorted(self.flat, muni + u, side="right")
        pos = np.clip(pos, self.start[muni], self.start[muni] + self.count[muni] - 1)
        job = self.order[pos]
        if exclude is not None:
            same = job == exclude
            nxt = pos[same] + 1
            end = self.start[muni[same]] + self.count[muni[same]]
            nxt = np.where(nxt >= end, self.start[muni[same]], nxt)
            job[same] = self.order[nxt]
        return job


@dataclass
class YearOutput:
    """One year of the extract (DST names) and the truth contributions of the transition into it."""

    year: int
    frame: pl.DataFrame
    truth: pl.DataFrame | None  # per-cell sums (see truth.py); None for the first year
    events: dict[str, int]
    grid_truth: pl.DataFrame | None = None  # the same at cell level (gridtruth.py), when asked


class Simulation:
    """Runs the yearly process; call :meth:`first_year` once, then :meth:`next_year` for each later year."""

    def __init__(self, world: World, grid: GridTruth | None = None) -> None:
        self.w = world
        self.grid = grid  # cell-level truth (synth --zones grid1km with a cell time source), or None
        self.next_person = 0
        self.next_address = 0
        g = world.gravity
        self._baseline_job_flat = S.row_offsets(S.cumulative(g.job_choice(1.0)))
        # the first year's persons: the calibrated model is 2022's; commutes were shorter in 2014
        # (DST AFSTB4 ~20.5 km vs ~22.5 km), so the start can draw workplaces with a stronger decay and
        # relax towards the calibrated joint through job changes, moves and entrants
        m0 = world.scenario.initial_job_choice
        self._initial_job_flat = (self._baseline_job_flat if m0 == 1.0
                                  else S.row_offsets(S.cumulative(g.job_choice(m0))))
        self._residence_flat = S.row_offsets(S.cumulative(g.residence[None, :]))
        self._disco_flat = S.row_offsets(world.occupations.cum_region)
        self._disco_group_flat = S.row_offsets(world.occupations.cum_group_region)

    # -- ids ---------------------------------------------------------------------------------
    def _new_pnrs(self, k: int) -> np.ndarray:
        ids = S.scramble(np.arange(self.next_person, self.next_person + k), *PNR_IDS)
        self.next_person += k
        return ids

    def _new_addresses(self, k: int) -> np.ndarray:
        ids = S.scramble(np.arange(self.next_address, self.next_address + k), *ADDRESS_IDS)
        self.next_address += k
        return ids

    # -- new persons ---------------------------------------------------------------------------
    def _new_persons(self, k: int, rng: np.random.Generator, first: bool = False) -> dict[str, np.ndarray]:
        """k persons from the calibrated joint home × workplace distribution (baseline decay; the
        first year's with the scenario's ``[initial] job_choice`` multiplier)."""
        w, occ = self.w, self.w.occupations
        n = w.n_muni
        u = rng.random((k, 5))
        home = S.draw_rows(self._residence_flat, n, np.zeros(k, np.int64), u[:, 0])
        work = S.draw_rows(self._initial_job_flat if first else self._baseline_job_flat, n, home, u[:, 1])
        disco = S.draw_rows(self._disco_flat, occ.codes.size, w.region[home], u[:, 2])
        fictive = u[:, 3] < occ.fictive_share[occ.group[disco]]
        job = self.wp.draw(work, u[:, 4])
        job[fictive] = -1
        return {
            "pnr": self._new_pnrs(k),
            "home": home.astype(np.int16),
            "addr": self._new_addresses(k),
            "job": job.astype(np.int64),
            "work": work.astype(np.int16),
            "disco": disco.astype(np.int32),
        }

    # -- years ---------------------------------------------------------------------------------
    def first_year(self, year: int) -> YearOutput:
        w, g = self.w, self.w.gravity
        n = w.n_muni
        rng_wp = S.stream(w.seed, year, S.WORKPLACES)
        per_muni = np.maximum(MIN_WORKPLACES, np.rint(g.workplace * w.persons / MEAN_WORKPLACE_SIZE))
        per_muni = per_muni.astype(np.int64)
        n_wp = int(per_muni.sum())
        self.wp = Workplaces(
            lbnr=S.scramble(np.arange(n_wp), *LBNR_IDS),
            muni=np.repeat(np.arange(n, dtype=np.int16), per_muni),
            weight=rng_wp.pareto(WORKPLACE_SIZE_PARETO, n_wp) + 1.0,
        )
        self.wp.index(n)
        state = self._new_persons(w.persons, S.stream(w.seed, year, S.INIT), first=True)
        order = np.argsort(state["pnr"], kind="stable")
        self.state = {k: v[order] for k, v in state.items()}
        self.dirt = draw_dirt(w.scenario, S.stream(w.seed, year, S.DIRT), w.persons)
        return YearOutput(year, self._frame(), None, {"persons": w.persons, "workplaces": n_wp})

    def next_year(self, year: int) -> YearOutput:
        w, occ = self.w, self.w.occupations
        n = w.n_muni
        kern = build_kernels(w, year)
        rates = w.scenario.rates

        # 1. exits
        stay = S.stream(w.seed, year, S.EXIT).random(self.state["pnr"].size) >= rates["exit"]
        prev = {k: v[stay] for k, v in self.state.items()}
        prev_dirt = {k: v[stay] for k, v in self.dirt.items()}
        m = int(stay.sum())
        n_exit = int(stay.size - m)

        # 2. workplace relocation: staff keep the LBNR, the workplace municipality changes
        n_relocated = self._relocate(S.stream(w.seed, year, S.RELOCATE), rates["workplace_relocation"])
        cur = {k: v.copy() for k, v in prev.items()}
        real = cur["job"] >= 0
        cur["work"][real] = self.wp.muni[cur["job"][real]]

        # 3. job change: municipality by the gravity job choice, then a workplace there by size
        group_prev = occ.group[prev["disco"]].astype(np.int64)
        u = S.stream(w.seed, year, S.JOB).random((m, 6))
        idx = np.flatnonzero(u[:, 0] < rates["job_change"])
        h, g_i, uj = prev["home"][idx].astype(np.int64), group_prev[idx], u[idx]
        new_work = S.draw_rows(kern.job_flat, n, g_i * n + h, uj[:, 1])
        recode = uj[:, 2] < RECODE_ON_JOB_CHANGE
        rows = g_i[recode] * 2 + w.region[h[recode]]
        cur["disco"][idx[recode]] = S.draw_rows(self._disco_group_flat, occ.codes.size, rows, uj[recode, 3])
        new_job = self.wp.draw(new_work, uj[:, 5], exclude=prev["job"][idx])
        new_job[uj[:, 4] < occ.fictive_share[g_i]] = -1
        cur["job"][idx] = new_job
        cur["work"][idx] = new_work.astype(np.int16)

        # 4. moves: local (same municipality) or by the gravity home choice given the workplace
        u = S.stream(w.seed, year, S.MOVE).random((m, 3))
        midx = np.flatnonzero(u[:, 0] < rates["move"])
        local = u[midx, 1] < w.local_move_share
        far = midx[~local]
        rows = (group_prev[far] * 2 + w.region[prev["home"][far]]) * n + cur["work"][far].astype(np.int64)
        cur["home"][far] = S.draw_rows(kern.home_flat, n, rows, u[far, 2]).astype(np.int16)
        cur["addr"][midx] = self._new_addresses(midx.size)

        # 5. entrants replace the leavers; the state stays sorted by PNR (two sorted runs: a cheap merge)
        entrants = self._new_persons(n_exit, S.stream(w.seed, year, S.ENTRY))
        e_order = np.argsort(entrants["pnr"], kind="stable")
        merged = {k: np.concatenate([cur[k], entrants[k][e_order]]) for k in cur}
        order = np.argsort(merged["pnr"], kind="stable")
        self.state = {k: v[order] for k, v in merged.items()}
        self.dirt = draw_dirt(w.scenario, S.stream(w.seed, year, S.DIRT), self.state["pnr"].size)
        position = np.empty_like(order)
        position[order] = np.arange(order.size)
        cur_dirt = {k: v[position[:m]] for k, v in self.dirt.items()}

        truth = truth_sums(w, year, prev, cur, group_prev, kern, prev_dirt, cur_dirt)
        grid_truth = None
        if self.grid is not None:
            from pendling.synth.gridtruth import grid_truth_sums

            t_grid = time.perf_counter()
            grid_truth = grid_truth_sums(w, year, prev, cur, group_prev, kern, prev_dirt, cur_dirt, self.wp, self.grid)
            self.grid.seconds += time.perf_counter() - t_grid
        events = {
            "persons": int(self.state["pnr"].size),
            "exits": n_exit,
            "entrants": n_exit,
            "job_changes": int(idx.size),
            "moves": int(midx.size),
            "local_moves": int(local.sum()),
            "workplaces_relocated": n_relocated,
        }
        return YearOutput(year, self._frame(), truth, events, grid_truth)

    def _relocate(self, rng: np.random.Generator, rate: float) -> int:
        """Move a share ``rate`` of workplaces to one of their municipality's nearest neighbours,
        leaving at least MIN_WORKPLACES in every municipality."""
        wp, w = self.wp, self.w
        u = rng.random((wp.lbnr.size, 2))
        cand = np.flatnonzero(u[:, 0] < rate)
        if cand.size == 0:
            return 0
        order = np.lexsort((cand, wp.muni[cand]))
        cand = cand[order]
        muni = wp.muni[cand].astype(np.int64)
        first = np.r_[True, muni[1:] != muni[:-1]]
        rank = np.arange(cand.size) - np.maximum.accumulate(np.where(first, np.arange(cand.size), 0))
        chosen = cand[rank < wp.count[muni] - MIN_WORKPLACES]
        pick = (u[chosen, 1] * RELOCATION_NEIGHBOURS).astype(np.int64)
        wp.muni[chosen] = w.nearest[wp.muni[chosen].astype(np.int64), pick].astype(np.int16)
        wp.index(w.n_muni)
        return int(chosen.size)

    def _frame(self) -> pl.DataFrame:
        """The current state as a DST extract (dirt applied), sorted by PNR (the state's order)."""
        w, st, d = self.w, self.state, self.dirt
        codes = w.gravity.codes
        kom = codes[st["home"]]
        arbkom = codes[st["work"]]
        lbnr = np.where(st["job"] >= 0, self.wp.lbnr[np.maximum(st["job"], 0)], 0)
        kom = np.where(d["unknown"] & d["unknown_home"], UNKNOWN_CODE, kom)
        arbkom = np.where(d["unknown"] & ~d["unknown_home"], UNKNOWN_CODE, arbkom)
        kom = np.where(d["christiansoe"] & (kom == BORNHOLM), CHRISTIANSOE, kom)
        arbkom = np.where(d["christiansoe"] & (arbkom == BORNHOLM), CHRISTIANSOE, arbkom)
        disco = pl.Series("DISCO08_ALLE_INDK_13", w.occupations.codes, dtype=pl.String).gather(st["disco"])
        frame = pl.DataFrame(
            {
                "PNR": st["pnr"],
                "KOM": kom,
                "ADRESSE_ID": st["addr"],
                "LBNR": lbnr,
                "ARBKOM": arbkom,
                "DISCO08_ALLE_INDK_13": disco,
            },
            schema=DST_COLUMNS,
        ).with_columns(
            pl.when(pl.Series(d["missing_disco"])).then(None).otherwise(pl.col("DISCO08_ALLE_INDK_13"))
            .alias("DISCO08_ALLE_INDK_13")
        )
        if d["duplicate"].any():
            # the copy goes right after the original, so the file stays sorted by PNR
            frame = frame[np.repeat(np.arange(frame.height), 1 + d["duplicate"].astype(np.int64))]
        return frame


UNKNOWN_CODE, BORNHOLM, CHRISTIANSOE = 999, 400, 411


def draw_dirt(scenario: Scenario, rng: np.random.Generator, k: int) -> dict[str, np.ndarray]:
    """Per-row dirt flags for k rows at the scenario's rates (all False without dirt).

    ``excluded``: rows the panel leaves out (unknown municipality; duplicated person-years, read with
    ``on_duplicate='drop'``) — transitions touching them are not in the truth.
    """
    rates = scenario.dirt
    if not scenario.has_dirt:
        none = np.zeros(k, dtype=bool)
        return {key: none for key in ("unknown", "unknown_home", "duplicate", "missing_disco", "christiansoe",
                                      "excluded")}
    u = rng.random((k, 5))
    unknown = u[:, 0] < rates["unknown_municipality"]
    duplicate = u[:, 2] < rates["duplicate_rows"]
    return {
        "unknown": unknown,
        "unknown_home": u[:, 1] < 0.5,
        "duplicate": duplicate,
        "missing_disco": u[:, 3] < rates["missing_disco"],
        "christiansoe": u[:, 4] < rates["christiansoe_411"],
        "excluded": unknown | duplicate,
    }


@dataclass(frozen=True)
class TruthRows:
    """Who the engine classifies in a year pair, with the t-1 facts the truth needs (one row per person
    present in both years): boolean masks ``mover`` / ``changer``, the engine's job-group ``label`` at t-1,
    home and work municipality indices ``h0`` / ``w0`` and home ``region`` (0 Hovedstaden, 1 rest)."""

    mover: np.ndarray
    changer: np.ndarray
    label: np.ndarray
    h0: np.ndarray
    w0: np.ndarray
    region: np.ndarray


def truth_rows(world: World, prev: dict[str, np.ndarray], cur: dict[str, np.ndarray], group_prev: np.ndarray,
               prev_dirt: dict[str, np.ndarray], cur_dirt: dict[str, np.ndarray]) -> TruthRows:
    """The engine's flow rules replayed on the simulation state (one place for both truths)."""
    fictive = (prev["job"] < 0) | (cur["job"] < 0)
    same_job = prev["job"] == cur["job"]
    moved = (prev["addr"] != cur["addr"]) | (prev["home"] != cur["home"])
    relocated = same_job & (prev["work"] != cur["work"])
    clean = ~(fictive | prev_dirt["excluded"] | cur_dirt["excluded"])
    # a missing DISCO at t-1 makes the engine call the person 'unclassified'; the kernel was the real group's
    label = np.where(prev_dirt["missing_disco"], JOB_GROUPS.index("unclassified"), group_prev)
    h0 = prev["home"].astype(np.int64)
    return TruthRows(
        mover=clean & moved & same_job & ~relocated,
        changer=clean & ~same_job & ~moved,
        label=label,
        h0=h0,
        w0=prev["work"].astype(np.int64),
        region=world.region[h0].astype(np.int64),
    )


def truth_sums(
    world: World,
    year: int,
    prev: dict[str, np.ndarray],
    cur: dict[str, np.ndarray],
    group_prev: np.ndarray,
    kern: Kernels,
    prev_dirt: dict[str, np.ndarray],
    cur_dirt: dict[str, np.ndarray],
) -> pl.DataFrame:
    """Per cell (flow × job group at t-1 × home region at t-1): n, Σ E[r] and Σ Var[r] over the persons
    the engine classifies as movers / job changers (relative change r as a fraction)."""
    T = world.gravity.minutes
    n = world.n_muni
    a = world.local_move_share
    tr = truth_rows(world, prev, cur, group_prev, prev_dirt, cur_dirt)
    label, h0, w0, region, mover, changer = tr.label, tr.h0, tr.w0, tr.region, tr.mover, tr.changer
    T0 = T[h0, w0]
    parts = []

    rows = (group_prev * 2 + region) * n + w0
    m1, m2 = kern.home_m1[rows[mover]], kern.home_m2[rows[mover]]
    t0 = T0[mover]
    e = (1 - a) * (m1 / t0 - 1)
    e2 = (1 - a) * (m2 / t0**2 - 2 * m1 / t0 + 1)
    parts.append(("movers", label[mover], region[mover], e, e2 - e**2))

    rows = group_prev * n + h0
    m1, m2 = kern.job_m1[rows[changer]], kern.job_m2[rows[changer]]
    t0 = T0[changer]
    e = m1 / t0 - 1
    e2 = m2 / t0**2 - 2 * m1 / t0 + 1
    parts.append(("job_changers", label[changer], region[changer], e, e2 - e**2))

    return cell_sums(year, parts)


def cell_sums(year: int, parts: list[tuple], tail: bool = False) -> pl.DataFrame:
    """Per-person (flow, label, region, E[r], Var[r][, tail mass]) parts → per-cell sums of one year:
    n, sum_expected, sum_variance (and sum_tail when ``tail``)."""
    out = []
    for flow, lab, reg, e, v, *rest in parts:
        key = lab * 2 + reg
        size = N_GROUPS * 2
        cols = {
            "year": np.full(size, year),
            "flow": [flow] * size,
            "job_group": [JOB_GROUPS[k // 2] for k in range(size)],
            "region": [("hovedstaden", "rest")[k % 2] for k in range(size)],
            "n": np.bincount(key, minlength=size),
            "sum_expected": np.bincount(key, weights=e, minlength=size),
            "sum_variance": np.bincount(key, weights=np.maximum(v, 0.0), minlength=size),
        }
        schema = {"year": pl.Int16, "flow": pl.String, "job_group": pl.String, "region": pl.String,
                  "n": pl.Int64, "sum_expected": pl.Float64, "sum_variance": pl.Float64}
        if tail:
            cols["sum_tail"] = np.bincount(key, weights=rest[0], minlength=size)
            schema["sum_tail"] = pl.Float64
        out.append(pl.DataFrame(cols, schema=schema))
    return pl.concat(out)

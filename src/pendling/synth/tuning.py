"""Calibrate the default scenario's generator parameters to the report's stated values.

Nothing here touches results: the parameters are the scenario's decay multipliers (movers' home choice
per job group × home region, for every year and for 2020 on) and the first year's workplace-draw
multiplier (``[initial] job_choice``). The planted truth stays the generator's exact expectation.

Targets (fractions; the bands are in ``data/reference/report_figures.csv``): :data:`TARGETS` gives a
point inside each band, chosen with room on both sides; the regions outside Hovedstaden get whatever
level makes the all-Denmark value hit its target given the share of movers living in Hovedstaden
(that share is measured on the simulated population, so 'rest' is derived, never free).

Method (deterministic, in memory, no files): a mover's expected relative change given the previous
year's state has a closed form (:mod:`pendling.synth.model`: E[r] = (1-a)·(Σ_h K_m[w,h]·T[h,w]/T[h0,w] - 1)),
decreasing in the multiplier m. For each cell, m is found by bisection on log m so that the mean of
E[r] over the cell's population at that year's state (every person could be drawn as a mover) equals
the target. The baseline multipliers move the state of later years, so the simulation is rerun with
the new parameters a few times (a fixed point; it settles in 2–3 passes). The initial multiplier is
solved on the first year's joint distribution so that its mean home–work km equals the 2014 target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from pendling.panel.jobgroups import JOB_GROUPS
from pendling.synth.scenario import Effect, Scenario, load_scenario

# point targets inside the report's bands (see report_figures.csv): level of the mean relative change
# of movers (address definition, shipped 'area' matrix) by job group and region, per flow year.
# Hovedstaden's cells sit a little above the band centre: their r is very skewed (a move out of a
# municipality with a 3-minute diagonal gives r ~ 10), so a sample mean falls below its expectation
# more often than above. Digital 'rest' cannot go below about -0.045 (all movers' homes pulled into
# the work municipality), so digital 'all' in 2019 ends near 0.07 and 2021 is set high in its band
# to keep 'more than doubled' with room. Digital Hovedstaden 2019 is the most skewed cell of all: at
# 3 M persons its estimate spreads about ±0.02 between seeds (its band is [0.18, 0.22]), so its target sits
# at 0.21 (benchmarks/results/report_bands.md).
TARGETS: dict[tuple[str, str, int], float] = {
    ("digital", "hovedstaden", 2019): 0.21, ("digital", "all", 2019): 0.065,
    ("digital", "hovedstaden", 2021): 0.38, ("digital", "all", 2021): 0.153,
    ("office", "hovedstaden", 2019): 0.175, ("office", "all", 2019): 0.06,
    ("office", "hovedstaden", 2021): 0.335, ("office", "all", 2021): 0.15,
    ("physical_social", "hovedstaden", 2019): 0.125, ("physical_social", "all", 2019): 0.11,
}
KM_2014 = 20.5  # mean home-work road km of all employed in 2014 (report figure 3.6: 'a little over 20 km')
KM_2021 = 22.5  # ... and in 2021 ('now a little over 22 km'): set through the job changers' common decay
FIRST_YEAR, EFFECT_YEAR, LAST_YEAR = 2014, 2020, 2022
GROUPS = ("digital", "office", "physical_social")
REGIONS = ("hovedstaden", "rest")
BOUNDS = (0.2, 4.0)
# cells whose target lies below what a stronger distance decay alone gives (with a very strong decay
# the choice drifts to municipalities with a weak fitted decay, so the expected change turns back up):
# these use the same-municipality bonus instead ('local' in the scenario)
LOCAL_CELLS = (("digital", "rest"), ("office", "rest"))
LOCAL_BOUNDS = (0.3, 30.0)


@dataclass
class Params:
    """Scenario parameters: baseline[g][r] (all years), effects[g][r] = [m2020, m2021, m2022], initial."""

    baseline: dict[tuple[str, str], float] = field(default_factory=lambda: {(g, r): 1.0 for g in GROUPS
                                                                            for r in REGIONS})
    effects: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    local: dict[tuple[str, str], float] = field(default_factory=dict)  # same-municipality bonus multipliers
    local_effects: dict[tuple[str, str], list[float]] = field(default_factory=dict)  # per year 2020-2022
    initial: float = 1.0
    job_common: float = 1.0  # job changers' decay multiplier, every group, region and year (sets km 2021)
    job_hovedstaden: dict[str, float] = field(default_factory=dict)  # per group in Hovedstaden (togetherness)


def scenario_from(params: Params, base: Scenario | None = None) -> Scenario:
    """The default scenario's rates and dirt with these multipliers (movers); job changers unchanged."""
    base = base or load_scenario("null")
    movers = [Effect(g, r, 2009, None, (round(m, 4),), round(params.local[(g, r)], 4) if (g, r) in params.local
                     else None) for (g, r), m in params.baseline.items()]
    movers += [Effect(g, r, EFFECT_YEAR, None, tuple(round(x, 4) for x in ms)) for (g, r), ms in params.effects.items()]
    for (g, r), ds in params.local_effects.items():  # one effect per year: 'local' is a single value
        for i, d in enumerate(ds):
            year = EFFECT_YEAR + i
            movers.append(Effect(g, r, year, year if i < len(ds) - 1 else None, (1.0,), round(d, 4)))
    jobs = [Effect(g, "hovedstaden", 2009, None, (round(m, 4),)) for g, m in params.job_hovedstaden.items()]
    return Scenario(name="default", description=base.description, rates=dict(base.rates),
                    defaults={"movers": 1.0, "job_changers": round(params.job_common, 4)},
                    effects={"movers": tuple(movers), "job_changers": tuple(jobs)}, dirt=dict(base.dirt),
                    source="tuning", initial_job_choice=round(params.initial, 4))


def _bisect(f, target: float, lo: float = BOUNDS[0], hi: float = BOUNDS[1], steps: int = 40) -> float:
    """m with f(m) = target for f decreasing in m (bisection on log m; clipped to BOUNDS)."""
    a, b = np.log(lo), np.log(hi)
    for _ in range(steps):
        mid = 0.5 * (a + b)
        if f(float(np.exp(mid))) > target:
            a = mid
        else:
            b = mid
    return float(np.exp(0.5 * (a + b)))


class _Cells:
    """Population of each job group × region at one state, for closed-form expected mover r."""

    def __init__(self, world, state: dict[str, np.ndarray]) -> None:
        g = world.gravity
        self.world, self.T = world, g.minutes
        h0, w0 = state["home"].astype(np.int64), state["work"].astype(np.int64)
        ok = state["job"] >= 0  # fictive workplaces never make movers
        grp = world.occupations.group[state["disco"]]
        reg = world.region[h0]
        self.members = {}
        for gi, name in enumerate(JOB_GROUPS):
            for ri, rname in enumerate(REGIONS):
                sel = ok & (grp == gi) & (reg == ri)
                self.members[(name, rname)] = (h0[sel], w0[sel])
        self._m1: dict[float, np.ndarray] = {}

    def expected(self, cell: tuple[str, str], m: float, d: float = 1.0) -> float:
        if (m, d) not in self._m1:
            K = self.world.gravity.home_choice(m, d)  # [w, h]
            self._m1[(m, d)] = (K * self.T.T).sum(axis=1)  # E[T | w] under this home choice, minutes
        h0, w0 = self.members[cell]
        return float((1 - self.world.local_move_share) * (self._m1[(m, d)][w0] / self.T[h0, w0] - 1).mean())

    def expected_job(self, cell: tuple[str, str], m: float) -> float:
        """Job changers' expected r over the cell's population: Σ_w Q_m[h,w]·T[h,w] / T[h,w0] - 1."""
        key = ("job", m)
        if key not in self._m1:
            Q = self.world.gravity.job_choice(m)  # [h, w]
            self._m1[key] = (Q * self.T).sum(axis=1)  # E[T | h], minutes
        h0, w0 = self.members[cell]
        return float((self._m1[key][h0] / self.T[h0, w0] - 1).mean())

    def count(self, cell: tuple[str, str]) -> int:
        return int(self.members[cell][0].size)

    def share_hovedstaden(self, group: str) -> float:
        a, b = (self.members[(group, r)][0].size for r in REGIONS)
        return a / (a + b)


def _level_targets(cells: _Cells, year: int) -> dict[tuple[str, str], float]:
    """Per group × region target at this state: Hovedstaden as given, 'rest' from the all-Denmark target."""
    out = {}
    for g in GROUPS:
        y = year if (g, "hovedstaden", year) in TARGETS else 2019  # physical & social: flat
        hov, tot = TARGETS[(g, "hovedstaden", y)], TARGETS[(g, "all", y)]
        s = cells.share_hovedstaden(g)
        out[(g, "hovedstaden")], out[(g, "rest")] = hov, (tot - s * hov) / (1 - s)
    return out


def _national_job(cells: _Cells, group: str, m_hovedstaden: float, m_rest: float) -> float:
    """Job changers' national expected r of one group (population-weighted over the two regions)."""
    a, b = cells.count((group, "hovedstaden")), cells.count((group, "rest"))
    return (a * cells.expected_job((group, "hovedstaden"), m_hovedstaden)
            + b * cells.expected_job((group, "rest"), m_rest)) / (a + b)


def initial_multiplier(world, km_target: float = KM_2014) -> float:
    """First-year workplace-draw multiplier whose joint home × work mean km equals ``km_target``."""
    g = world.gravity

    def km(m: float) -> float:
        return float((g.residence[:, None] * g.job_choice(m) * g.km).sum())

    return _bisect(km, km_target, 0.5, 4.0)


def simulate(world, progress=None):
    """Run the simulation in memory, FIRST_YEAR..LAST_YEAR: (truth frame, mean km per year, states
    before each transition year)."""
    from pendling.synth.model import Simulation
    from pendling.synth.truth import finalize_truth

    sim = Simulation(world)
    sim.first_year(FIRST_YEAR)
    g = world.gravity
    km = {FIRST_YEAR: float(g.km[sim.state["home"].astype(np.int64), sim.state["work"].astype(np.int64)].mean())}
    parts, states = [], {}
    for year in range(FIRST_YEAR + 1, LAST_YEAR + 1):
        states[year] = {k: v.copy() for k, v in sim.state.items()}
        out = sim.next_year(year)
        parts.append(out.truth)
        km[year] = float(g.km[sim.state["home"].astype(np.int64), sim.state["work"].astype(np.int64)].mean())
    return finalize_truth(parts), km, states


def calibrate(persons: int = 300_000, seed: int = 1, passes: int = 3, matrix=None, log=print) -> Params:
    """Tune the parameters (see the module docstring); deterministic for given persons, seed, matrix."""
    from pendling.synth.api import build_world

    params = Params()
    history: list[tuple[float, float]] = []
    for i in range(passes):
        world = build_world(persons, seed, scenario_from(params), matrix=matrix)
        if i == 0:
            params.initial = initial_multiplier(world)
            world = build_world(persons, seed, scenario_from(params), matrix=matrix)
        _, km, states = simulate(world)
        c19 = _Cells(world, states[2019])
        for cell, target in _level_targets(c19, 2019).items():
            if cell in LOCAL_CELLS:  # below what a stronger decay alone reaches: pull homes to the work municipality
                params.baseline[cell] = 1.0
                params.local[cell] = _bisect(lambda d, cell=cell: c19.expected(cell, 1.0, d), target, *LOCAL_BOUNDS)
            else:
                params.baseline[cell] = _bisect(lambda m, cell=cell: c19.expected(cell, m), target)
        effects, local_effects = {}, {}
        for year in (2020, 2021):
            cy = _Cells(world, states[year])
            t19, t21 = _level_targets(cy, 2019), _level_targets(cy, 2021)
            for cell in t21:
                if cell[0] == "physical_social":
                    continue
                target = t21[cell] if year == 2021 else 0.5 * (t19[cell] + t21[cell])
                if cell in LOCAL_CELLS:
                    local_effects.setdefault(cell, []).append(
                        _bisect(lambda d, cell=cell, cy=cy: cy.expected(cell, 1.0, d), target, *LOCAL_BOUNDS))
                else:
                    effects.setdefault(cell, []).append(
                        _bisect(lambda m, cell=cell, cy=cy: cy.expected(cell, m), target))
        params.effects = {cell: [*ms, ms[-1]] for cell, ms in effects.items()}  # 2022 holds 2021
        params.local_effects = {cell: [*ds, ds[-1]] for cell, ds in local_effects.items()}
        # job changers: each group's national mean equal to physical & social's (the report's 'together')
        mc = params.job_common
        ref = _national_job(c19, "physical_social", mc, mc)
        for g in ("digital", "office"):
            params.job_hovedstaden[g] = _bisect(lambda m, g=g: _national_job(c19, g, m, mc), ref, 0.5, 2.0)
        # km 2021 through the common job-change decay: secant on the passes so far
        history.append((params.job_common, km[2021]))
        if len(history) == 1:
            params.job_common = history[0][0] * (0.9 if km[2021] < KM_2021 else 1.1)
        else:
            (m0, k0), (m1, k1) = history[-2], history[-1]
            slope = (k1 - k0) / (m1 - m0) if m1 != m0 else -10.0
            params.job_common = float(np.clip(m1 + (KM_2021 - k1) / slope, 0.5, 1.5))
        log(f"pass {i + 1}: km 2014 {km[FIRST_YEAR]:.2f}, 2021 {km[2021]:.2f}; initial {params.initial:.3f}; "
            + ", ".join(f"{g[:3]}/{r[:3]} {m:.3f}" for (g, r), m in params.baseline.items())
            + "; local " + ", ".join(f"{g[:3]}/{r[:3]} {d:.3f}" for (g, r), d in params.local.items())
            + f"; job changers {params.job_common:.3f}, Hovedstaden "
            + ", ".join(f"{g[:3]} {m:.3f}" for g, m in params.job_hovedstaden.items()))
    return params


def achieved(truth: pl.DataFrame, km: dict[int, float]) -> pl.DataFrame:
    """Truth levels as a results-like table (year, flow, job_group, region, mean_rel_change, n,
    standard_error) for :func:`pendling.mobility.report_figures.check_report_figures`."""
    return truth.select("year", "flow", "job_group", "region", pl.col("expected_mean_rel_change")
                        .alias("mean_rel_change"), "n", "standard_error")


def scenario_toml(params: Params, base_text_from: Scenario | None = None) -> str:
    """The default scenario file for these parameters (deterministic text)."""
    base = base_text_from or load_scenario("null")
    r = base.rates
    lines = [
        'name = "default"',
        'description = """The pattern the report found, calibrated to the values it states \\',
        "(data/reference/report_figures.csv) by scripts/calibrate_default_scenario.py: physical & social \\",
        "movers about 11 % every year; digital and office movers about 6 % in 2019 and 14-16 % in 2021, \\",
        "from a weaker distance decay from 2020 on, most in Region Hovedstaden; job changers choose \\",
        'workplaces with the calibrated decay in every group, region and year."""',
        "",
        "# written by scripts/calibrate_default_scenario.py (rerun it to recalibrate; do not edit by hand)",
        "",
        "[rates]",
        f"move = {r['move']}",
        f"move_within_municipality = {r['move_within_municipality']}",
        f"job_change = {r['job_change']}",
        f"exit = {r['exit']}",
        f"workplace_relocation = {r['workplace_relocation']}",
        "",
        "# first year's persons: workplace drawn with a stronger decay (mean home-work km ~20.5 in 2014),",
        "# relaxing towards the calibrated (2022) model",
        "[initial]",
        f"job_choice = {params.initial:.4f}",
        "",
        "# Home choice of movers who keep their job: multiplier on the calibrated distance decay",
        "# (1 = calibrated; < 1 weaker decay, new homes further from work). First every year, then 2020 on.",
        "[movers]",
        "default = 1.0",
    ]
    for (g, reg), m in params.baseline.items():
        lines += ["", "[[movers.effect]]", f'job_group = "{g}"', f'region = "{reg}"', "from = 2009",
                  f"multiplier = {m:.4f}"]
        if (g, reg) in params.local:
            lines.append(f"local = {params.local[(g, reg)]:.4f}")
    for (g, reg), ms in params.effects.items():
        lines += ["", "[[movers.effect]]", f'job_group = "{g}"', f'region = "{reg}"', f"from = {EFFECT_YEAR}",
                  "multiplier = [" + ", ".join(f"{x:.4f}" for x in ms) + "]"]
    for (g, reg), ds in params.local_effects.items():
        for i, d in enumerate(ds):
            year = EFFECT_YEAR + i
            lines += ["", "[[movers.effect]]", f'job_group = "{g}"', f'region = "{reg}"', f"from = {year}"]
            if i < len(ds) - 1:
                lines.append(f"to = {year}")
            lines += ["multiplier = 1.0", f"local = {d:.4f}"]
    lines += ["", "# Workplace choice of job changers who keep their home: the same in every year (no 2020 change);",
              "# a common decay (sets the drift of commute km) and, in Hovedstaden, per job group so that the",
              "# three groups' national means coincide.", "[job_changers]", f"default = {params.job_common:.4f}"]
    for g, m in params.job_hovedstaden.items():
        lines += ["", "[[job_changers.effect]]", f'job_group = "{g}"', 'region = "hovedstaden"', "from = 2009",
                  f"multiplier = {m:.4f}"]
    lines.append("")
    return "\n".join(lines)

"""Scenarios: the planted distance-decay effects, the yearly event rates and optional dirt (TOML).

A scenario file::

    name = "default"
    description = "..."

    [rates]                          # per year; shares of the employed
    move = 0.10                      # moves home (any address change)
    move_within_municipality = 0.62  # of the moves, share that stays in the municipality
    job_change = 0.135               # changes workplace (LBNR)
    exit = 0.05                      # leaves employment (replaced by as many entrants)
    workplace_relocation = 0.004     # share of workplaces moving to another municipality

    [movers]                         # home choice of people who move but keep their job
    default = 1.0                    # multiplier on the calibrated distance decay
    [[movers.effect]]
    job_group = "digital"            # digital | office | physical_social | unclassified | "*"
    region = "hovedstaden"           # hovedstaden | rest | "*"  (home region at t-1)
    from = 2020                      # first transition year (t, the later November)
    to = 2022                        # optional last year (inclusive); open-ended if left out
    multiplier = [0.8, 0.7, 0.65]    # one value, or one per year from `from` (the last is held)
    local = 1.0                      # optional: multiplier on the same-municipality bonus (> 1: the
                                     # new home/job more often in the municipality of the job/home);
                                     # set only by effects that name it, whatever their order

    [job_changers]                   # workplace choice of people who change job but keep their home
    default = 1.0

    [initial]                        # optional: the first year's persons
    job_choice = 1.0                 # decay multiplier of their workplace draw (> 1: shorter commutes
                                     # than the calibrated 2022 equilibrium, as in 2014; see model.py)

    [dirt]                           # optional register noise, shares of rows per year
    unknown_municipality = 0.0       # KOM or ARBKOM replaced by 999 (unknown)
    christiansoe_411 = 0.0           # Bornholm (400) codes written as 411 Christiansø
    missing_disco = 0.0              # DISCO08_ALLE_INDK_13 left empty
    duplicate_rows = 0.0             # person-year rows written twice

A multiplier below 1 weakens the distance decay (the chosen home or job tends to be further away, so
commutes get longer); above 1 strengthens it. Later effects override earlier ones where they overlap.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pendling import paths
from pendling.errors import InputError
from pendling.panel.jobgroups import JOB_GROUPS

REGIONS: tuple[str, ...] = ("hovedstaden", "rest")
FLOWS: tuple[str, ...] = ("movers", "job_changers")
RATE_DEFAULTS: dict[str, float] = {
    "move": 0.10,
    "move_within_municipality": 0.62,
    "job_change": 0.135,
    "exit": 0.05,
    "workplace_relocation": 0.004,
}
DIRT_DEFAULTS: dict[str, float] = {
    "unknown_municipality": 0.0,
    "christiansoe_411": 0.0,
    "missing_disco": 0.0,
    "duplicate_rows": 0.0,
}
_EFFECT_KEYS = {"job_group", "region", "from", "to", "multiplier", "local"}


@dataclass(frozen=True)
class Effect:
    """One planted change of distance decay: cells (job group × home region × years) and multipliers."""

    job_group: str  # a job group or '*'
    region: str  # 'hovedstaden', 'rest' or '*'
    first: int
    last: int | None
    multipliers: tuple[float, ...]
    local: float | None = None  # multiplier on the same-municipality bonus; None = not set here

    def value(self, year: int) -> float | None:
        """The multiplier for transition year ``year``, or None outside the effect's years."""
        if year < self.first or (self.last is not None and year > self.last):
            return None
        return self.multipliers[min(year - self.first, len(self.multipliers) - 1)]


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario. ``source`` is the file it came from (or a built-in name)."""

    name: str
    description: str
    rates: dict[str, float]
    defaults: dict[str, float]  # flow -> default multiplier
    effects: dict[str, tuple[Effect, ...]]  # flow -> effects in file order
    dirt: dict[str, float]
    source: str = ""
    initial_job_choice: float = 1.0  # decay multiplier of the first year's workplace draw
    text: str = field(default="", repr=False)

    def multipliers(self, flow: str, year: int) -> np.ndarray:
        """Decay multipliers for transition year ``year``: array [job group, region] in the order of
        :data:`pendling.panel.jobgroups.JOB_GROUPS` × :data:`REGIONS`."""
        out = np.full((len(JOB_GROUPS), len(REGIONS)), self.defaults[flow], dtype=np.float64)
        for eff in self.effects[flow]:
            m = eff.value(year)
            if m is None:
                continue
            gi = [JOB_GROUPS.index(eff.job_group)] if eff.job_group != "*" else range(len(JOB_GROUPS))
            ri = [REGIONS.index(eff.region)] if eff.region != "*" else range(len(REGIONS))
            for g in gi:
                for r in ri:
                    out[g, r] = m
        return out

    def locals(self, flow: str, year: int) -> np.ndarray:
        """Same-municipality bonus multipliers for ``year``: array [job group, region], default 1; set
        by the effects with a ``local`` value (later ones win where they overlap)."""
        out = np.ones((len(JOB_GROUPS), len(REGIONS)), dtype=np.float64)
        for eff in self.effects[flow]:
            if eff.local is None or eff.value(year) is None:
                continue
            gi = [JOB_GROUPS.index(eff.job_group)] if eff.job_group != "*" else range(len(JOB_GROUPS))
            ri = [REGIONS.index(eff.region)] if eff.region != "*" else range(len(REGIONS))
            for g in gi:
                for r in ri:
                    out[g, r] = eff.local
        return out

    @property
    def has_dirt(self) -> bool:
        return any(v > 0 for v in self.dirt.values())


def scenarios_dir() -> Path:
    """``data/scenarios``: the shipped scenario files (default.toml, null.toml, dirty.toml)."""
    return paths.data_dir() / "scenarios"


def load_scenario(scenario: str | Path | None = None) -> Scenario:
    """Read a scenario TOML file; ``None`` → the shipped ``default``; a bare name → ``data/scenarios/NAME.toml``."""
    if scenario is None:
        scenario = "default"
    path = Path(scenario)
    if path.suffix.lower() != ".toml" and not path.exists():
        path = scenarios_dir() / f"{scenario}.toml"
    if not path.is_file():
        shipped = sorted(p.stem for p in scenarios_dir().glob("*.toml")) if scenarios_dir().is_dir() else []
        raise InputError(
            "scenario file not found",
            file=path,
            hint=f"give a path to a .toml file or one of the shipped names: {', '.join(shipped) or '(none)'}",
        )
    text = path.read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"the scenario is not valid TOML: {exc}", file=path) from None
    return parse_scenario(doc, source=str(path), text=text)


def parse_scenario(doc: dict[str, Any], *, source: str = "<dict>", text: str = "") -> Scenario:
    """Validate a scenario given as a dict (the parsed TOML); InputError names the offending key."""
    known = {"name", "description", "rates", "dirt", "initial", *FLOWS}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise InputError("unknown scenario keys", file=source, values=unknown,
                         hint=f"top-level keys are: {', '.join(sorted(known))}")
    rates = _shares(doc.get("rates", {}), RATE_DEFAULTS, "rates", source)
    dirt = _shares(doc.get("dirt", {}), DIRT_DEFAULTS, "dirt", source)
    if rates["move"] + rates["job_change"] + rates["exit"] > 1:
        raise InputError("move + job_change + exit rates exceed 1", file=source, column="rates")
    defaults: dict[str, float] = {}
    effects: dict[str, tuple[Effect, ...]] = {}
    for flow in FLOWS:
        section = doc.get(flow, {})
        if not isinstance(section, dict):
            raise InputError(f"[{flow}] must be a table", file=source, column=flow)
        extra = sorted(set(section) - {"default", "effect"})
        if extra:
            raise InputError(f"unknown keys in [{flow}]", file=source, column=flow, values=extra,
                             hint="use `default = 1.0` and [[%s.effect]] tables" % flow)
        defaults[flow] = _multiplier(section.get("default", 1.0), f"{flow}.default", source)
        effects[flow] = tuple(_effect(e, flow, i, source) for i, e in enumerate(section.get("effect", [])))
    initial = doc.get("initial", {})
    if not isinstance(initial, dict) or set(initial) - {"job_choice"}:
        raise InputError("[initial] takes one key, job_choice", file=source, column="initial",
                         values=sorted(initial) if isinstance(initial, dict) else [initial])
    return Scenario(
        name=str(doc.get("name", Path(source).stem)),
        description=str(doc.get("description", "")),
        rates=rates, defaults=defaults, effects=effects, dirt=dirt, source=source, text=text,
        initial_job_choice=_multiplier(initial.get("job_choice", 1.0), "initial.job_choice", source),
    )


def _shares(section: Any, defaults: dict[str, float], name: str, source: str) -> dict[str, float]:
    if not isinstance(section, dict):
        raise InputError(f"[{name}] must be a table", file=source, column=name)
    extra = sorted(set(section) - set(defaults))
    if extra:
        raise InputError(f"unknown keys in [{name}]", file=source, column=name, values=extra,
                         hint=f"known keys: {', '.join(defaults)}")
    out = dict(defaults)
    for key, value in section.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
            raise InputError(f"{name}.{key} must be a share between 0 and 1", file=source,
                             column=f"{name}.{key}", values=[value])
        out[key] = float(value)
    return out


def _multiplier(value: Any, where: str, source: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 10:
        raise InputError("a decay multiplier must be a number in (0, 10]", file=source, column=where,
                         values=[value], hint="1 = calibrated decay; 0.8 = 20 % weaker (longer commutes)")
    return float(value)


def _effect(raw: Any, flow: str, i: int, source: str) -> Effect:
    where = f"{flow}.effect[{i}]"
    if not isinstance(raw, dict):
        raise InputError("an effect must be a table", file=source, column=where)
    extra = sorted(set(raw) - _EFFECT_KEYS)
    missing = sorted({"from", "multiplier"} - set(raw))
    if extra or missing:
        raise InputError(f"bad keys in {where}", file=source, column=where, values=extra + missing,
                         hint=f"an effect has {', '.join(sorted(_EFFECT_KEYS))} (from and multiplier required)")
    group = str(raw.get("job_group", "*"))
    region = str(raw.get("region", "*"))
    if group != "*" and group not in JOB_GROUPS:
        raise InputError("unknown job group", file=source, column=f"{where}.job_group", values=[group],
                         hint=f"use one of {', '.join(JOB_GROUPS)} or '*'")
    if region != "*" and region not in REGIONS:
        raise InputError("unknown region", file=source, column=f"{where}.region", values=[region],
                         hint="use 'hovedstaden', 'rest' or '*'")
    first, last = raw["from"], raw.get("to")
    if not isinstance(first, int) or (last is not None and (not isinstance(last, int) or last < first)):
        raise InputError("from/to must be years with to >= from", file=source, column=where,
                         values=[first, last])
    mult = raw["multiplier"]
    values = mult if isinstance(mult, list) else [mult]
    if not values:
        raise InputError("empty multiplier list", file=source, column=f"{where}.multiplier")
    local = None
    if "local" in raw:
        local = raw["local"]
        if not isinstance(local, int | float) or isinstance(local, bool) or not 0 < local <= 50:
            raise InputError("a same-municipality multiplier must be a number in (0, 50]", file=source,
                             column=f"{where}.local", values=[local], hint="1 = calibrated bonus")
        local = float(local)
    return Effect(group, region, first, last, tuple(_multiplier(v, f"{where}.multiplier", source) for v in values),
                  local)

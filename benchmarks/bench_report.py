"""Equality checks, targets and the results files (JSON + Markdown table) of a benchmark run.

Units: seconds (wall clock), MiB (2^20 bytes) of peak resident memory, minutes of travel time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TOLERANCE = 1e-9

LABELS = {
    "synth": "synth: generate the extract",
    "panel_load": "panel: load_panel + validation",
    "mobility": "mobility: compute, all years, both flows, default cells",
    "duckdb_bare": "↳ baseline (a): bare DuckDB query",
    "pandas_idiomatic": "↳ baseline (b1): pandas, vectorised self-merge",
    "pandas_groupby_shift": "↳ baseline (b2): pandas groupby().shift()",
    "pandas_per_person": "↳ baseline (b3): pandas, a function per person",
    "mobility_breakdowns": "mobility: compute with by=region+kommunegruppe",
    "routing_graph_build": "routing: graph build from tiles",
    "routing_matrix": "routing: matrix from the stored graph (load + route)",
    "routing_networkx": "↳ baseline (c): networkx Dijkstra",
    "routing_osrm": "↳ baseline (c): OSRM table (MLD, own speeds)",
}
BASELINE_OF = {"duckdb_bare": "mobility", "pandas_idiomatic": "mobility", "pandas_groupby_shift": "mobility",
               "pandas_per_person": "mobility", "routing_networkx": "routing_matrix", "routing_osrm": "routing_matrix"}
CELL_BASELINES = {  # stage → its cells in the run directory (a stage names its file in details['output'])
    "duckdb_bare": "baseline_duckdb.parquet",
    "pandas_idiomatic": "baseline_pandas.parquet",
    "pandas_groupby_shift": "baseline_pandas_groupby_shift.parquet",
    "pandas_per_person": "baseline_pandas_per_person.parquet",
}
PANDAS_BASELINES = {  # the '≥ 30 × faster than pandas' target is reported against each, separately
    "pandas_idiomatic": "(b1) vectorised self-merge",
    "pandas_groupby_shift": "(b2) groupby().shift()",
    "pandas_per_person": "(b3) a function per person",
}
PANDAS_LEGEND = (
    "Which pandas is which: (b1) `pandas_idiomatic` merges the table with itself on (pnr, year − 1) and "
    "classifies with boolean masks — fully vectorised, faster than what most researchers write; (b2) "
    "`pandas_groupby_shift` sorts by (pnr, year) and takes last year's values with `groupby('pnr').shift(1)` — "
    "the common panel idiom; (b3) `pandas_per_person` walks each person's years in a Python function over "
    "`groupby('pnr')` — what a SAS/Stata loop becomes — timed on a subset of persons and extrapolated "
    "linearly in persons."
)


def _ok(r: dict[str, Any] | None) -> bool:
    return bool(r) and r.get("status") in ("ok", "cached", "extrapolated") and r.get("seconds") is not None


# ----------------------------------------------------------------------------- checks


def checks(results: dict[str, dict[str, Any]], run_dir: Path) -> dict[str, dict[str, Any]]:
    """Every baseline's cells against pendling's (disclosure off), to 1e-9; networkx minutes against
    pendling's matrix, to 1e-9; OSRM's agreement (reported, not required: it uses its own speeds)."""
    import polars as pl

    import baselines

    out: dict[str, dict[str, Any]] = {}
    for name, default_file in CELL_BASELINES.items():
        r = results.get(name)
        if not _ok(r):
            out[name] = {"passed": False if r and r.get("status") == "failed" else None,
                         "reason": f"baseline {r.get('status') if r else 'not run'}"}
            continue
        details = r.get("details", {})
        k = details.get("every_kth_pnr", 1)
        engine = run_dir / details.get("reference", "mobility_open.parquet")
        file = run_dir / details.get("output", default_file)
        if not engine.is_file() or not file.is_file():
            missing = file.name if engine.is_file() else f"pendling's unsuppressed result {engine.name}"
            out[name] = {"passed": False, "reason": f"{missing} is missing"}
            continue
        d = baselines.max_abs_difference(pl.read_parquet(engine), pl.read_parquet(file))
        passed = (d["cells"] > 0 and d["cells_only_in_one"] == 0 and d["n"] == 0
                  and d["mean_rel_change"] <= TOLERANCE and d["ratio_of_means"] <= TOLERANCE)
        out[name] = {
            "passed": passed, "tolerance": TOLERANCE, **d,
            "against": "pendling.mobility.compute(disclosure=False)"
                       + (f" on the same every-{k}th-PNR subset ({details.get('persons', 0):,} persons)"
                          if k > 1 else ""),
            "statistics": "n, mean_rel_change, ratio_of_means per year × flow × job group × hovedstaden/rest/all",
        }
    nx = results.get("routing_networkx")
    if _ok(nx):
        d = nx["details"]
        diff = d["max_abs_diff_minutes"]
        out["routing_networkx"] = {"passed": d["pairs_compared"] > 0 and diff == diff and diff <= TOLERANCE,
                                   "tolerance": TOLERANCE, "max_abs_diff_minutes": diff,
                                   "pairs_compared": d["pairs_compared"], "sources": d["sources_measured"]}
    else:
        out["routing_networkx"] = {"passed": False if nx and nx.get("status") == "failed" else None,
                                   "reason": (nx or {}).get("reason", "not run")}
    osrm = results.get("routing_osrm")
    if _ok(osrm):
        out["routing_osrm"] = {"passed": None, "agreement": osrm["details"]["agreement"],
                               "note": "OSRM routes with its own car.lua speeds and turn costs: "
                                       "agreement, not equality"}
    else:
        out["routing_osrm"] = {"passed": False if osrm and osrm.get("status") == "failed" else None,
                               "reason": (osrm or {}).get("reason", "not run")}
    duck = results.get("duckdb_bare")
    if _ok(duck) and "edge_cases" in duck["details"]:
        out["address_conflict"] = {
            "passed": None, **duck["details"]["edge_cases"],
            "note": "same_address_other_municipality: contradictory transitions (same ADRESSE_ID, another KOM), "
                    "in neither flow in pendling and in every baseline; address unknown: the municipality decides",
        }
    return out


# ----------------------------------------------------------------------------- targets


def targets(results: dict[str, dict[str, Any]], *, applies: bool) -> list[dict[str, Any]]:
    """The issue's targets (national scale on the 2-core, 24 GiB machine), met or missed, with ratios."""
    mob, duck = results.get("mobility"), results.get("duckdb_bare")
    mat, syn, build = results.get("routing_matrix"), results.get("synth"), results.get("routing_graph_build")
    out = []

    def add(name: str, value: float | None, limit: float | None, unit: str, better: str, note: str = "") -> None:
        met = None
        if value is not None and limit is not None:
            met = value <= limit if better == "lower" else value >= limit
        out.append({"target": name, "value": value, "limit": limit, "unit": unit, "better": better, "met": met,
                    "by": (value / limit if value is not None and limit else None), "applies": applies, "note": note})

    add("mobility compute ≤ 1.3 × the bare DuckDB lower bound",
        mob["seconds"] / duck["seconds"] if _ok(mob) and _ok(duck) else None, 1.3, "× DuckDB", "lower")
    for stage, which in PANDAS_BASELINES.items():
        pds = results.get(stage)
        note = ""
        if _ok(pds) and pds["status"] == "extrapolated":
            d = pds["details"]
            note = (f"pandas extrapolated from every {d['every_kth_pnr']}th PNR ({d['persons']:,} of "
                    f"{d['total_persons']:,} persons)")
        elif pds and not _ok(pds):
            note = f"baseline {pds.get('status', 'not run')}"
        add(f"mobility compute ≥ 30 × faster than pandas {which}",
            pds["seconds"] / mob["seconds"] if _ok(mob) and _ok(pds) else None, 30.0, "× faster", "higher", note)
    add("mobility peak RSS ≤ 3 GiB beyond the loaded table",
        mob["details"]["peak_beyond_table_mib"] / 1024 if _ok(mob) else None, 3.0, "GiB", "lower")
    add("98×98 matrix from the stored national graph ≤ 20 s",
        mat["seconds"] if _ok(mat) else None, 20.0, "s", "lower")
    add("synth national ≤ 90 s", syn["seconds"] if _ok(syn) else None, 90.0, "s", "lower",
        "timing recorded when the cached extract was generated" if _ok(syn) and syn["status"] == "cached" else "")
    add("graph build from tiles: recorded", build["seconds"] if _ok(build) else None, None, "s", "lower",
        (build or {}).get("reason", ""))
    return out


def withhold_timings(doc: dict[str, Any]) -> None:
    """A failed equality check means the times compare different computations: drop every time."""
    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if "seconds" not in k}
        return node

    doc["stages"] = strip(doc["stages"])
    doc["targets"] = []
    doc["timings_withheld"] = "an equality check failed; see checks"


# ----------------------------------------------------------------------------- files


def _f(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x:,.{digits}f}"


def _s(x: float | None) -> str:
    """Seconds with about three significant digits (0.042, 1.37, 21.6, 148)."""
    if x is None:
        return "—"
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}" if x >= 0.1 else f"{x:.3f}"


def _ratio_cell(stage: str, results: dict[str, dict[str, Any]]) -> str:
    engine = BASELINE_OF.get(stage)
    r, e = results.get(stage), results.get(engine) if engine else None
    if not engine or not _ok(r) or not _ok(e):
        return ""
    q = e["seconds"] / r["seconds"]
    how = f"pendling {1 / q:,.1f}× faster" if q < 1 else f"pendling takes {q:,.2f}× as long"
    return f"{q:,.3g} ({how})"


def _load(r: dict[str, Any]) -> str:
    a, b = r.get("loadavg_start"), r.get("loadavg_end")
    return f"{a[0]:.1f}→{b[0]:.1f}" if a and b else ""


def _note(stage: str, r: dict[str, Any], scale: str) -> str:
    d = r.get("details", {})
    if r["status"] == "skipped" or r["status"] == "failed":
        return f"**{r['status']}**: {r.get('reason', '')}"
    notes = {
        "synth": lambda: f"{d['persons']:,} persons × {d['years']}, {d['rows']:,} rows"
                         + (f"; cached, measured {d['measured_utc']}" if r["status"] == "cached" else ""),
        "panel_load": lambda: f"{d['rows_read']:,} rows read, {d['rows_kept']:,} kept "
                              f"({d['table_mib']:,.0f} MiB table)",
        "mobility": lambda: f"{d['cells']} cells; {d['movers']:,} movers, {d['job_changers']:,} job changers; "
                            f"{d['peak_beyond_table_mib']:,.0f} MiB beyond the {d['table_mib']:,.0f} MiB table",
        "duckdb_bare": lambda: "self-join + matrix lookup + group-by only",
        "pandas_idiomatic": lambda: d.get("note") or "self-merge + masks + groupby on all rows",
        "pandas_groupby_shift": lambda: d.get("note") or "sort + groupby('pnr').shift(1) + masks + merge + groupby "
                                                          "on all rows",
        "pandas_per_person": lambda: (d.get("note") or "all persons")
                                     + f"; {d['measured_seconds_per_1000_persons']:.2f} s per 1,000 persons measured",
        "mobility_breakdowns": lambda: f"{d['cells']} cells",
        "routing_graph_build": lambda: f"{d['tiles']:,} z13 tiles → {d['nodes']:,} nodes, "
                                       f"{d['directed_edges']:,} edges",
        "routing_matrix": lambda: f"{d['sources']}×{d['sources']}; load {d['load_seconds']:.1f} s + route "
                                  f"{d['route_seconds']:.1f} s on {d['nodes']:,} nodes",
        "routing_networkx": lambda: d["note"],
        "routing_osrm": lambda: "table query only; prepare "
                                f"{d['prepare'].get('extract_partition_customize_seconds', 0):,.0f} s"
                                f" + pbf {d['prepare'].get('graph_to_pbf_seconds', 0):,.0f} s"
                                + (" (cached)" if d["prepare"].get("cached") else "")
                                + f"; median |Δ minutes| {d['agreement']['minutes']['median_abs_rel_diff']:.1%}",
    }
    try:
        return notes[stage]()
    except (KeyError, TypeError):
        return ""


def markdown(doc: dict[str, Any]) -> str:
    res, scale = doc["stages"], doc["scale"]
    m, p = doc["machine"], doc["parameters"]
    lines = [
        f"# pendling benchmarks — {scale} scale, {doc['started_utc'][:10]}",
        "",
        f"Run {doc['started_utc']} → {doc['finished_utc']} (UTC) with `python benchmarks/run.py --scale {scale}`. "
        f"Machine: {m['cpus']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, Python {m['python']}; "
        f"commit `{(m['git_commit'] or '?')[:10]}`{' + uncommitted changes' if m['git_dirty'] else ''}. "
        f"Load average (1 min) at start {doc['loadavg_start'][0]:.2f}, at end {doc['loadavg_end'][0]:.2f}"
        " — the machine is shared, so the per-stage load is in the table.",
        "",
        f"Extract: {p['persons']:,} synthetic persons × {p['years']} (seed {p['seed']}, scenario {p['scenario']}).",
        "",
        "## Equality checks (before any timing)",
        "",
    ]
    order = [*CELL_BASELINES, "routing_networkx", "routing_osrm", "address_conflict"]
    for name in sorted(doc["checks"], key=lambda n: order.index(n) if n in order else len(order)):
        c = doc["checks"][name]
        state = {True: "**passed**", False: "**FAILED**", None: "info"}[c.get("passed")]
        body = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in c.items()
                         if k not in ("passed", "agreement", "note", "against", "statistics"))
        if "agreement" in c:
            a = c["agreement"]
            mi, km = a["minutes"], a["km"]
            body = (f"minutes: median |Δ| {mi['median_abs_rel_diff']:.1%}, max {mi['max_abs_rel_diff']:.1%}, "
                    f"median signed {mi['median_rel_diff']:+.1%}; km: median |Δ| {km['median_abs_rel_diff']:.1%} "
                    f"over {a['minutes']['pairs']:,} pairs")
        lines.append(f"- {name}: {state} — {body}" + (f" ({c['note']})" if c.get("note") else ""))
    lines.append("")
    if not doc["checks_passed"]:
        lines += ["Timings are withheld: a baseline does not compute the same numbers as pendling "
                  "(see above and the JSON).", ""]
        return "\n".join(lines)
    lines += [
        "## Stages",
        "",
        "| stage | seconds | CPU s | peak MiB | ratio to baseline | load | notes |",
        "| --- | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for stage in [s for s in LABELS if s in res]:
        r = res[stage]
        tag = {"extrapolated": " *(extrapolated)*", "cached": " *(cached)*"}.get(r["status"], "")
        lines.append(f"| {LABELS[stage]}{tag} | {_s(r.get('seconds'))} | {_s(r.get('cpu_seconds'))} | "
                     f"{_f(r.get('peak_rss_mib'), 0)} | {_ratio_cell(stage, res)} | {_load(r)} | "
                     f"{_note(stage, r, scale)} |")
    lines += [
        "",
        f"Seconds: wall clock; the mobility, baseline and matrix stages report the median of {p.get('repeat', 1)} "
        "back-to-back runs in one process (all runs are in the JSON). "
        "Ratio to baseline = pendling's seconds ÷ the baseline's (below 1: pendling is faster). Peak MiB = peak "
        "resident memory of the stage's own process during the timed work, inputs included (the high-water mark is "
        "reset when the work starts); CPU s = user + system over all threads and worker processes. Load = the "
        "1-minute load average at the start → end of the stage; it includes the benchmark's own threads (up to 2).",
        "",
        "## Targets" + ("" if doc["targets"] and doc["targets"][0]["applies"]
                        else " (they apply at national scale; shown for information)"),
        "",
        "| target | value | limit | met |",
        "| --- | ---: | ---: | --- |",
    ]
    for t in doc["targets"]:
        met = {True: "yes", False: "**no**", None: "—"}[t["met"]]
        if t["met"] is not None and t["by"]:
            # by how much: value ÷ limit for upper limits; for lower limits value ÷ limit when met, the
            # factor still missing when not
            if t["better"] == "lower" or t["met"]:
                met += f" ({t['by']:.2f}× the limit)"
            else:
                met += f" ({1 / t['by']:.1f}× short)"
        lim = "—" if t["limit"] is None else f"{t['limit']:g} {t['unit']}"
        val = "—" if t["value"] is None else f"{t['value']:,.2f} {t['unit']}"
        lines.append(f"| {t['target']} | {val} | {lim} | {met}{' — ' + t['note'] if t['note'] else ''} |")
    if any(t["target"].startswith("mobility compute ≥ 30") for t in doc["targets"]):
        lines += ["", PANDAS_LEGEND]
    lines.append("")
    return "\n".join(lines)


def relative_paths(node: Any, root: Path) -> Any:
    """Absolute paths under the repository's parent shown relative to the repository (results are
    committed; the checkout's location is nobody's business)."""
    import os

    if isinstance(node, dict):
        return {k: relative_paths(v, root) for k, v in node.items()}
    if isinstance(node, list):
        return [relative_paths(v, root) for v in node]
    if isinstance(node, str) and node.startswith(str(root.parent) + os.sep):
        return os.path.relpath(node, root)
    return node


def write(doc: dict[str, Any], out: Path, date: str, scale: str) -> tuple[Path, Path]:
    from pendling import io

    doc = relative_paths(doc, Path(__file__).resolve().parents[1])
    stem = date if scale == "national" else f"{date}-{scale}"
    latest = "latest.md" if scale == "national" else f"latest-{scale}.md"
    text = markdown(doc)
    notes = Path(out) / f"{stem}-notes.md"
    if notes.is_file():  # a hand-written analysis of this run (profiles of the misses, fixes)
        text += f"\nWhere the time goes and what would fix the misses: [{notes.name}]({notes.name}).\n"
    path_json = io.write_json(doc, Path(out) / f"{stem}.json")
    path_md = io.write_text(text, Path(out) / f"{stem}.md")
    io.write_text(text, Path(out) / latest)
    return path_json, path_md

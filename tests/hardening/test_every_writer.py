"""Every file pendling writes that could leave a research server holds no count 0 < n < min N.

Three parts, so that a writer added later is caught:

* the source is scanned for every call that writes a file (pendling.io writers, atomic_path, the
  Excel writers, savefig, pyreadstat, write_bytes, GeoPandas): each site must be listed below as
  exercised by a CLI run here, or as exempt with the reason;
* every CLI option that names an output file (``--out``, ``-o``, ``--*-out``) must be exercised or
  exempt likewise;
* the CLI runs every exercised writer on a tiny dirty extract that has counts of 1–4 (checked on the
  unsuppressed run), then every file written is read back (CSV, Parquet, Excel, Stata, SAS transport,
  JSON) and every count
  in it — columns named as counts, any other integer column that is not a key, JSON values, counts
  quoted in text — is checked against min N. Files written under ``--no-disclosure`` must say so
  inside the file instead.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import polars as pl
import pytest
from hardening_helpers import read_xlsx
from typer.testing import CliRunner

from pendling.cli import app, command_tree
from pendling.mobility.disclosure import NO_DISCLOSURE_NOTE

SRC = Path(__file__).resolve().parents[2] / "src" / "pendling"
MIN_N = 5

# ------------------------------------------------------------------------------------- write sites

PRIMITIVES = {
    "write_table", "write_csv", "write_parquet", "write_json", "write_text", "write_results_xlsx",
    "write_table_xlsx", "atomic_path", "save_figure", "savefig", "to_parquet", "write_bytes", "write_dta",
    "write_xport", "write_results", "export_panel",
}
EXERCISED = "exercised by test_cli_writers_disclose_nothing"
SITES: dict[tuple[str, str], str] = {
    # the io module's own writers and the figure/Excel primitives: what their callers pass is checked
    **{("pendling.io", f): "primitive" for f in ("write_parquet", "write_csv", "write_text", "write_json",
                                                 "write_table")},
    ("pendling.report.excel", "write_results_xlsx"): "primitive (its callers pass controlled tables)",
    ("pendling.report.excel", "write_table_xlsx"): "primitive (io.write_table's .xlsx)",
    ("pendling.report.style", "save_figure"): "primitive (figures draw controlled data; captions checked in "
                                              "tests/report)",
    ("pendling.report.style", "_render"): "primitive (save_figure's and the notebook display's rendering)",
    # the writers that hold counts about persons
    ("pendling.cli.compute", "_run_and_write"): EXERCISED + " (compute's results)",
    ("pendling.mobility.export", "write_results"): EXERCISED,
    ("pendling.cli.panel", "check"): EXERCISED,
    ("pendling.cli.panel", "export"): EXERCISED,
    ("pendling.panel.load", "export_panel"): EXERCISED,
    ("pendling.cli.plot", "_save"): EXERCISED,
    # no counts of persons
    ("pendling.geo", "build"): "exempt: municipality reference data (DAGI, DST), no person counts",
    ("pendling.geo", "_write_aliases"): "exempt: municipality code aliases",
    ("pendling.geo", "_write_geoparquet"): "exempt: municipality boundaries",
    ("pendling.routing.build", "build_matrix"): "exempt: travel-time matrix from OpenStreetMap",
    ("pendling.routing.graph", "save_graph"): "exempt: road graph from OpenStreetMap",
    ("pendling.synth.api", "generate"): "exempt: synthetic extract and its planted truth (no register data)",
    ("pendling.cli.sensitivity", "_zone_section"): (
        "exempt: zones_movers.csv goes through disclose_table in compare_zones; zones_cells.csv joins two results "
        "tables that apply_disclosure already controlled and hides the grid columns where the two n differ by "
        "1 to min_n - 1 (tests/synth/test_grid_synth.py, tests/routing/test_compute_zones.py)"),
    ("pendling.synth.writer", "write_extract"): "exempt: synthetic extract (no register data)",
    ("pendling.statfiles", "write_dta"): "primitive (io.write_table's .dta)",
    ("pendling.statfiles", "write_xpt"): "primitive (io.write_table's .xpt)",
    ("pendling.statfiles", "pin_dta_timestamp"): "primitive (fixed timestamp of a .dta just written)",
    ("pendling.statfiles", "pin_xpt_timestamps"): "primitive (fixed timestamps of a .xpt just written)",
    ("pendling.wheelhouse", "_write_own_files"): "exempt: offline-install wheelhouse (packages, no data)",
    ("pendling.cli.compute", "_write_beside"): EXERCISED + " (compute --contrast: contrasts beside the results)",
    ("pendling.cli.sensitivity", "sensitivity"): EXERCISED,
    ("pendling.cli.matrix", "pairs"): "exempt: travel times between zones (OpenStreetMap), no person counts",
    ("pendling.routing.pairs", "route_node_pairs"): "exempt: cache of routed node pairs (travel times only)",
    ("pendling.mobility.variants", "variant_matrix_path"): "exempt: cached variant travel-time matrix",
    ("pendling.mobility.variants", "_network_diagonal"): "exempt: cached routed within-municipality times",
    ("pendling.panel.cache", "store"): "exempt: validated-panel cache, server-side microdata in the user's cache "
                                       "(like the extracts it was read from), never an output, never exported",
    ("pendling.panel.stream", "_write_year"): "exempt: one year of the per-year panel store, server-side microdata "
                                              "in the user's cache or a private temporary folder, never an output",
    ("pendling.panel.stream", "_store_year"): "exempt: manifest of a per-year cache entry (like panel.cache.store)",
    ("pendling.cli._crash", "write_crash_log"): "exempt: crash log of a bug (command, versions, traceback; no tables)",
}


def _write_sites() -> set[tuple[str, str]]:
    """(module, top-level function) of every call to a file-writing primitive under src/pendling."""
    found: set[tuple[str, str]] = set()
    for path in sorted(SRC.rglob("*.py")):
        module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)

        def visit(node: ast.AST, func: str | None, module: str = module) -> None:
            for child in ast.iter_child_nodes(node):
                name = func
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and func is None:
                    name = child.name
                if isinstance(child, ast.Call):
                    f = child.func
                    called = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
                    if called in PRIMITIVES:
                        found.add((module, name or "<module>"))
                visit(child, name)

        visit(ast.parse(path.read_text(encoding="utf-8")), None)
    # the primitives themselves (a writer calling the next layer) are listed by their own name
    return found


def test_every_file_writer_is_known() -> None:
    sites = _write_sites()
    unknown = sorted(sites - set(SITES))
    assert not unknown, (
        f"new file-writing code {unknown}: pass its count tables through "
        "pendling.mobility.disclosure.disclose_table, run it in test_cli_writers_disclose_nothing and list it "
        "in SITES (or list it as exempt, with the reason)"
    )
    stale = sorted(set(SITES) - sites)
    assert not stale, f"SITES lists code that no longer writes files: {stale}"


# ---------------------------------------------------------------------------------- output options

EXERCISED_OPTIONS = {
    ("panel check", "--attrition-out"), ("panel export", "--out"), ("compute", "--out"), ("plot", "--out"),
    ("plot", "--data-out"), ("map", "--out"), ("map", "--data-out"), ("sensitivity", "--out"),
}
EXEMPT_OPTIONS = {
    ("synth", "--out"): "synthetic extract",
    ("geo build", "--out"): "municipality reference data",
    ("roads build", "--out"): "road graph",
    ("matrix build", "--out"): "travel-time matrix",
    ("matrix pairs", "--out"): "travel times between zones",
}


def _output_options() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()

    def walk(cmd, prefix: str) -> None:  # noqa: ANN001 (click command)
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, f"{prefix} {name}".strip())
            return
        for param in cmd.params:
            for opt in getattr(param, "opts", []):
                if param.param_type_name == "option" and re.fullmatch(r"--([\w-]+-)?out|-o", opt):
                    found.add((prefix, max(param.opts, key=len)))

    walk(command_tree(), "")  # every command imported (pendling.cli imports them lazily)
    return found


def test_every_output_option_is_exercised_or_exempt() -> None:
    options = _output_options()
    assert options == EXERCISED_OPTIONS | set(EXEMPT_OPTIONS), (
        "an output option was added or removed: exercise it in test_cli_writers_disclose_nothing "
        f"(or list it as exempt). Found {sorted(options)}"
    )


# ------------------------------------------------------------------------------------- the runs

SCENARIO = """
name = "tiny-dirty"
description = "dirt without duplicate rows, at rates that leave counts of 1-4 in a 1,000-person extract"
[rates]
move = 0.10
move_within_municipality = 0.62
job_change = 0.135
exit = 0.05
workplace_relocation = 0.004
[movers]
default = 1.0
[job_changers]
default = 1.0
[dirt]
unknown_municipality = 0.002
christiansoe_411 = 0.3
missing_disco = 0.004
duplicate_rows = 0.0
"""
# (SAS transport writes upper-case names of at most 8 characters: N, INPUT, KEPT, EXCLUDED)
COUNT_NAMES = re.compile(r"^(n|n_\w+|\w+_n|input|kept|excluded|rows_read|rows_written|persons|count)$", re.IGNORECASE)
# integer columns that are not counts: keys, codes, identifiers (only in the exempt microdata table)
NOT_COUNTS = {"year", "code", "origin", "destination", "region_code", "kommunegruppe_code", "min_n",
              "suppressed"}  # a flag (Stata stores booleans as 0/1)
COUNT_IN_TEXT = re.compile(r"(?<![\w.,])([1-9]\d*)\s+(?:kept\s+|input\s+|excluded\s+)?"
                           r"(?:rows?|persons?|person-years?|movers?|job-changers?)\b")


def _invoke(*args: str) -> None:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, f"pendling {' '.join(map(str, args))}\n{result.output}"


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, Path]:
    """Run every exercised writer; returns the folders of controlled and unsuppressed output."""
    root = tmp_path_factory.mktemp("writers")
    scenario = root / "tiny.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    extract = root / "extract"
    _invoke("synth", "--out", extract, "--persons", 1000, "--years", "2019-2021", "--seed", 3,
            "--scenario", scenario)
    out, raw = root / "out", root / "raw"
    for suffix in ("parquet", "csv", "xlsx", "dta", "xpt"):  # parquet first: the plots read results.parquet
        _invoke("panel", "check", extract, "--attrition-out", out / f"check_attrition.{suffix}")
        _invoke("compute", "--panel", extract, "--years", "2020-2021", "--by", "region", "--by", "kommunegruppe",
                "--out", out / f"results.{suffix}")
        _invoke("compute", "--panel", extract, "--years", "2020-2021", "--by", "region", "--no-disclosure",
                "--out", raw / f"results.{suffix}")
    # contrasts beside the results, and the sensitivity table (the variants' cells and contrasts)
    _invoke("compute", "--panel", extract, "--years", "2020-2021", "--contrast", "2020:2021",
            "--out", out / "contrasted.csv", "--out", out / "contrasted.parquet")
    _invoke("sensitivity", "--panel", extract, "--contrast", "2020:2021", "--internal", "area", "--internal", "zero",
            "--out", out / "sensitivity")
    # the figure writers, each table format at least once
    for figure, region, suffix in (("movers", "all", "csv"), ("movers", "hovedstaden", "parquet"),
                                   ("job-changers", "rest", "xlsx"), ("movers", "rest", "dta"),
                                   ("job-changers", "all", "xpt")):
        _invoke("plot", "--figure", figure, "--region", region, "--results", out / "results.parquet",
                "-o", out / f"{figure}_{region}.png", "--data-out", out / f"{figure}_{region}_data.{suffix}")
    _invoke("plot", "--figure", "distance", "--panel", extract, "-o", out / "distance.svg",
            "--data-out", out / "distance_data.csv")
    _invoke("plot", "--figure", "movers", "--panel", extract, "-o", out / "movers_panel.png",
            "--data-out", out / "movers_panel_data.xlsx")
    _invoke("map", "--from", 101, "-o", out / "map.png", "--data-out", out / "map_data.parquet")
    for suffix in ("parquet", "csv"):
        _invoke("panel", "export", extract, "--out", out / "export" / f"panel_{suffix}.{suffix}")
    return {"out": out, "raw": raw}


def _tables(path: Path) -> list[tuple[str, pl.DataFrame]]:
    """Every table in a file as (label, frame); Excel sheets as text columns."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return [(path.name, pl.read_csv(path, infer_schema_length=None))]
    if suffix == ".parquet":
        return [(path.name, pl.read_parquet(path))]
    if suffix == ".xlsx":
        out = []
        for sheet, rows in read_xlsx(path).items():
            # the header is the first row holding column names (a title may sit above it)
            start = next((i for i, r in enumerate(rows) if r and all(isinstance(v, str) for v in r if v is not None)
                          and any(isinstance(v, str) and COUNT_NAMES.match(v) for v in r)), None)
            if start is None:
                out.append((f"{path.name}:{sheet}", pl.DataFrame({"text": [str(v) for r in rows for v in r]})))
                continue
            header = [str(h) for h in rows[start]]
            body = [[None if v is None else v for v in r] + [None] * (len(header) - len(r)) for r in rows[start + 1:]]
            out.append((f"{path.name}:{sheet}", pl.DataFrame(body, schema=header, orient="row",
                                                               infer_schema_length=None, strict=False)))
        return out
    if suffix in (".dta", ".xpt"):
        import pyreadstat

        read = pyreadstat.read_dta if suffix == ".dta" else pyreadstat.read_xport
        frame, _ = read(str(path))
        return [(path.name, pl.from_pandas(frame))]
    raise AssertionError(f"unexpected table format {path}")


def _counts_in_json(obj: object, key: str = "") -> list[tuple[str, int]]:
    if isinstance(obj, dict):
        return [c for k, v in obj.items() for c in _counts_in_json(v, k)]
    if isinstance(obj, list):
        return [c for v in obj for c in _counts_in_json(v, key)]
    if isinstance(obj, bool):
        return []
    if isinstance(obj, (int, float)) and key not in NOT_COUNTS and COUNT_NAMES.match(key):
        return [(key, int(obj))]
    return []


def _small(values: list) -> list:
    out = []
    for v in values:
        try:
            k = float(v)
        except (TypeError, ValueError):  # blank, or text (text is scanned for quoted counts instead)
            continue
        if 0 < k < MIN_N:
            out.append(v)
    return out


def _problems(path: Path) -> list[str]:
    problems: list[str] = []
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        problems += [f"{path.name}: {k} = {v}" for k, v in _counts_in_json(data) if 0 < v < MIN_N]
        problems += [f"{path.name}: text {m.group(0)!r}" for m in COUNT_IN_TEXT.finditer(json.dumps(data))
                     if int(m.group(1)) < MIN_N]
        return problems
    for label, df in _tables(path):
        for col in df.columns:
            s = df[col]
            is_count = bool(COUNT_NAMES.match(col)) or (s.dtype.is_integer() and col.lower() not in NOT_COUNTS)
            if is_count and s.dtype != pl.Boolean:
                bad = _small(s.cast(pl.Utf8).to_list() if s.dtype == pl.Utf8 else s.to_list())
                if bad:
                    problems.append(f"{label}: column {col} holds {bad[:5]}")
            if s.dtype == pl.Utf8:
                for text in s.drop_nulls().to_list():
                    problems += [f"{label}: {col} text {m.group(0)!r}" for m in COUNT_IN_TEXT.finditer(text)
                                 if int(m.group(1)) < MIN_N]
    return problems


# the panel export's own table is the canonical person-year microdata: it never leaves the server
MICRODATA = re.compile(r"panel_(csv|parquet)\.(csv|parquet)$")


def test_cli_writers_disclose_nothing(written) -> None:
    files = sorted(p for p in written["out"].rglob("*") if p.is_file())
    kinds = {p.suffix.lower() for p in files}
    assert {".csv", ".parquet", ".xlsx", ".dta", ".xpt", ".json", ".png", ".svg"} <= kinds
    checked, problems = 0, []
    for path in files:
        if path.suffix.lower() in (".png", ".svg") or MICRODATA.search(path.name):
            continue
        problems += _problems(path)
        checked += 1
    assert checked >= 20
    assert not problems, "\n".join(problems[:40])


def test_the_extract_has_small_counts_to_hide(written) -> None:
    """The check above could fail: unsuppressed, the same writers put counts of 1-4 in files."""
    raw = [p for p in sorted(written["raw"].rglob("*")) if p.suffix in (".csv", ".parquet", ".dta", ".xpt")]
    missed = [p.name for p in raw if ".method." not in p.name and not _problems(p)]
    assert raw and not missed, missed


def test_unsuppressed_files_say_so_inside(written) -> None:
    for path in sorted(written["raw"].rglob("*")):
        if path.suffix in (".csv", ".parquet") and ".method." not in path.name:
            for _, df in _tables(path):
                assert "disclosure" in df.columns and set(df["disclosure"].to_list()) == {NO_DISCLOSURE_NOTE}, path
        elif path.suffix == ".csv":  # method notes
            assert "NO disclosure control" in path.read_text(encoding="utf-8")
        elif path.suffix == ".xlsx":
            text = json.dumps(read_xlsx(path), ensure_ascii=False)
            assert "UNSUPPRESSED" in text
        elif path.suffix in (".dta", ".xpt"):  # variable names cut to 8 (xpt) or 32 characters
            for _, df in _tables(path):
                note = [c for c in df.columns if c.lower().startswith("disclos")]
                assert note and set(df[note[0]].to_list()) == {NO_DISCLOSURE_NOTE}, path

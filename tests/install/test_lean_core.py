"""The lean core: what `pip install pendling` (no extras) must run, and what start-up imports.

Runs in subprocesses with the extras' packages blocked by a meta-path finder, as on a machine where
they were never installed: synth → panel check → compute → .dta output work; plot, map and roads
build fail with exit 2 and the extra to install. Also: `pendling --help` and the --help of every
command import no heavy package (no timing here: benchmarks/startup.py measures the time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from pendling._extras import EXTRAS, PIP_NAMES, MissingExtraError, optional

ROOT = Path(__file__).resolve().parents[2]
# every package an extra provides, plus test-only ones and pandas (geopandas brings it; pyreadstat
# reads and writes Polars frames): none may be needed by the core
BLOCKED = sorted({m for mods in EXTRAS.values() for m in mods} | {"networkx", "pandana", "pandas"})

BLOCKER = textwrap.dedent(f"""
    import sys
    BLOCKED = set({BLOCKED!r})

    class _Blocked:
        '''Acts as if the extras were never installed.'''
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, _Blocked())

    def run(*argv):
        from pendling.cli import main
        sys.argv = ["pendling", *argv]
        try:
            main()
        except SystemExit as exc:
            return exc.code or 0
        return 0
""")


def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PENDLING_CACHE_DIR": str(tmp_path / "cache"),
           "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"}
    env.pop("POLARS_MAX_THREADS", None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300, encoding="utf-8")


def _pip_name(module: str) -> str:
    return PIP_NAMES.get(module, module).lower().replace("_", "-")


def _requirement_names(reqs: list[str]) -> set[str]:
    import re

    return {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in reqs}


def test_pyproject_extras_match_the_table_optional_uses() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = meta["optional-dependencies"]
    core = _requirement_names(meta["dependencies"])
    for extra, modules in EXTRAS.items():
        assert _requirement_names(extras[extra]) == {_pip_name(m) for m in modules}, extra
        assert not core & {_pip_name(m) for m in modules}, f"{extra} packages are also in the core"
    every = {_pip_name(m) for mods in EXTRAS.values() for m in mods}
    assert _requirement_names(extras["all"]) == every
    assert {"pyreadstat", "scipy", "pyarrow"} <= core  # SAS/Stata files; CIs and disclosure; DuckDB ← Polars
    assert "pandas" not in core


def test_optional_names_the_extra_and_keeps_other_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "osmium", None)  # import of osmium now fails as if not installed
    with pytest.raises(MissingExtraError, match=r'pip install "pendling\[routing\]"') as err:
        optional("osmium", "routing", "reading OpenStreetMap files")
    assert "reading OpenStreetMap files needs the optional package 'osmium'" in str(err.value)
    # a package of the extra that is present but broken inside (here: one of its own dependencies
    # missing that is not part of the extra) keeps its real error
    monkeypatch.setitem(sys.modules, "fake_lib_for_test", None)
    monkeypatch.setattr("importlib.import_module", lambda name: __import__("fake_lib_for_test"))
    with pytest.raises(ModuleNotFoundError, match="fake_lib_for_test"):
        optional("geopandas", "maps")
    with pytest.raises(ValueError, match="not part of the extra"):
        optional("polars", "maps")


def test_core_commands_run_without_any_extra(tmp_path: Path) -> None:
    code = BLOCKER + textwrap.dedent("""
        import json
        codes = {}
        codes["synth"] = run("synth", "--persons", "1000", "--years", "2019-2021", "--out", "ext")
        codes["check"] = run("panel", "check", "ext")
        codes["synth_xpt"] = run("synth", "--persons", "1000", "--years", "2020-2021", "--format", "xpt", "--out", "xpt")
        codes["check_xpt"] = run("panel", "check", "xpt")
        codes["compute"] = run("compute", "--panel", "ext", "--year", "2021", "--out", "r.parquet", "--out", "r.dta",
                              "--out", "r.xpt", "--out", "r.xlsx")
        codes["sensitivity"] = run("sensitivity", "--panel", "ext", "--contrast", "2020:2021", "--out", "sens")
        codes["matrix_show"] = run("matrix", "show", "--from", "101", "--to", "751")
        codes["matrix_check"] = run("matrix", "check")
        codes["geo_list"] = run("geo", "list")
        import pendling
        import pendling.routing  # importable without osmium/geopandas: they load where used
        m = pendling.load_matrix()
        api = pendling.compute(pendling.load_panel("ext"), m, years=[2021])
        print("RESULT", json.dumps({"codes": codes, "matrix_rows": m.height, "api_rows": api.height,
                                    "blocked_loaded": sorted(k for k in sys.modules if k.split(".")[0] in BLOCKED)}))
    """)
    proc = _python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    res = json.loads(line.removeprefix("RESULT "))
    assert res["codes"] == {"synth": 0, "check": 0, "synth_xpt": 0, "check_xpt": 0, "compute": 0,
                            "sensitivity": 0, "matrix_show": 0, "matrix_check": 0, "geo_list": 0}, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert res["matrix_rows"] == 98 * 98 and res["api_rows"] > 0
    assert res["blocked_loaded"] == []
    for suffix in ("parquet", "dta", "xpt", "xlsx"):
        assert (tmp_path / f"r.{suffix}").is_file()
    # sensitivity's table is core; its figure needs [plot] and the 'network' variant [routing]: both are
    # left out, each with a note naming the extra
    assert (tmp_path / "sens" / "sensitivity.csv").is_file() and not (tmp_path / "sens" / "sensitivity.png").exists()
    assert 'pip install "pendling[plot]"' in proc.stderr and 'pip install "pendling[routing]"' in proc.stderr
    import polars as pl

    sens = pl.read_csv(tmp_path / "sens" / "sensitivity.csv")
    assert set(sens["internal"].unique()) == {"area", "zero"}


@pytest.mark.parametrize(("argv", "extra"), [
    (["map", "--from", "101", "-o", "m.png"], "maps"),
    (["plot", "--figure", "movers", "-o", "f.png"], "plot"),
    (["roads", "build", "--osm", "x.osm.pbf", "--out", "g"], "routing"),
])
def test_a_command_of_a_missing_extra_says_which_extra(tmp_path: Path, argv: list[str], extra: str) -> None:
    if extra == "routing":
        (tmp_path / "x.osm.pbf").write_bytes(b"not really")
    proc = _python(BLOCKER + f"sys.exit(run(*{argv!r}))", tmp_path)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f'pip install "pendling[{extra}]"' in proc.stderr
    assert "Traceback" not in proc.stderr


HEAVY = ["matplotlib", "geopandas", "shapely", "pyproj", "osmium", "mapbox_vector_tile", "scipy", "pandas",
         "duckdb", "polars", "pyarrow", "numpy", "networkx", "pendling.routing", "pendling.report",
         "pendling.panel", "pendling.mobility", "pendling.synth"]


def _help_argvs() -> list[list[str]]:
    """`pendling --help`, bare `pendling`, and --help of every command and sub-command of cli.COMMANDS."""
    from pendling.cli import command_tree

    out: list[list[str]] = [["--help"], []]

    def walk(cmd: object, path: list[str]) -> None:
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            out.append([*path, name, "--help"])
            walk(sub, [*path, name])

    walk(command_tree(), [])
    return out


@pytest.mark.parametrize("argv", _help_argvs(), ids=lambda a: " ".join(a) or "(no arguments)")
def test_help_imports_no_heavy_package(tmp_path: Path, argv: list[str]) -> None:
    code = textwrap.dedent(f"""
        import json, sys
        from pendling.cli import main
        sys.argv = ["pendling", *{argv!r}]
        try:
            main()
        except SystemExit:
            pass
        print("LOADED", json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
    """)
    proc = _python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Usage" in proc.stdout
    loaded = json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("LOADED ")).removeprefix("LOADED "))
    assert loaded == []


def test_listed_help_lines_are_the_commands_own() -> None:
    """`pendling --help` lists commands without importing them; the listed line must be the real one."""
    from pendling.cli import COMMANDS, load_command

    for name, (_, _, short) in COMMANDS.items():
        cmd = load_command(name)
        assert cmd.name == name
        assert (cmd.short_help or cmd.help or "").split("\n\n")[0] == short, name


def test_cli_modules_without_top_level_polars_import_it_where_used() -> None:
    """The CLI modules import polars only for type checking (so every command's --help stays fast):
    every function there that uses ``pl`` at run time must import it itself. Static, so a new helper
    added in a rebase fails here, not in a user's run."""
    import ast

    modules = sorted(p.name for p in (ROOT / "src" / "pendling" / "cli").glob("*.py"))
    assert {"_common.py", "compute.py", "panel.py", "plot.py", "matrix.py"} <= set(modules)
    for name in modules:
        tree = ast.parse((ROOT / "src" / "pendling" / "cli" / name).read_text(encoding="utf-8"))
        top = [n for n in tree.body if isinstance(n, ast.Import) and any(a.name == "polars" for a in n.names)]
        assert not top, f"cli/{name} imports polars at module level"
        for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            body = ast.Module(body=fn.body, type_ignores=[])  # the body only: annotations are strings
            uses = any(isinstance(n, ast.Name) and n.id == "pl" for n in ast.walk(body))
            imports = any(isinstance(n, ast.Import) and any(a.name == "polars" for a in n.names)
                          for n in ast.walk(body))
            assert imports or not uses, f"cli/{name}: {fn.name}() uses pl without importing polars"

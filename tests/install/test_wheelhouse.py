"""Offline transfer: a wheelhouse built here installs with ``pip --no-index`` in a fresh virtual
environment, and ``pendling compute --year 2021`` then runs from a folder outside the repository.

The end-to-end test downloads wheels from PyPI (CI can reach it) and installs ~50 packages: it is
marked ``wheelhouse`` so it can be left out locally with ``-m "not wheelhouse"``; CI runs it.
The other tests need no network.
"""

from __future__ import annotations

import json
import os
import subprocess
import venv
import zipfile
from pathlib import Path

import pytest

from pendling import wheelhouse as wh
from pendling.errors import InputError


def _fake_wheel(folder: Path, name: str, version: str, requires: list[str] = (), extras: list[str] = ()) -> Path:
    path = folder / f"{name}-{version}-py3-none-any.whl"
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    meta += [f"Provides-Extra: {e}" for e in extras] + [f"Requires-Dist: {r}" for r in requires]
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name}-{version}.dist-info/METADATA", "\n".join(meta) + "\n")
    return path


def test_manylinux_target_accepts_older_glibc_wheels() -> None:
    tags = wh.platform_tags("manylinux_2_28_x86_64")
    assert tags[0] == "manylinux_2_28_x86_64" and tags[-1] == "manylinux1_x86_64"
    assert "manylinux_2_17_x86_64" in tags and "manylinux2014_x86_64" in tags
    assert "manylinux_2_29_x86_64" not in tags  # never wheels that need a newer glibc than the server's
    assert wh.platform_tags("win_amd64") == ["win_amd64"]
    with pytest.raises(InputError, match="glibc"):
        wh.platform_tags("linux_x86_64")


def test_markers_are_evaluated_for_the_target_not_this_machine(tmp_path: Path) -> None:
    _fake_wheel(tmp_path, "pendling", "1.0", ["typer>=0.1", "extra1>=2; extra == 'maps'"], ["maps"])
    _fake_wheel(tmp_path, "typer", "0.5", ['colorama; platform_system == "Windows"', "click<9"])
    _fake_wheel(tmp_path, "click", "8.0")
    win = wh.marker_environment("win_amd64", "3.11")
    linux = wh.marker_environment("manylinux_2_28_x86_64", "3.11")
    assert wh.missing_requirements(tmp_path, "pendling==1.0", win) == ["colorama"]
    assert wh.missing_requirements(tmp_path, "pendling==1.0", linux) == []
    assert wh.missing_requirements(tmp_path, "pendling[maps]==1.0", linux) == ["extra1>=2"]
    _fake_wheel(tmp_path, "extra1", "1.5")  # present, but too old for the specifier
    assert wh.missing_requirements(tmp_path, "pendling[maps]==1.0", linux) == ["extra1>=2"]


def test_bad_arguments_are_refused_before_any_download(tmp_path: Path) -> None:
    fake = _fake_wheel(tmp_path, "pendling", "1.0", extras=["maps"])
    with pytest.raises(InputError, match="no such extra") as err:
        wh.build(tmp_path / "out", extras=["mpas"], wheel=fake)
    assert err.value.values == ["mpas"] and "maps" in err.value.hint
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))  # nothing left behind
    with pytest.raises(InputError, match="3.11"):
        wh.build(tmp_path / "out", python="3.9", wheel=fake)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.docx").write_text("x")
    with pytest.raises(InputError, match="not an empty folder"):
        wh.build(busy, wheel=fake)
    assert (busy / "thesis.docx").exists()


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without this checkout on the path and without any pip index or link settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "PYTHONPATH"}
    return {**env, "PIP_CONFIG_FILE": os.devnull, **extra}


@pytest.mark.wheelhouse
@pytest.mark.slow
def test_wheelhouse_installs_offline_and_computes(tmp_path: Path) -> None:
    house = wh.build(tmp_path / "wheelhouse")  # this machine's platform and Python
    files = {p.name for p in house.directory.iterdir()}
    assert {"install.sh", "install.cmd", "README.txt", "wheelhouse.json"} <= files
    manifest = json.loads((house.directory / "wheelhouse.json").read_text())
    assert len(manifest["wheels"]) == len(house.wheels) == len([f for f in files if f.endswith(".whl")])
    assert any(f.startswith("pendling-") for f in files)
    assert b"\r\n" in (house.directory / "install.cmd").read_bytes()  # cmd.exe wants CRLF

    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
    python = target / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    # the install script itself, with --no-index and no other place pip could look
    proc = subprocess.run(["sh", str(house.directory / "install.sh")], cwd=tmp_path, capture_output=True,
                          text=True, env=_clean_env(PYTHON=str(python), PIP_NO_COMPILE="1"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]

    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run([str(python), "-c", "import pendling; print(pendling.__file__)"], cwd=work,
                           capture_output=True, text=True, env=_clean_env(), check=True).stdout
    assert str(target) in where  # the installed copy, not this checkout
    proc = subprocess.run([str(target / "bin" / "pendling"), "compute", "--year", "2021"], cwd=work,
                          capture_output=True, text=True,
                          env=_clean_env(PENDLING_CACHE_DIR=str(tmp_path / "cache")))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (work / "pendling-results" / "results_2021.parquet").is_file()
    assert "2021" in proc.stdout and "movers" in proc.stdout
    # the lean core: no figure or routing packages came along, and their commands say what to install
    own = next(p for p in house.wheels if p.name.startswith("pendling-"))
    assert {"plot", "maps", "routing", "build", "all"} <= set(wh.read_wheel(own).extras)
    assert not {f.split("-")[0].lower() for f in files} & {"matplotlib", "geopandas", "osmium", "shapely"}
    proc = subprocess.run([str(target / "bin" / "pendling"), "map", "--from", "101", "-o", "m.png"], cwd=work,
                          capture_output=True, text=True, env=_clean_env())
    assert proc.returncode == 2 and 'pip install "pendling[maps]"' in proc.stderr, proc.stderr[-2000:]

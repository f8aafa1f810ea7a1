"""Offline transfer: one folder with pendling's wheel and every dependency wheel for a target machine.

Research servers have no internet; software arrives as files. On a machine with internet::

    python -m pendling.wheelhouse --platform win_amd64 --python 3.11 --out pendling-wheelhouse

builds pendling's wheel from this checkout (or takes ``--wheel``), downloads every dependency as a
binary wheel for that platform and Python (``pip download --only-binary=:all:``), checks that the
folder holds everything an install there will ask for, and writes ``install.cmd`` (Windows),
``install.sh`` (Linux/macOS), ``README.txt`` and ``wheelhouse.json`` (what is inside, with
SHA-256). On the server, from the uploaded folder::

    install.cmd C:\\path\\to\\new-venv        (or: sh install.sh /path/to/new-venv)

which runs ``python -m pip install --no-index --find-links <folder> pendling==<version>``.

Why the check: ``pip download --platform`` evaluates environment markers for the machine it runs
on, not the target, so a dependency needed only on Windows (``colorama; platform_system ==
"Windows"``) is missed when the folder is made on Linux. The requirements of every wheel in the
folder are evaluated for the target and anything missing is downloaded too.

Platforms: a wheel platform tag — ``win_amd64``, ``manylinux_2_28_x86_64`` (a Linux server with
glibc ≥ 2.28, e.g. RHEL 8; older manylinux tags are included), ``macosx_11_0_arm64`` — default the
machine running this. Needs pip (any Python ≥ 3.11 has it) and, without ``--wheel``, the internet
to fetch the build backend (hatchling) in pip's isolated build.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform as _platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.parser import Parser
from pathlib import Path

try:  # pip always vendors packaging; a separate install may be absent in a lean environment
    from packaging.markers import Marker
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name, parse_wheel_filename
    from packaging.version import Version
except ImportError:  # pragma: no cover - depends on the environment
    from pip._vendor.packaging.markers import Marker  # type: ignore[no-redef]
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
    from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename  # type: ignore[no-redef]
    from pip._vendor.packaging.version import Version  # type: ignore[no-redef]

from pendling.errors import InputError, PendlingError

MANIFEST = "wheelhouse.json"
OWN_FILES = ("install.sh", "install.cmd", "README.txt", MANIFEST)
MAX_TOP_UPS = 5


# ---------------------------------------------------------------------------------------------
# target description


def host_platform() -> str:
    """The wheel platform tag of this machine (``manylinux_2_<glibc>_<arch>`` on glibc Linux)."""
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    if plat.startswith("linux_"):
        libc, ver = _platform.libc_ver()
        if libc == "glibc" and ver:
            major, minor = (int(x) for x in ver.split(".")[:2])
            return f"manylinux_{major}_{minor}_{plat.removeprefix('linux_')}"
    return plat


def platform_tags(plat: str) -> list[str]:
    """The ``--platform`` values for pip: ``manylinux_2_Y_arch`` expands to every older manylinux
    tag (pip does not do it for a foreign target), so wheels built for older glibc are accepted."""
    m = re.fullmatch(r"manylinux_(\d+)_(\d+)_(\w+)", plat)
    if not m:
        if re.fullmatch(r"(linux|manylinux)_?(x86_64|aarch64)?", plat):
            raise InputError("a Linux target needs its glibc version", values=[plat],
                             hint="use manylinux_2_28_x86_64 for a server with glibc 2.28 (ldd --version), "
                                  "manylinux_2_17_x86_64 for older ones")
        return [plat]
    major, minor, arch = int(m[1]), int(m[2]), m[3]
    tags = [f"manylinux_{major}_{y}_{arch}" for y in range(minor, 4, -1)]
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    tags += [f"{name}_{arch}" for y, name in legacy.items() if major == 2 and minor >= y]
    return tags


def marker_environment(plat: str, python: str) -> dict[str, str]:
    """Values of PEP 508 environment markers on the target (what pip would see there)."""
    if plat.startswith("win"):
        system, sys_plat, os_name = "Windows", "win32", "nt"
        machine = {"win_amd64": "AMD64", "win32": "x86", "win_arm64": "ARM64"}.get(plat, "AMD64")
    elif plat.startswith("macosx"):
        system, sys_plat, os_name = "Darwin", "darwin", "posix"
        machine = plat.rsplit("_", 1)[-1]
    else:
        system, sys_plat, os_name = "Linux", "linux", "posix"
        machine = re.sub(r"^.*?_(x86_64|aarch64|i686|ppc64le|s390x|armv7l)$", r"\1", plat)
    return {
        "implementation_name": "cpython", "implementation_version": f"{python}.0", "os_name": os_name,
        "platform_machine": machine, "platform_python_implementation": "CPython", "platform_release": "",
        "platform_system": system, "platform_version": "", "python_full_version": f"{python}.0",
        "python_version": python, "sys_platform": sys_plat,
    }


def check_python(python: str) -> str:
    if not re.fullmatch(r"3\.\d{1,2}", python):
        raise InputError("--python must be a version like 3.11", values=[python])
    if Version(python) < Version("3.11"):
        raise InputError("pendling needs Python 3.11 or newer", values=[python])
    return python


# ---------------------------------------------------------------------------------------------
# what the folder holds and what an install on the target will ask for


@dataclass(frozen=True)
class Wheel:
    path: Path
    name: str
    version: Version
    requires: tuple[str, ...]
    extras: tuple[str, ...]


def read_wheel(path: Path) -> Wheel:
    """Name, version and Requires-Dist of a wheel file (from its METADATA)."""
    name, version, _, _ = parse_wheel_filename(path.name)
    with zipfile.ZipFile(path) as zf:
        meta = next(n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n))
        msg = Parser().parsestr(zf.read(meta).decode("utf-8"))
    return Wheel(path, str(name), version, tuple(msg.get_all("Requires-Dist") or ()),
                 tuple(msg.get_all("Provides-Extra") or ()))


def missing_requirements(folder: Path, root: str, env: dict[str, str]) -> list[str]:
    """Requirements (PEP 508 strings) that installing ``root`` on a machine with marker values
    ``env`` needs and no wheel in ``folder`` satisfies; walks the dependency closure."""
    wheels: dict[str, list[Wheel]] = {}
    for path in sorted(folder.glob("*.whl")):
        w = read_wheel(path)
        wheels.setdefault(w.name, []).append(w)
    missing: list[str] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    todo = [Requirement(root)]
    while todo:
        req = todo.pop()
        key = (canonicalize_name(req.name), tuple(sorted(req.extras)))
        candidates = [w for w in wheels.get(key[0], []) if req.specifier.contains(w.version, prereleases=True)]
        if not candidates:
            missing.append(str(req))
            continue
        if key in seen:
            continue
        seen.add(key)
        best = max(candidates, key=lambda w: w.version)
        for text in best.requires:
            dep = Requirement(text)
            active = [{**env, "extra": e} for e in (req.extras or {""})] or [{**env, "extra": ""}]
            if dep.marker is None or any(_marker_true(dep.marker, e) for e in active):
                todo.append(Requirement(f"{dep.name}{'[' + ','.join(sorted(dep.extras)) + ']' if dep.extras else ''}"
                                        f"{dep.specifier}"))
    return sorted(set(missing))


def _marker_true(marker: Marker, env: dict[str, str]) -> bool:
    return marker.evaluate(env)


# ---------------------------------------------------------------------------------------------
# building


@dataclass
class Wheelhouse:
    """What :func:`build` wrote: the folder, the wheel files, total bytes and the target."""

    directory: Path
    wheels: list[Path]
    bytes: int
    platform: str
    python: str
    extras: tuple[str, ...]
    pendling_version: str
    top_ups: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"Wheelhouse({str(self.directory)!r}: {len(self.wheels)} wheels, {self.bytes / 2**20:.0f} MiB, "
                f"{self.platform}, Python {self.python}, pendling {self.pendling_version})")


def _pip(args: Sequence[str], what: str) -> None:
    cmd = [sys.executable, "-m", "pip", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-12:])
        raise PendlingError(f"{what} failed (pip exit code {proc.returncode}):\n{tail}\ncommand: {' '.join(cmd)}")


def build_pendling_wheel(into: Path) -> Path:
    """Build pendling's wheel from the source checkout into ``into``; returns its path."""
    from pendling.paths import repo_root

    root = repo_root()
    if root is None:
        raise InputError("pendling is installed from a wheel, not run from a source checkout",
                         hint="pass the wheel with --wheel FILE, or run this from a checkout of pendling")
    _pip(["wheel", "--no-deps", "--quiet", "--wheel-dir", str(into), str(root)], "building pendling's wheel")
    built = sorted(into.glob("pendling-*.whl"))
    if len(built) != 1:
        raise PendlingError(f"expected one pendling wheel in {into}, found {[p.name for p in built]}")
    return built[0]


def _download(requirements: Iterable[str], into: Path, plat: str, python: str) -> None:
    flags = [f"--platform={t}" for t in platform_tags(plat)]
    _pip(["download", "--quiet", "--only-binary=:all:", "--implementation=cp", f"--python-version={python}",
          *flags, "--dest", str(into), *requirements], f"downloading wheels for {plat}, Python {python}")


def build(out: str | Path, *, platform: str | None = None, python: str | None = None,
          extras: Iterable[str] = (), wheel: str | Path | None = None) -> Wheelhouse:
    """Collect pendling's wheel and all dependency wheels for ``platform`` and ``python`` in ``out``.

    ``out`` must be absent, empty, or a wheelhouse made by this function (then replaced). The folder
    is assembled beside ``out`` and renamed into place when complete, so an interrupted run leaves
    no half-filled wheelhouse. Raises InputError for bad arguments and PendlingError when pip fails
    or the target's requirements cannot all be met.
    """
    out = Path(out).absolute()
    plat = platform or host_platform()
    python = check_python(python or f"{sys.version_info.major}.{sys.version_info.minor}")
    extras = tuple(sorted({e.strip() for item in extras for e in str(item).split(",") if e.strip()}))
    _check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        if wheel is None:
            own = build_pendling_wheel(work)
        else:
            src = Path(wheel)
            if not src.is_file() or not src.name.startswith("pendling-") or src.suffix != ".whl":
                raise InputError("not a pendling wheel file", file=src, hint="pass pendling-<version>-*.whl")
            own = Path(shutil.copy2(src, work / src.name))
        info = read_wheel(own)
        unknown = sorted(set(extras) - {canonicalize_name(e) for e in info.extras})
        if unknown:
            raise InputError("pendling has no such extra", values=unknown,
                             hint=f"choose from: {', '.join(info.extras) or '(none in this version)'}")
        root = f"pendling{'[' + ','.join(extras) + ']' if extras else ''}=={info.version}"
        _download([f"{own}{'[' + ','.join(extras) + ']' if extras else ''}"], work, plat, python)
        env = marker_environment(plat, python)
        top_ups: list[str] = []
        for _ in range(MAX_TOP_UPS):
            missing = missing_requirements(work, root, env)
            if not missing:
                break
            top_ups += missing
            _download(missing, work, plat, python)
        else:
            raise PendlingError(f"the wheelhouse still lacks {missing_requirements(work, root, env)} for {plat}")
        version = str(info.version)
        _write_own_files(work, plat, python, extras, version, root)
        _replace_dir(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    wheels = sorted(out.glob("*.whl"))
    return Wheelhouse(out, wheels, sum(p.stat().st_size for p in wheels), plat, python, extras, version,
                      sorted(set(top_ups)))


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file())):
        raise InputError("the output folder exists and is not an empty folder or an earlier wheelhouse",
                         file=out, hint="choose a new folder name")


def _replace_dir(new: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    os.replace(new, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _write_own_files(folder: Path, plat: str, python: str, extras: tuple[str, ...], version: str,
                     root: str) -> None:
    wheels = sorted(folder.glob("*.whl"))
    total = sum(p.stat().st_size for p in wheels)
    manifest = {
        "generator": "pendling.wheelhouse", "pendling_version": version, "platform": plat,
        "platform_tags": platform_tags(plat), "python": python, "extras": list(extras), "requirement": root,
        "install": f"python -m pip install --no-index --find-links <this folder> \"{root}\"",
        "wheels": [{"file": p.name, "bytes": p.stat().st_size, "sha256": _sha256(p)} for p in wheels],
        "total_bytes": total,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    major, minor = python.split(".")
    sh = f"""#!/bin/sh
# Install pendling {version} from this folder, without internet.
#   sh install.sh                 install into the Python on PATH (python3), or $PYTHON
#   sh install.sh /path/to/venv   first create a virtual environment there (recommended)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${{PYTHON:-python3}}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == ({major}, {minor}) else 1)' || {{
  echo "this folder holds wheels for Python {python}; $PY is $("$PY" -V 2>&1). Set PYTHON=/path/to/python{python}." >&2
  exit 1
}}
if [ $# -ge 1 ]; then
  "$PY" -m venv "$1"
  PY="$1/bin/python"
fi
"$PY" -m pip install --no-index --find-links "$HERE" "{root}"
echo "pendling {version} installed. Try: $PY -m pendling compute --year 2021"
"""
    cmd = f"""@echo off
rem Install pendling {version} from this folder, without internet.
rem   install.cmd                     install into the Python on PATH (python), or %PYTHON%
rem   install.cmd C:\\path\\to\\venv     first create a virtual environment there (recommended)
setlocal
set "HERE=%~dp0."
if "%PYTHON%"=="" set "PYTHON=python"
"%PYTHON%" -c "import sys; sys.exit(0 if sys.version_info[:2] == ({major}, {minor}) else 1)"
if errorlevel 1 (
  echo this folder holds wheels for Python {python}; set PYTHON to the full path of python.exe {python} 1>&2
  exit /b 1
)
if not "%~1"=="" (
  "%PYTHON%" -m venv "%~1"
  if errorlevel 1 exit /b 1
  set "PYTHON=%~1\\Scripts\\python.exe"
)
"%PYTHON%" -m pip install --no-index --find-links "%HERE%" "{root}"
if errorlevel 1 exit /b 1
echo pendling {version} installed. Try: "%PYTHON%" -m pendling compute --year 2021
"""
    readme = f"""pendling {version}: offline installation
{'=' * (len(version) + 31)}

This folder holds pendling and every package it needs ({len(wheels)} wheel files,
{total / 2**20:.0f} MiB) for {plat}, Python {python}{', extras: ' + ', '.join(extras) if extras else ''}.
Nothing is downloaded during installation.

Install (Windows), into a new virtual environment:
    install.cmd C:\\path\\to\\pendling-venv
  then run:  C:\\path\\to\\pendling-venv\\Scripts\\pendling compute --year 2021

Install (Linux/macOS):
    sh install.sh /path/to/pendling-venv
  then run:  /path/to/pendling-venv/bin/pendling compute --year 2021

Without an argument the scripts install into the Python found on PATH (or the one in the
PYTHON environment variable). By hand, the same thing is:
    python -m pip install --no-index --find-links <this folder> "{root}"

The first `pendling compute` without --panel builds a small synthetic demo extract in your
user cache (a few seconds); real register extracts are read with --panel.
wheelhouse.json lists every file with its size and SHA-256.
"""
    (folder / "install.sh").write_text(sh, encoding="utf-8", newline="\n")
    (folder / "install.cmd").write_text(cmd, encoding="ascii", newline="\r\n")
    (folder / "README.txt").write_text(readme, encoding="utf-8", newline="\r\n" if plat.startswith("win") else "\n")
    (folder / "install.sh").chmod(0o755)


# ---------------------------------------------------------------------------------------------
# command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pendling.wheelhouse",
        description="Collect pendling and all its dependency wheels for an offline machine into one folder.")
    parser.add_argument("--out", required=True, type=Path, help="folder to create (absent or empty)")
    parser.add_argument("--platform", default=None,
                        help="wheel platform of the target: win_amd64, manylinux_2_28_x86_64, macosx_11_0_arm64 "
                             f"(default: this machine, {host_platform()})")
    parser.add_argument("--python", default=None,
                        help=f"Python version of the target, e.g. 3.11 (default: {sys.version_info[0]}."
                             f"{sys.version_info[1]})")
    parser.add_argument("--extras", action="append", default=[],
                        help="pendling extras to include, comma-separated or repeated")
    parser.add_argument("--wheel", type=Path, default=None,
                        help="use this pendling wheel instead of building one from the checkout")
    args = parser.parse_args(argv)
    try:
        house = build(args.out, platform=args.platform, python=args.python, extras=args.extras, wheel=args.wheel)
    except PendlingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(house.wheels)} wheels, {house.bytes / 2**20:.0f} MiB for {house.platform}, Python {house.python} "
          f"in {house.directory}")
    if house.top_ups:
        print(f"added for the target's markers: {', '.join(house.top_ups)}")
    print(f"on the target: {'install.cmd' if house.platform.startswith('win') else 'sh install.sh'} <new venv folder>"
          " (see README.txt)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""OSRM backend: query any OSRM server's table service, and run a local OSRM (MLD) for tests/benchmarks.

The binaries (osrm-extract/partition/customize/routed) and ``car.lua`` come from the PyPI wheel
``osrm-bindings==26.10.0`` unpacked by ``scripts/fetch_osrm.sh`` into ``<repo>/.cache/osrm``;
``PENDLING_OSRM_BIN`` (a directory holding ``osrm-routed``) overrides the location.

OSRM routes with its *own* ``car.lua`` speeds and turn costs, not pendling's Danish profile, so the
two backends agree only approximately; :func:`compare` reports the difference honestly. The local
server binds 127.0.0.1 only, every step has a timeout, and the server is always killed on exit.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import polars as pl

from pendling._extras import optional
from pendling import paths
from pendling.errors import InputError, PendlingError

BINARIES = ("osrm-extract", "osrm-partition", "osrm-customize", "osrm-routed")


def osrm_bin_dir() -> Path | None:
    """Directory with the OSRM binaries: $PENDLING_OSRM_BIN, else <repo>/.cache/osrm/osrm/bin."""
    env = os.environ.get("PENDLING_OSRM_BIN")
    candidates = [Path(env)] if env else []
    root = paths.repo_root()
    if root is not None:
        candidates.append(root / ".cache" / "osrm" / "osrm" / "bin")
    for c in candidates:
        if (c / "osrm-routed").is_file():
            return c
    return None


def osrm_available() -> tuple[bool, str]:
    """(True, version) when the binaries exist and run here, else (False, reason)."""
    d = osrm_bin_dir()
    if d is None:
        return False, "OSRM binaries not found: run scripts/fetch_osrm.sh or set PENDLING_OSRM_BIN"
    missing = [b for b in BINARIES if not (d / b).is_file()]
    if missing:
        return False, f"OSRM binaries missing in {d}: {', '.join(missing)}"
    try:
        out = subprocess.run([str(d / "osrm-routed"), "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"OSRM binaries in {d} do not run on this machine: {exc}"
    if out.returncode != 0:
        return False, f"OSRM binaries in {d} do not run on this machine: {out.stderr.strip()[:200]}"
    return True, out.stdout.strip() or out.stderr.strip()


def car_lua() -> Path:
    d = osrm_bin_dir()
    if d is None:
        raise PendlingError("OSRM binaries not found: run scripts/fetch_osrm.sh or set PENDLING_OSRM_BIN")
    return d.parent / "share" / "profiles" / "car.lua"


def _run(args: list[str], cwd: Path, timeout: float) -> None:
    try:
        res = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise PendlingError(f"{Path(args[0]).name} timed out after {timeout:.0f} s") from None
    if res.returncode != 0:
        raise PendlingError(f"{Path(args[0]).name} failed ({res.returncode}): {(res.stderr or res.stdout)[-800:]}")


def prepare(pbf: str | Path, workdir: str | Path, *, profile: str | Path | None = None, threads: int = 2, timeout: float = 1800) -> Path:
    """osrm-extract → osrm-partition → osrm-customize (MLD) on an ``.osm.pbf``; returns the ``.osrm`` base path."""
    d = osrm_bin_dir()
    if d is None:
        raise PendlingError("OSRM binaries not found: run scripts/fetch_osrm.sh or set PENDLING_OSRM_BIN")
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    src = work / "map.osm.pbf"
    if Path(pbf).resolve() != src.resolve():
        shutil.copyfile(pbf, src)
    prof = str(profile or car_lua())
    _run([str(d / "osrm-extract"), "-p", prof, "-t", str(threads), str(src)], work, timeout)
    base = work / "map.osrm"
    _run([str(d / "osrm-partition"), "-t", str(threads), str(base)], work, timeout)
    _run([str(d / "osrm-customize"), "-t", str(threads), str(base)], work, timeout)
    return base


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(base: str | Path, *, startup_timeout: float = 120, max_table_size: int = 10000) -> Iterator[str]:
    """Run ``osrm-routed --algorithm mld`` on 127.0.0.1 and yield its URL; always killed on exit."""
    d = osrm_bin_dir()
    if d is None:
        raise PendlingError("OSRM binaries not found: run scripts/fetch_osrm.sh or set PENDLING_OSRM_BIN")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(d / "osrm-routed"), "--algorithm", "mld", "-i", "127.0.0.1", "-p", str(port),
         "--max-table-size", str(max_table_size), "-t", "2", str(base)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace")[-500:] if proc.stderr else ""
                raise PendlingError(f"osrm-routed exited during start-up: {err}")
            try:
                with urllib.request.urlopen(f"{url}/nearest/v1/driving/0,0", timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # the server answered (400 for an unroutable point): it is up
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise PendlingError(f"osrm-routed did not answer within {startup_timeout:.0f} s") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()


def osrm_table(
    url: str,
    lon: np.ndarray,
    lat: np.ndarray,
    *,
    sources: np.ndarray | None = None,
    timeout: float = 120,
    block: int = 100,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Durations and distances from an OSRM table service, from ``sources`` to every point.

    ``sources``: positions of the points to route from (None = all). Returns ({'minutes', 'km',
    'ferry_minutes'} arrays of len(sources) × n points, snap_m per point in metres). OSRM does not
    report ferry time, so ``ferry_minutes`` is NaN; unreachable pairs are NaN.
    """
    n = len(lon)
    src_pos = np.arange(n) if sources is None else np.asarray(sources, dtype=np.int64)
    coords = ";".join(f"{x:.7f},{y:.7f}" for x, y in zip(lon, lat, strict=True))
    minutes = np.full((len(src_pos), n), np.nan)
    km = np.full((len(src_pos), n), np.nan)
    snap = np.full(n, np.nan)
    for s0 in range(0, len(src_pos), block):
        src = ";".join(str(i) for i in src_pos[s0 : s0 + block])
        q = f"{url.rstrip('/')}/table/v1/driving/{coords}?annotations=duration,distance&sources={src}"
        try:
            with urllib.request.urlopen(q, timeout=timeout) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise InputError(f"OSRM table request failed: HTTP {exc.code} {exc.read()[:300]!r}", hint="check --osrm-url and the server's --max-table-size") from None
        except (urllib.error.URLError, OSError) as exc:
            raise InputError(f"cannot reach the OSRM server at {url}: {exc}", hint="start osrm-routed or fix --osrm-url") from None
        if body.get("code") != "Ok":
            raise InputError(f"OSRM table answered {body.get('code')}: {body.get('message')}")
        dur = np.array(body["durations"], dtype=float)
        dist = np.array(body["distances"], dtype=float)
        minutes[s0 : s0 + len(dur)] = dur / 60.0
        km[s0 : s0 + len(dist)] = dist / 1000.0
        snap[:] = [w.get("distance", 0.0) for w in body["destinations"]]
    return {"minutes": minutes, "km": km, "ferry_minutes": np.full((len(src_pos), n), np.nan)}, snap


def osm_to_pbf(src: str | Path, dst: str | Path) -> Path:
    """Convert an OSM file (e.g. an ``.osm`` XML fixture) to ``.osm.pbf`` with pyosmium."""
    osmium = optional("osmium", "routing", "writing OpenStreetMap files for OSRM")

    dst = Path(dst)
    if dst.exists():
        dst.unlink()
    writer = osmium.SimpleWriter(str(dst))
    try:
        for obj in osmium.FileProcessor(str(src)):
            writer.add(obj)
    finally:
        writer.close()
    return dst


def graph_to_pbf(graph, dst: str | Path) -> Path:
    """Write a :class:`RoadGraph` as ``.osm.pbf`` for OSRM: one node per graph node (id = node + 1),
    one way per road edge (two-way when both directions exist, else ``oneway=yes``), ferries as
    ``route=ferry`` ways with a ``duration`` tag. Tile class 'minor' is written as 'unclassified'.
    """
    osmium = optional("osmium", "routing", "writing OpenStreetMap files for OSRM")

    dst = Path(dst)
    if dst.exists():
        dst.unlink()
    e = graph.edges
    lo = pl.min_horizontal("u", "v")
    hi = pl.max_horizontal("u", "v")
    ways = (
        e.with_columns(lo.alias("a"), hi.alias("b"), (pl.col("u") < pl.col("v")).alias("fwd"))
        .group_by("a", "b", "highway", "ferry")
        .agg(pl.col("fwd").n_unique().alias("dirs"), pl.col("u").first(), pl.col("v").first(), pl.col("minutes").first())
        .sort("a", "b", "highway")
    )
    nodes = graph.nodes
    writer = osmium.SimpleWriter(str(dst))
    try:
        for node, lon, lat in nodes.select("node", "lon", "lat").iter_rows():
            writer.add_node(osmium.osm.mutable.Node(id=node + 1, location=(lon, lat), version=1))
        for wid, (a, b, hw, ferry, dirs, u, v, minutes) in enumerate(ways.iter_rows(), start=1):
            if ferry is not None:
                mins = max(1, round(minutes))
                tags = {"route": "ferry", "motor_vehicle": "yes", "duration": f"{mins // 60:02d}:{mins % 60:02d}", "name": ferry}
                refs = [a + 1, b + 1]
            else:
                tags = {"highway": "unclassified" if hw == "minor" else hw}
                if dirs == 2:
                    refs = [a + 1, b + 1]
                else:
                    refs = [u + 1, v + 1]
                    tags["oneway"] = "yes"
            writer.add_way(osmium.osm.mutable.Way(id=wid, nodes=refs, tags=tags, version=1))
    finally:
        writer.close()
    return dst


def compare(a: pl.DataFrame, b: pl.DataFrame, value: str = "minutes") -> dict:
    """Agreement between two long matrices on off-diagonal pairs: relative difference (b − a) / a.

    Returns n pairs compared, median and max absolute relative difference, and the median signed one.
    """
    j = a.join(b, on=["origin", "destination"], suffix="_b").filter(
        (pl.col("origin") != pl.col("destination")) & pl.col(value).is_not_null() & pl.col(f"{value}_b").is_not_null()
    )
    rel = ((pl.col(f"{value}_b") - pl.col(value)) / pl.col(value)).alias("rel")
    r = j.select(rel)["rel"]
    return {
        "pairs": int(r.len()),
        "median_abs_rel_diff": float(r.abs().median()) if r.len() else None,
        "max_abs_rel_diff": float(r.abs().max()) if r.len() else None,
        "median_rel_diff": float(r.median()) if r.len() else None,
    }

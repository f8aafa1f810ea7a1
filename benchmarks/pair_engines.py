"""Many-to-many routing for zone pairs: which engine, and does the national 1 km pair set fit the targets.

    .venv/bin/python benchmarks/pair_engines.py [--persons 3000000] [--years 2014-2022] [--work DIR]
        [--out benchmarks/results/pair_engines.md] [--osrm]

Steps (each timed; peak memory of the child processes from ``ru_maxrss``):

1. Pair set: a national synthetic extract (``pendling synth``), each ADRESSE_ID placed in a 1 km cell of
   its home municipality and each LBNR (workplace) in a 1 km cell of its workplace municipality,
   drawn with weights = road metres of the stored graph in the cell (residential/local classes for
   homes, all classes for workplaces) — a stand-in for a population/jobs surface. All distinct (home
   cell, work cell) pairs over all years are the pair set.
2. Engines on samples of that set: pandana contraction hierarchies (preparation, µs per pair with path
   unpacking), scipy Dijkstra per distinct origin (full, and with ``limit`` = 120 min), extrapolated
   to the set's distinct origins; OSRM MLD (``--osrm``: graph exported with ``graph_to_pbf``, OSRM's
   own car.lua, table service per origin).
3. ``pendling matrix pairs --zones grid1km`` on the whole set, cold cache then warm cache, in a child
   process (wall time, peak RSS).
4. Accuracy: 1,000 random routed pairs against plain scipy Dijkstra on the uncontracted stored graph.
5. The 98×98 municipality matrix through ``pair_times`` (cold cache): time and equality with the shipped
   matrix.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's pendling, also for the children (PYTHONPATH below)
PY = sys.executable
HOME_CLASSES = ("residential", "living_street", "minor", "unclassified", "service", "road")


def run_child(args: list[str], env: dict) -> tuple[float, float, str, float]:
    """Run a command; (wall seconds, peak RSS GiB of that child from os.wait4, output tail, CPU seconds
    user + system of that child — less sensitive than wall time to other jobs on a shared machine)."""
    import tempfile

    with tempfile.TemporaryFile(mode="w+") as log:
        t = time.perf_counter()
        p = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        out = log.read()
    if p.returncode != 0:
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(args)}\n{out[-3000:]}")
    return wall, ru.ru_maxrss / 2**20, out[-2000:], ru.ru_utime + ru.ru_stime


def build_pairs(work: Path, persons: int, years: str, env: dict) -> tuple[Path, dict]:
    from pendling import paths, zones
    from pendling.routing import load_graph

    ext = work / "extract"
    info: dict = {}
    if not (ext / "manifest.json").is_file():
        t = time.perf_counter()
        subprocess.run([PY, "-m", "pendling", "synth", "--persons", str(persons), "--years", years, "--seed", "1", "--out", str(ext)], env=env, check=True)
        info["synth_s"] = time.perf_counter() - t
    g = load_graph(paths.roads_dir())
    e = g.edges.filter(pl.col("ferry").is_null())
    lon, lat = g.nodes["lon"].to_numpy(), g.nodes["lat"].to_numpy()
    x, y = zones._xy(lon, lat)
    u = e["u"].to_numpy()
    cell = zones.cell_ids(x[u], y[u], 1000)
    roads = pl.DataFrame({"zone": cell, "m": e["length_m"], "home": e["highway"].is_in(list(HOME_CLASSES))})
    w = roads.group_by("zone").agg(pl.col("m").sum().alias("w_work"), pl.col("m").filter(pl.col("home")).sum().alias("w_home"))
    zt = zones.zone_table(w["zone"], "grid1km").filter(pl.col("status").is_in(list(zones.ROUTABLE)))
    w = w.join(zt.select("zone", "municipality"), on="zone").sort("municipality", "zone")
    info["cells_with_roads"] = w.height

    def sampler(weight: str) -> tuple[np.ndarray, np.ndarray, pl.Series]:
        c = w.filter(pl.col(weight) > 0)
        muni = c["municipality"].to_numpy().astype(np.int64)
        cum = c.select((pl.col(weight).cum_sum().over("municipality") / pl.col(weight).sum().over("municipality"))).to_series().to_numpy()
        return muni * 2.0 + cum, muni, c["zone"]  # municipality m occupies [2m, 2m + 1]

    def place(keys: pl.Series, munis: pl.Series, weight: str) -> pl.Series:
        axis, _, z = sampler(weight)
        h = keys.hash(seed=17 if weight == "w_home" else 29).to_numpy()
        uu = (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)
        pos = np.searchsorted(axis, munis.to_numpy().astype(np.int64) * 2.0 + uu, side="left")
        return z.gather(np.minimum(pos, len(z) - 1))

    t = time.perf_counter()
    lf = pl.scan_parquet(str(ext / "ras*.parquet")).select("PNR", "KOM", "ADRESSE_ID", "LBNR", "ARBKOM")
    df = lf.filter(pl.col("KOM").is_between(101, 860) & pl.col("ARBKOM").is_between(101, 860) & (pl.col("LBNR") > 0)).collect()
    df = df.with_columns(pl.col("KOM", "ARBKOM").replace(411, 400))
    homes = df.select("ADRESSE_ID", "KOM").unique("ADRESSE_ID")
    works = df.select("LBNR", "ARBKOM").unique("LBNR")
    homes = homes.with_columns(place(homes["ADRESSE_ID"], homes["KOM"], "w_home").alias("home_cell"))
    works = works.with_columns(place(works["LBNR"], works["ARBKOM"], "w_work").alias("work_cell"))
    pairs = (
        df.select("ADRESSE_ID", "LBNR").unique()
        .join(homes.select("ADRESSE_ID", "home_cell"), on="ADRESSE_ID")
        .join(works.select("LBNR", "work_cell"), on="LBNR")
        .select(pl.col("home_cell").alias("origin"), pl.col("work_cell").alias("destination"))
        .unique().sort("origin", "destination")
    )  # fmt: skip
    info.update(
        person_years=df.height, pair_set_s=time.perf_counter() - t, pairs=pairs.height,
        origins=pairs["origin"].n_unique(), destinations=pairs["destination"].n_unique(),
        same_cell=pairs.filter(pl.col("origin") == pl.col("destination")).height,
    )  # fmt: skip
    out = work / "pairs_1km.parquet"
    pairs.write_parquet(out)
    return out, info


def engines(pairs_file: Path, info: dict, with_osrm: bool, work: Path) -> dict:
    from scipy.sparse.csgraph import dijkstra

    from pendling import paths, zones
    from pendling.routing import load_graph
    from pendling.routing.graph import contract
    from pendling.routing.pairs import CHEngine

    r: dict = {}
    g = load_graph(paths.roads_dir())
    pairs = pl.read_parquet(pairs_file)
    rng = np.random.default_rng(7)
    sample = pairs.sample(100_000, seed=7) if pairs.height > 100_000 else pairs
    zt = zones.snap_zones(zones.zone_table(pl.concat([sample["origin"], sample["destination"]]).unique(), "grid1km"), g)
    node = dict(zip(zt["zone"].to_list(), zt["node"].to_list(), strict=True))
    s = sample.with_columns(
        pl.col("origin").replace_strict(node, default=None).alias("o"), pl.col("destination").replace_strict(node, default=None).alias("d")
    ).drop_nulls()
    o, d = s["o"].to_numpy().astype(np.int64), s["d"].to_numpy().astype(np.int64)
    t, c0 = time.perf_counter(), time.process_time()
    ch = CHEngine(g)
    r["ch_prepare_s"], r["ch_prepare_cpu_s"] = time.perf_counter() - t, time.process_time() - c0
    t, c0 = time.perf_counter(), time.process_time()
    ch.route(o, d)
    r["ch_us_per_pair_unpacked"] = (time.perf_counter() - t) / len(o) * 1e6
    r["ch_cpu_us_per_pair_unpacked"] = (time.process_time() - c0) / len(o) * 1e6
    t, c0 = time.perf_counter(), time.process_time()
    ch.net.shortest_path_lengths(o[:50_000], d[:50_000], imp_name="w")
    r["ch_us_per_pair_minutes_only"] = (time.perf_counter() - t) / min(50_000, len(o)) * 1e6
    r["ch_cpu_us_per_pair_minutes_only"] = (time.process_time() - c0) / min(50_000, len(o)) * 1e6
    r["ch_sample_pairs"] = len(o)
    r["ch_extrapolated_s"] = r["ch_prepare_s"] + r["ch_us_per_pair_unpacked"] * info["pairs"] / 1e6
    c = contract(g)
    csr = c.csr()
    cid = np.full(g.n_nodes, -1, dtype=np.int64)
    cid[c.original] = np.arange(c.n_nodes)
    src = rng.choice(np.unique(o), 8, replace=False)
    src_c = np.asarray([x if x >= 0 else 0 for x in cid[src]])
    t = time.perf_counter()
    dijkstra(csr, directed=True, indices=src_c, return_predecessors=True)
    r["dijkstra_s_per_origin_full"] = (time.perf_counter() - t) / len(src)
    t = time.perf_counter()
    dijkstra(csr, directed=True, indices=src_c, return_predecessors=True, limit=120.0)
    r["dijkstra_s_per_origin_limit120"] = (time.perf_counter() - t) / len(src)
    r["dijkstra_extrapolated_s"] = r["dijkstra_s_per_origin_limit120"] * info["origins"]
    r["dijkstra_full_extrapolated_s"] = r["dijkstra_s_per_origin_full"] * info["origins"]
    if with_osrm:
        try:
            r.update(osrm_engine(g, pairs, work))
        except Exception as exc:  # noqa: BLE001 - a failed comparison engine is reported, not fatal
            r["osrm"] = f"failed: {type(exc).__name__}: {str(exc)[:200]}"
    return r


def osrm_engine(g, pairs: pl.DataFrame, work: Path) -> dict:
    """OSRM MLD on the same graph (exported; OSRM's own car.lua speeds): one table request per origin
    cell with all of that origin's destination cells in the pair set, for 30 random origins."""
    from pendling.routing import osrm

    r: dict = {}
    ok, why = osrm.osrm_available()
    if not ok:
        return {"osrm": f"skipped: {why}"}
    wd = work / "osrm"
    wd.mkdir(exist_ok=True)
    t = time.perf_counter()
    pbf = osrm.graph_to_pbf(g, wd / "graph.osm.pbf")
    r["osrm_export_s"] = time.perf_counter() - t
    t = time.perf_counter()
    base = osrm.prepare(pbf, wd, threads=2)
    r["osrm_prepare_s"] = time.perf_counter() - t
    r.update(osrm_tables(base, pairs))
    return r


def osrm_tables(base: Path, pairs: pl.DataFrame, n_origins: int = 30) -> dict:
    """Time OSRM /table on a prepared base: one request per origin cell (sources=0) with all of its
    destination cells in the pair set, for ``n_origins`` random origins."""
    import json
    import urllib.request

    from pendling import zones
    from pendling.routing import osrm

    origins = pairs["origin"].unique().sort().sample(n_origins, seed=5)
    sub = pairs.filter(pl.col("origin").is_in(origins.to_list()) & (pl.col("origin") != pl.col("destination")))
    zt = zones.zone_table(pl.concat([sub["origin"], sub["destination"]]).unique(), "grid1km")
    lonlat = dict(zip(zt["zone"].to_list(), zip(zt["lon"].to_list(), zt["lat"].to_list(), strict=True), strict=True))
    r: dict = {}
    with osrm.serve(base) as url:
        t = time.perf_counter()
        n = 0
        for org, grp in sub.group_by("origin"):
            dests = grp["destination"].to_list()
            coords = ";".join(f"{lonlat[z][0]:.6f},{lonlat[z][1]:.6f}" for z in [org[0], *dests])
            q = f"{url}/table/v1/driving/{coords}?sources=0&annotations=duration,distance"
            json.loads(urllib.request.urlopen(q, timeout=120).read())
            n += len(dests)
        r["osrm_us_per_pair_table_per_origin"] = (time.perf_counter() - t) / n * 1e6
        r["osrm_sample_pairs"] = n
        r["osrm_sample_origins"] = n_origins
    return r


def accuracy(result_file: Path, origins: int = 120, per_origin: int = 10, n: int = 1000) -> dict:
    """``n`` routed pairs: up to ``per_origin`` random destinations of each of ``origins`` random origin
    cells (some have fewer), against plain scipy Dijkstra on the uncontracted stored graph."""
    from scipy.sparse.csgraph import dijkstra

    from pendling import paths, zones
    from pendling.routing import load_graph
    from pendling.routing.graph import adjacency
    from pendling.routing.profile import load_profile

    g = load_graph(paths.roads_dir())
    ok = pl.read_parquet(result_file).filter(pl.col("status") == "ok")
    pick = ok["origin"].unique().sort().sample(origins, seed=11)
    res = ok.filter(pl.col("origin").is_in(pick.to_list())).sample(fraction=1.0, shuffle=True, seed=12)
    res = res.group_by("origin", maintain_order=True).head(per_origin).head(n)
    zt = zones.snap_zones(zones.zone_table(pl.concat([res["origin"], res["destination"]]).unique(), "grid1km"), g)
    look = zt.select("zone", "node", "snap_m")
    j = res.join(look.rename({"zone": "origin", "node": "o", "snap_m": "so"}), on="origin").join(
        look.rename({"zone": "destination", "node": "d", "snap_m": "sd"}), on="destination"
    )
    a = adjacency(g.edges, g.n_nodes)
    a.data = np.maximum(a.data, 1e-9)
    o = j["o"].to_numpy()
    uo, inv = np.unique(o, return_inverse=True)
    t = time.perf_counter()
    road = np.empty(len(o))
    for lo in range(0, len(uo), 25):  # 25 full distance rows at a time (≈ 0.1 GiB)
        dist = dijkstra(a, directed=True, indices=uo[lo : lo + 25])
        sel = (inv >= lo) & (inv < lo + 25)
        road[sel] = dist[inv[sel] - lo, j["d"].to_numpy()[sel]]
    ref = road + (j["so"].to_numpy() + j["sd"].to_numpy()) / 1000.0 / load_profile().access_speed_kmh * 60.0
    diff = np.abs(j["minutes"].to_numpy() - ref)
    ok = (diff <= 0.2) | (diff <= 0.005 * ref)
    return {
        "accuracy_pairs": int(len(ref)), "accuracy_within_tolerance": int(ok.sum()),
        "accuracy_max_abs_min": float(diff.max()), "accuracy_max_rel": float((diff / ref).max()),
        "accuracy_reference_s": time.perf_counter() - t,
    }  # fmt: skip


def matrix98(env: dict, work: Path) -> dict:
    from pendling import odmatrix

    m = odmatrix.load_matrix()
    f = work / "pairs_98.parquet"
    m.select("origin", "destination").write_parquet(f)
    wall, rss, _, cpu = run_child([PY, "-m", "pendling", "matrix", "pairs", "--pairs", str(f), "--out", str(work / "t98.parquet"), "--no-cache"], env)
    t = pl.read_parquet(work / "t98.parquet")
    same = all(bool((t[c] == m[c]).all()) for c in ("minutes", "km", "ferry_minutes"))
    return {"m98_s": wall, "m98_cpu_s": cpu, "m98_identical": same, "m98_max_abs_min": float((t["minutes"] - m["minutes"]).abs().max())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--persons", type=int, default=3_000_000)
    ap.add_argument("--years", default="2014-2022")
    ap.add_argument("--work", type=Path, default=Path("/tmp/pendling-pairs-bench"))
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "pair_engines.md")
    ap.add_argument("--osrm", action="store_true")
    ap.add_argument("--skip-full", action="store_true")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), PENDLING_CACHE_DIR=str(a.work / "cache"))
    os.environ.update(env)
    import json

    state_file = a.work / "state.json"  # finished steps, so an interrupted run resumes
    state = json.loads(state_file.read_text()) if state_file.is_file() else {}

    def step(name: str, fn):
        if name not in state:
            state[name] = fn()
            state_file.write_text(json.dumps(state, indent=1, default=str))
        print(name, state[name], flush=True)
        return state[name]

    load0 = state.setdefault("load0", os.getloadavg())
    pairs_file = a.work / "pairs_1km.parquet"
    info = step("pairs", lambda: build_pairs(a.work, a.persons, a.years, env)[1])
    eng = step("engines", lambda: engines(pairs_file, info, a.osrm, a.work))
    full: dict = {}
    if not a.skip_full:
        import shutil

        cmd = [PY, "-m", "pendling", "matrix", "pairs", "--zones", "grid1km", "--pairs", str(pairs_file), "--out", str(a.work / "times.parquet")]

        def cold():
            shutil.rmtree(a.work / "cache", ignore_errors=True)
            return dict(zip(("cold_s", "cold_peak_gib", "cold_log", "cold_cpu_s"), run_child(cmd, env), strict=True))

        full.update(step("cold", cold))
        full.update(step("warm", lambda: dict(zip(("warm_s", "warm_peak_gib", "warm_log", "warm_cpu_s"), run_child(cmd, env), strict=True))))
        full.update(step("accuracy", lambda: accuracy(a.work / "times.parquet")))

        def summary():
            times = pl.read_parquet(a.work / "times.parquet")
            ok = times.filter(pl.col("status") == "ok")
            return {"status_counts": dict(times["status"].value_counts().iter_rows()),
                    "median_minutes": float(ok["minutes"].median()), "median_km": float(ok["km"].median())}  # fmt: skip

        full.update(step("summary", summary))
    m98 = step("m98", lambda: matrix98(env, a.work))
    full["cold_first"] = state.get("cold_first")
    write_md(a.out, info, eng, full, m98, load0, os.getloadavg(), a)


def write_md(out: Path, info: dict, eng: dict, full: dict, m98: dict, load0, load1, a) -> None:
    f = lambda v: f"{v:,.1f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)  # noqa: E731
    lines = [
        "# Routing zone pairs: engines compared, national 1 km pair set",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()} ({os.cpu_count()} cores, shared with other jobs: "
        f"load average {load0[0]:.1f} at start, {load1[0]:.1f} at end — times are wall clock on a loaded machine).",
        f"Command: `.venv/bin/python benchmarks/pair_engines.py --persons {a.persons} --years {a.years}{' --osrm' if a.osrm else ''}`.",
        "",
        "## Pair set",
        f"Synthetic national extract ({a.persons:,} employed persons × {a.years}, {f(info.get('person_years', 0))} person-years with a "
        "workplace); ADRESSE_ID → 1 km cell of the home municipality, LBNR → 1 km cell of the workplace municipality, weighted by the "
        f"road metres in the cell. Distinct (home cell, work cell) pairs: **{f(info['pairs'])}** from {f(info['origins'])} home cells to "
        f"{f(info['destinations'])} work cells ({f(info['same_cell'])} within one cell).",
        "",
        "## Engines (same graph, same snapped nodes)",
        "| engine | preparation | per pair (wall; CPU) | whole set (extrapolated, wall) |",
        "| --- | ---: | ---: | ---: |",
        f"| pandana CH, path unpacked (minutes, km and ferry minutes of the fastest route) | {f(eng['ch_prepare_s'])} s "
        f"(CPU {f(eng.get('ch_prepare_cpu_s', float('nan')))} s) | "
        f"{f(eng['ch_us_per_pair_unpacked'])} µs; {f(eng.get('ch_cpu_us_per_pair_unpacked', float('nan')))} µs | {f(eng['ch_extrapolated_s'])} s |",
        f"| pandana CH, minutes only (no km) | — | {f(eng['ch_us_per_pair_minutes_only'])} µs; "
        f"{f(eng.get('ch_cpu_us_per_pair_minutes_only', float('nan')))} µs | — |",
        f"| scipy Dijkstra per distinct origin, `limit`=120 min | — | {f(eng['dijkstra_s_per_origin_limit120'])} s per origin | "
        f"{f(eng['dijkstra_extrapolated_s'])} s |",
        f"| scipy Dijkstra per distinct origin, no limit | — | {f(eng['dijkstra_s_per_origin_full'])} s per origin | "
        f"{f(eng['dijkstra_full_extrapolated_s'])} s |",
    ]
    if "osrm_prepare_s" in eng:
        n = info["pairs"]
        lines.append(
            f"| OSRM MLD (own car.lua speeds), table per origin over HTTP | {f(eng['osrm_export_s'] + eng['osrm_prepare_s'])} s "
            f"(export {f(eng['osrm_export_s'])} s) | {f(eng['osrm_us_per_pair_table_per_origin'])} µs | "
            f"{f(eng['osrm_export_s'] + eng['osrm_prepare_s'] + eng['osrm_us_per_pair_table_per_origin'] * n / 1e6)} s |"
        )
        if eng.get("osrm_note"):
            lines.append(f"| | {eng['osrm_note']} | | |")
    elif "osrm" in eng:
        lines.append(f"| OSRM MLD | {eng['osrm']} | | |")
    else:
        lines.append("| OSRM MLD | not run in this benchmark (`--osrm`) | | |")
    lines += [
        "",
        f"CH sample: {f(eng['ch_sample_pairs'])} pairs of the set. Dijkstra: 8 origins of the set, on the degree-2-contracted graph "
        "(one Dijkstra per distinct origin cell; `limit` stops at 120 min, but every origin has some distant destination, so the "
        "limit cannot be much lower). OSRM: 30 origin cells, one `/table` request per origin with all its destinations.",
        "",
        "**Choice.** Contraction hierarchies (pandana) with path unpacking: the only engine that routes the national set in minutes "
        f"(≈{eng['ch_extrapolated_s'] / max(eng['dijkstra_extrapolated_s'], 1e-9):.2f} × the time of limited Dijkstra per origin), "
        "with exactly the graph's minutes and the km and ferry minutes of the same fastest route. OSRM MLD routes with its own car.lua "
        "speeds and turn costs, not pendling's profile, so its minutes differ from the shipped matrix's; it also needs the export and "
        "its own preparation. `pair_times(engine='auto')` uses Dijkstra for ≤ 256 distinct origin nodes (no CH preparation; the "
        "98 × 98 matrix bit for bit) and CH above.",
    ]
    if full:
        lines += [
            "",
            "## `pendling matrix pairs --zones grid1km` on the whole set (child process)",
            "| run | wall | CPU (user + system) | peak RSS |",
            "| --- | ---: | ---: | ---: |",
            f"| cold cache (CH preparation + routing + writing) | {f(full['cold_s'])} s | {f(full.get('cold_cpu_s', float('nan')))} s | "
            f"{full['cold_peak_gib']:.2f} GiB |",
            *(
                [f"| cold cache, first run (CH unpacked in chunks of 50,000 pairs; CPU sampled from /proc) | "
                 f"{f(full['cold_first']['cold_s'])} s | {f(full['cold_first']['cold_cpu_s'])} s | "
                 f"{full['cold_first']['cold_peak_gib']:.2f} GiB |"]
                if full.get("cold_first") else []
            ),
            f"| warm cache | {f(full['warm_s'])} s | {f(full.get('warm_cpu_s', float('nan')))} s | "
            f"{full.get('warm_peak_gib', float('nan')):.2f} GiB |",
            "",
            f"Statuses: {full['status_counts']}. Median of routed pairs: {full['median_minutes']:.1f} min, {full['median_km']:.1f} km.",
            "",
            f"Accuracy: {full['accuracy_within_tolerance']:,} of {full['accuracy_pairs']:,} random routed pairs within 0.5 % or 0.2 min of plain "
            f"scipy Dijkstra on the uncontracted stored graph (max |Δ| {full['accuracy_max_abs_min']:.2e} min, max relative "
            f"{full['accuracy_max_rel']:.2e}).",
        ]
    lines += [
        "",
        "## 98×98 municipality matrix through `pair_times` (`pendling matrix pairs`, no cache, child process)",
        f"{f(m98['m98_s'])} s wall (CPU {f(m98.get('m98_cpu_s', float('nan')))} s) including interpreter start and graph loading; identical to the shipped matrix (minutes, km, ferry "
        f"minutes bit for bit): **{m98['m98_identical']}** (max |Δ minutes| {m98['m98_max_abs_min']:.1e}).",
        "",
    ]
    out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

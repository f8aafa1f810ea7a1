"""The benchmark stages. Each runs in its own child process (``run.py --stage NAME``), so its peak
resident set size is its own.

A stage gets the run context (a dict, see ``run.py``), does its untimed setup (imports, reading its
input), times its work with :meth:`Meter.run` (or :meth:`Meter.start` / :meth:`Meter.stop`), then
writes what later stages and the equality checks need into the run directory. ``Meter.start`` resets the
kernel's high-water mark of the process (``/proc/self/clear_refs``), so the peak RSS reported is the
peak *during the timed work* — with the stage's input resident, as a user would have it — and
``rss_setup_mib`` says how much of that was already there before the work began.

Units: seconds (wall clock), MiB (2^20 bytes) of resident memory, minutes for travel time.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import shutil
import time
from pathlib import Path
from typing import Any

Ctx = dict[str, Any]


# ----------------------------------------------------------------------------- measuring


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset this process's peak-RSS high-water mark (Linux ≥ 4.0); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process's threads and of its finished child processes
    (e.g. the tile decoder's worker pool)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class Meter:
    """Wall time, CPU time (user + system, all threads) and peak RSS of one timed section."""

    def __init__(self) -> None:
        self.seconds: float | None = None
        self.cpu_seconds: float | None = None
        self.peak_rss_mib: float | None = None
        self.rss_setup_mib: float | None = None
        self.peak_reset = False
        self.load_start: list[float] = []
        self.load_end: list[float] = []

    def start(self) -> None:
        gc.collect()
        rss = _status_kib("VmRSS")
        self.rss_setup_mib = rss / 1024 if rss is not None else None
        self.peak_reset = _reset_peak()
        self.load_start = list(os.getloadavg())
        self._cpu0 = _cpu_seconds()
        self._t0 = time.perf_counter()

    def stop(self) -> None:
        self.seconds = time.perf_counter() - self._t0
        self.cpu_seconds = _cpu_seconds() - self._cpu0
        # ru_maxrss is KiB on Linux; after the reset it is the peak since start()
        self.peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.load_end = list(os.getloadavg())

    def run(self, fn: Any, repeat: int = 1) -> Any:
        """Time ``fn()`` ``repeat`` times in a row; seconds and CPU seconds are the medians, the peak
        RSS the highest over all repeats. Returns the last result."""
        import statistics

        self.start()
        walls, cpus, out = [], [], None
        for _ in range(max(1, repeat)):
            out = None  # let the previous result go before the next run
            c0, t0 = _cpu_seconds(), time.perf_counter()
            out = fn()
            walls.append(time.perf_counter() - t0)
            cpus.append(_cpu_seconds() - c0)
        self.stop()
        self.seconds, self.cpu_seconds, self.runs = statistics.median(walls), statistics.median(cpus), walls
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "runs_seconds": getattr(self, "runs", [self.seconds]),
            "cpu_seconds": self.cpu_seconds,
            "peak_rss_mib": self.peak_rss_mib,
            "rss_setup_mib": self.rss_setup_mib,
            "peak_reset": self.peak_reset,
            "loadavg_start": self.load_start,
            "loadavg_end": self.load_end,
        }


def _run_dir(ctx: Ctx) -> Path:
    d = Path(ctx["run_dir"])
    d.mkdir(parents=True, exist_ok=True)
    return d


def _scratch_parquet(df, path: Path) -> None:
    """Intermediate files between stages: fast LZ4, written atomically (not a project output)."""
    tmp = path.with_name(f".{path.name}.tmp")
    df.write_parquet(tmp, compression="lz4")
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- synth


def synth_key(ctx: Ctx) -> str:
    """Cache key of the synthetic extract: generator version + seed + matrix hash + size + scenario."""
    import hashlib

    from pendling.odmatrix import load_matrix
    from pendling.synth.api import GENERATOR_VERSION
    from pendling.synth.calibration import matrix_hash

    spec = {
        "generator_version": GENERATOR_VERSION,
        "seed": ctx["seed"],
        "matrix_sha256": matrix_hash(load_matrix()),
        "persons": ctx["persons"],
        "years": ctx["years"],
        "format": "parquet",
        "scenario": ctx["scenario"],
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def synth(ctx: Ctx, meter: Meter) -> dict[str, Any]:
    """Generate (or reuse from the cache) the synthetic register extract, ``ras<year>.parquet``."""
    from pendling.synth import generate

    key = synth_key(ctx)
    y0, y1 = ctx["years"].split("-")
    target = Path(ctx["cache_dir"]) / f"synth-{ctx['persons']}-{y0}-{y1}-seed{ctx['seed']}-{key}"
    record = target / "bench_synth.json"
    if record.is_file() and (target / "manifest.json").is_file() and not ctx.get("regenerate"):
        cached = json.loads(record.read_text())
        manifest = json.loads((target / "manifest.json").read_text())
        if all((target / f["name"]).is_file() for f in manifest["files"]):
            cached["status"] = "cached"
            cached["details"]["extract"] = str(target)
            return cached  # the timing recorded when this extract was generated
    tmp = target.with_name(f".{target.name}.building")
    shutil.rmtree(tmp, ignore_errors=True)
    meter.start()
    res = generate(tmp, persons=ctx["persons"], years=ctx["years"], seed=ctx["seed"], fmt="parquet",
                   scenario=ctx["scenario"])
    meter.stop()
    rows = sum(f["rows"] for f in res.manifest["files"])
    size = sum(p.stat().st_size for p in tmp.iterdir()) / 2**20
    out = {
        "status": "ok",
        **meter.as_dict(),
        "details": {
            "persons": ctx["persons"], "years": ctx["years"], "seed": ctx["seed"], "scenario": ctx["scenario"],
            "rows": rows, "files": len(res.files), "disk_mib": round(size, 1), "cache_key": key,
            "engine_seconds": {k: round(v, 2) for k, v in res.seconds.items()},
            "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    }
    (tmp / "bench_synth.json").write_text(json.dumps(out, indent=1))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    out["details"]["extract"] = str(target)
    return out


# ----------------------------------------------------------------------------- panel


def panel_load(ctx: Ctx, meter: Meter) -> dict[str, Any]:
    """``load_panel`` on the extract: read + type conversion + validation + attrition."""
    import polars as pl

    from pendling.panel import load_panel

    extract = Path(ctx["extract"])
    meter.start()
    panel = load_panel(extract)
    meter.stop()
    run = _run_dir(ctx)
    frame_mib = panel.frame.estimated_size() / 2**20
    _scratch_parquet(panel.frame, run / "panel.parquet")
    _scratch_parquet(panel.with_derived(), run / "panel_derived.parquet")
    att = panel.attrition
    return {
        "status": "ok",
        **meter.as_dict(),
        "details": {
            "rows_read": panel.n_input,
            "rows_kept": panel.frame.height,
            "persons": int(panel.frame["pnr"].n_unique()),
            "years": panel.years,
            "table_mib": round(frame_mib, 1),
            "excluded": panel.n_input - panel.frame.height,
            "attrition_buckets": att.filter(pl.col("n") > 0).height,
            "warnings": panel.warnings[:5],
        },
    }


# ----------------------------------------------------------------------------- mobility


def _years(frame) -> tuple[int, int]:
    ys = sorted(frame["year"].unique().to_list())
    return ys[0] + 1, ys[-1]


def mobility(ctx: Ctx, meter: Meter) -> dict[str, Any]:
    """``pendling.mobility.compute`` over every year with a previous year, both flows, default cells
    (job group × hovedstaden/rest/all with 'all' margins), disclosure control on — the user's call.
    Then, untimed for the target but reported, the same with disclosure off for the equality checks."""
    import polars as pl

    import pendling.mobility as mob

    frame = pl.read_parquet(Path(ctx["run_dir"]) / "panel.parquet")
    res = meter.run(lambda: mob.compute(frame), ctx.get("repeat", 1))
    t = time.perf_counter()
    open_cells = mob.compute(frame, disclosure=False)
    t_open = time.perf_counter() - t
    _scratch_parquet(open_cells, _run_dir(ctx) / "mobility_open.parquet")
    flows = open_cells.filter(pl.col("job_group") == "all", pl.col("region") == "all")
    return {
        "status": "ok",
        **meter.as_dict(),
        "details": {
            "rows": frame.height,
            "table_mib": round(frame.estimated_size() / 2**20, 1),
            "years": list(_years(frame)),
            "cells": res.height,
            "suppressed_cells": int(res["suppressed"].sum()),
            "movers": int(flows.filter(pl.col("flow") == "movers")["n"].sum()),
            "job_changers": int(flows.filter(pl.col("flow") == "job_changers")["n"].sum()),
            "seconds_disclosure_off": t_open,
            "peak_beyond_table_mib": meter.peak_rss_mib - meter.rss_setup_mib,
        },
    }


def mobility_breakdowns(ctx: Ctx, meter: Meter) -> dict[str, Any]:
    """``compute(by=['region', 'kommunegruppe'])``: the five regions and five kommunegrupper as well."""
    import polars as pl

    import pendling.mobility as mob

    frame = pl.read_parquet(Path(ctx["run_dir"]) / "panel.parquet")
    res = meter.run(lambda: mob.compute(frame, by=["region", "kommunegruppe"]), ctx.get("repeat", 1))
    return {
        "status": "ok",
        **meter.as_dict(),
        "details": {"cells": res.height, "peak_beyond_table_mib": meter.peak_rss_mib - meter.rss_setup_mib},
    }


def duckdb_bare(ctx: Ctx, meter: Meter) -> dict[str, Any]:
    """Baseline (a): the hand-written DuckDB query on the already-loaded canonical table."""
    import polars as pl

    import baselines
    from pendling.odmatrix import load_matrix

    cols = ["pnr", "year", "home_muni", "home_addr", "work_id", "work_muni", "job_group", "region_code"]
    frame = pl.read_parquet(Path(ctx["run_dir"]) / "panel_derived.parquet", columns=cols)
    od = load_matrix()
    years = _years(frame)
    out = meter.run(lambda: baselines.duckdb_bare(frame, od, years), ctx.get("repeat", 1))
    _scratch_parquet(out, _run_dir(ctx) / "baseline_duckdb.parquet")
    return {
        "status": "ok",
        **meter.as_dict(),
        "details": {"cells": out.height, "years": list(years), "edge_cases": definition_edge_cases(frame, years),
                    "peak_beyond_table_mib": meter.peak_rss_mib - meter.rss_setup_mib},
    }


def definition_edge_cases(frame, years: tuple[int, int]) -> dict[str, int]:
    """Counts of the transitions the residence rules single out: the address known and the same in
    both years but another home municipality (contradictory: in neither flow, in pendling and in every
    baseline), and an address unknown in either year (the municipality decides)."""
    import duckdb

    con = duckdb.connect()
    con.register("panel", frame.select("pnr", "year", "home_muni", "home_addr", "work_id", "work_muni").to_arrow())
    row = con.sql(
        """
        SELECT count(*) FILTER (WHERE p.home_addr = c.home_addr AND p.home_muni <> c.home_muni),
               count(*) FILTER (WHERE p.home_addr = c.home_addr AND p.home_muni <> c.home_muni
                                AND p.work_id = c.work_id AND p.work_id <> 0 AND p.work_muni = c.work_muni),
               count(*) FILTER (WHERE p.home_addr IS NULL OR c.home_addr IS NULL)
        FROM panel p JOIN panel c ON c.pnr = p.pnr AND c.year = p.year + 1
        WHERE c.year BETWEEN ? AND ?
        """,
        params=[int(years[0]), int(years[1])],
    ).fetchall()[0]
    con.close()
    return {"same_address_other_municipality": int(row[0]),
            "same_address_other_municipality_same_workplace": int(row[1]),
            "address_unknown_in_either_year": int(row[2])}


_PANDAS_COLUMNS = ["pnr", "year", "home_muni", "home_addr", "work_id", "work_muni", "job_group", "region_code"]


def pandas_idiomatic(ctx: Ctx, meter: Meter) -> dict[str, Any]:
    """Baseline (b1): vectorised pandas (self-merge, masks, group-by), on all persons or on every k-th
    PNR (``pandas_fraction`` = 1/k), its time then extrapolated linearly in rows and labelled."""
    k = max(1, round(1 / float(ctx.get("pandas_fraction", 1.0))))
    return _pandas_stage(ctx, meter, "pandas_idiomatic", "baseline_pandas.parquet", k, per="rows")


def pandas_groupby_shift(ctx: Ctx, meter: Meter) -> dict[str, Any]:
    """Baseline (b2): pandas ``sort_values`` + ``groupby('pnr').shift(1)`` + masks + merge + group-by,
    on the same persons as (b1) (``pandas_fraction``)."""
    k = max(1, round(1 / float(ctx.get("pandas_fraction", 1.0))))
    return _pandas_stage(ctx, meter, "pandas_groupby_shift", "baseline_pandas_groupby_shift.parquet", k, per="rows")


def pandas_per_person(ctx: Ctx, meter: Meter) -> dict[str, Any]:
    """Baseline (b3): a Python function per person over ``groupby('pnr')``. Too slow for millions of
    persons, so it runs on every k-th PNR, k chosen so that about ``per_person_persons`` persons are
    in the subset (deterministic for a given extract), and its time is extrapolated linearly in persons
    and labelled so; its equality check is against pendling on exactly those persons."""
    import math

    import polars as pl

    path = Path(ctx["run_dir"]) / "panel_derived.parquet"
    persons = pl.scan_parquet(path).select(pl.col("pnr").n_unique()).collect().item()
    k = max(1, math.ceil(persons / int(ctx.get("per_person_persons", persons))))
    return _pandas_stage(ctx, meter, "pandas_per_person", "baseline_pandas_per_person.parquet", k, per="persons")


def _pandas_stage(ctx: Ctx, meter: Meter, name: str, output: str, k: int, per: str) -> dict[str, Any]:
    """Time ``baselines.<name>`` on every k-th PNR's rows (k = 1: all) with the table already in pandas;
    for k > 1 scale seconds, CPU seconds and memory linearly by ``per`` ('rows' or 'persons') and
    compute pendling's reference on the same subset (untimed)."""
    import pandas as pd
    import polars as pl

    import baselines
    from pendling.odmatrix import load_matrix

    path = Path(ctx["run_dir"]) / "panel_derived.parquet"
    totals = pl.scan_parquet(path).select(pl.len().alias("rows"), pl.col("pnr").n_unique().alias("persons")).collect()
    total_rows, total_persons = int(totals["rows"][0]), int(totals["persons"][0])
    if k > 1:
        pdf = pl.scan_parquet(path).select(_PANDAS_COLUMNS).filter(pl.col("pnr") % k == 0).collect().to_pandas()
    else:
        pdf = pd.read_parquet(path, columns=_PANDAS_COLUMNS)
    od = load_matrix().select("origin", "destination", "minutes").to_pandas()
    years = (int(pdf["year"].min()) + 1, int(pdf["year"].max()))
    rows, persons = len(pdf), int(pdf["pnr"].nunique())
    table_mib = float(pdf.memory_usage(deep=True).sum()) / 2**20
    fn = getattr(baselines, name)
    out = meter.run(lambda: fn(pdf, od, years), ctx.get("repeat", 1))
    del pdf
    _scratch_parquet(out, _run_dir(ctx) / output)
    details: dict[str, Any] = {
        "cells": out.height, "output": output, "rows": rows, "total_rows": total_rows, "persons": persons,
        "total_persons": total_persons, "every_kth_pnr": k, "years": list(years), "table_mib": table_mib,
        "measured_seconds_per_1000_persons": meter.seconds / persons * 1000,
        "peak_beyond_table_mib": meter.peak_rss_mib - meter.rss_setup_mib,
        "reference": _subset_reference(ctx, k),
    }
    if k == 1:
        return {"status": "ok", **meter.as_dict(), "details": details}

    factor = total_rows / rows if per == "rows" else total_persons / persons
    measured = meter.as_dict()
    beyond = (meter.peak_rss_mib - meter.rss_setup_mib) * factor
    details |= {
        "measured_seconds": meter.seconds, "measured_cpu_seconds": meter.cpu_seconds,
        "measured_runs_seconds": measured["runs_seconds"], "measured_peak_rss_mib": meter.peak_rss_mib,
        "extrapolated_by": per, "extrapolation_factor": factor, "peak_beyond_table_mib": beyond,
        "note": f"measured on every {k}th PNR ({persons:,} of {total_persons:,} persons, {rows:,} of "
                f"{total_rows:,} rows); seconds and memory extrapolated linearly in {per} (×{factor:,.1f})",
    }
    # the process's own baseline (interpreter, libraries) does not grow with the data; the table and
    # the work's memory beyond it do
    meter.peak_rss_mib = (meter.rss_setup_mib - table_mib) + table_mib * factor + beyond
    meter.seconds *= factor
    meter.cpu_seconds *= factor
    meter.runs = [t * factor for t in measured["runs_seconds"]]
    return {"status": "extrapolated", **meter.as_dict(), "details": details}


def _subset_reference(ctx: Ctx, k: int) -> str:
    """pendling's unsuppressed cells for the persons with PNR divisible by k — the same engine call as
    the mobility stage's reference, on the same subset the baseline saw (untimed). Returns the file name."""
    import polars as pl

    import pendling.mobility as mob

    if k == 1:
        return "mobility_open.parquet"  # written by the mobility stage
    name = f"mobility_open_every{k}.parquet"
    sub = pl.read_parquet(Path(ctx["run_dir"]) / "panel.parquet").filter(pl.col("pnr") % k == 0)
    _scratch_parquet(mob.compute(sub, disclosure=False), _run_dir(ctx) / name)
    return name


# ----------------------------------------------------------------------------- routing


def _graph_dir(ctx: Ctx) -> Path:
    """The stored graph the matrix stages route on: data/roads, or for the small scale a cropped
    copy of it (the København area, built once into the cache)."""
    if ctx["scale"] != "small":
        return Path(ctx["graph_dir"])
    import hashlib

    src = Path(ctx["graph_dir"])
    h = hashlib.sha256()
    for name in ("nodes.parquet", "edges.parquet"):
        h.update((src / name).read_bytes())
    target = Path(ctx["cache_dir"]) / f"roads-kbh-{h.hexdigest()[:16]}"
    if not (target / "edges.parquet").is_file():
        _crop_graph(src, target, ctx["bbox"])
    return target


def _crop_graph(src: Path, dst: Path, bbox: list[float]) -> None:
    import numpy as np
    import polars as pl

    from pendling import routing

    g = routing.load_graph(src)
    lon0, lat0, lon1, lat1 = bbox
    inside = g.nodes.select((pl.col("lon").is_between(lon0, lon1) & pl.col("lat").is_between(lat0, lat1)))
    keep = inside.to_series().to_numpy()
    new_id = np.full(g.n_nodes, -1, dtype=np.int64)
    new_id[keep] = np.arange(int(keep.sum()))
    u, v = g.edges["u"].to_numpy(), g.edges["v"].to_numpy()
    ok = keep[u] & keep[v]
    edges = g.edges.filter(pl.Series(ok)).with_columns(
        pl.Series("u", new_id[u[ok]].astype(np.int32)), pl.Series("v", new_id[v[ok]].astype(np.int32)))
    nodes = g.nodes.filter(pl.Series(keep)).with_columns(pl.Series("node", np.arange(int(keep.sum()), dtype=np.int32)))
    info = {"cropped_from": str(src), "bbox": bbox}
    cropped, _ = routing.keep_largest_component(routing.RoadGraph(nodes, edges, info))
    tmp = dst.with_name(f".{dst.name}.building")
    shutil.rmtree(tmp, ignore_errors=True)
    routing.save_graph(cropped, tmp)
    shutil.rmtree(dst, ignore_errors=True)
    os.replace(tmp, dst)


def _points(ctx: Ctx):
    import polars as pl

    from pendling import routing

    pts = routing.municipality_points("inside")
    if ctx["scale"] == "small":
        lon0, lat0, lon1, lat1 = ctx["bbox"]
        pts = pts.filter(pl.col("lon").is_between(lon0, lon1), pl.col("lat").is_between(lat0, lat1))
    return pts


def routing_graph_build(ctx: Ctx, meter: Meter) -> dict[str, Any]:
    """``build_graph(tiles=...)``: decode the z13 vector tiles, assemble, ferries, largest component,
    degree-2 contraction. National: the tiles of all Denmark; small: the repo's 3×3 test block."""
    from pendling import routing

    tiles = Path(ctx["tiles_dir"])
    if not (tiles / "13").is_dir():
        return {"status": "skipped", "reason": f"no zoom-13 tiles under {tiles}"}
    n_tiles = sum(1 for _ in (tiles / "13").rglob("*.pbf"))
    ferries = None if ctx["scale"] != "small" else False
    meter.start()
    g = routing.build_graph(tiles=tiles, ferries=ferries, workers=2)
    meter.stop()
    return {"status": "ok", **meter.as_dict(),
            "details": {"tiles": n_tiles, "tiles_dir": str(tiles), "nodes": g.n_nodes, "directed_edges": g.n_edges,
                        "nodes_read": g.info.get("nodes_read")}}


def routing_matrix(ctx: Ctx, meter: Meter) -> dict[str, Any]:
    """The municipality matrix from the stored graph: ``load_graph`` + ``travel_time_matrix``
    (snapping, degree-2 contraction, one Dijkstra per source, km along the fastest routes)."""
    from pendling import routing

    gdir = _graph_dir(ctx)
    pts = _points(ctx)
    laps: list[float] = []

    def load_and_route():
        t = time.perf_counter()
        g = routing.load_graph(gdir)
        laps.append(time.perf_counter() - t)
        return g, routing.travel_time_matrix(g, pts)

    g, m = meter.run(load_and_route, ctx.get("repeat", 1))
    t_load = sorted(laps)[len(laps) // 2]
    _scratch_parquet(m, _run_dir(ctx) / "matrix.parquet")
    return {"status": "ok", **meter.as_dict(),
            "details": {"graph": str(gdir), "nodes": g.n_nodes, "directed_edges": g.n_edges, "sources": pts.height,
                        "load_seconds": t_load, "route_seconds": meter.seconds - t_load,
                        "unreachable": int(m["minutes"].null_count())}}


def routing_networkx(ctx: Ctx, meter: Meter) -> dict[str, Any]:
    """Baseline (c1): networkx Dijkstra on the same graph from a subset of sources; the minutes
    must equal pendling's to 1e-9 (same snapped nodes, same access legs). Time per source is
    extrapolated to all sources (labelled)."""
    import networkx as nx
    import numpy as np
    import polars as pl

    from pendling import routing
    from pendling.routing.graph import min_parallel

    g = routing.load_graph(_graph_dir(ctx))
    pts = _points(ctx).sort("code")
    snapped = routing.snap_points(g, pts)
    mat = pl.read_parquet(Path(ctx["run_dir"]) / "matrix.parquet")
    k = min(int(ctx["nx_sources"]), pts.height)
    # evenly spread sources, deterministic
    chosen = snapped[np.linspace(0, pts.height - 1, k).round().astype(int).tolist()]
    e = min_parallel(g.edges)
    # the same zero-weight guard as pendling's CSR (scipy reads 0 as 'no edge'); the stored graph has none
    w = np.maximum(e["minutes"].to_numpy(), 1e-9)
    meter.start()
    G = nx.DiGraph()
    G.add_weighted_edges_from(zip(e["u"].to_list(), e["v"].to_list(), w.tolist(), strict=True))
    t_build = time.perf_counter() - meter._t0
    dists = [nx.single_source_dijkstra_path_length(G, int(n), weight="weight") for n in chosen["node"].to_list()]
    meter.stop()
    t_route = meter.seconds - t_build
    access = routing.load_profile().access_speed_kmh
    nodes = snapped["node"].to_list()
    snap = snapped["snap_m"].to_numpy()
    codes = snapped["code"].to_list()
    rows = []
    for (code_o, snap_o), dist in zip(chosen.select("code", "snap_m").rows(), dists, strict=True):
        for code_d, node_d, snap_d in zip(codes, nodes, snap, strict=True):
            if code_d != code_o:
                access_minutes = (snap_o + snap_d) / 1000.0 / access * 60.0  # as travel_time_matrix adds it
                rows.append((code_o, code_d, dist.get(node_d, float("nan")) + access_minutes))
    schema = {"origin": pl.Int16, "destination": pl.Int16, "minutes_nx": pl.Float64}
    nxm = pl.DataFrame(rows, schema=schema, orient="row")
    j = nxm.join(mat.select(pl.col("origin").cast(pl.Int16), pl.col("destination").cast(pl.Int16), "minutes"),
                 on=["origin", "destination"], how="left")
    diff = float((j["minutes"] - j["minutes_nx"]).abs().max())
    n_all = pts.height
    scaled = t_build + t_route / k * n_all
    return {
        "status": "extrapolated" if k < n_all else "ok",
        **meter.as_dict(),
        "seconds": scaled,
        "cpu_seconds": meter.cpu_seconds * scaled / meter.seconds,  # scaled like the wall time
        "details": {
            "sources_measured": k, "sources_all": n_all, "build_seconds": t_build, "route_seconds_measured": t_route,
            "seconds_per_source": t_route / k, "measured_seconds": meter.seconds,
            "pairs_compared": j.height, "max_abs_diff_minutes": diff,
            "note": (f"networkx graph build + {k} single-source Dijkstras measured; routing time scaled to "
                     f"{n_all} sources" if k < n_all else "all sources measured"),
        },
    }


def routing_osrm(ctx: Ctx, meter: Meter) -> dict[str, Any]:
    """Baseline (c2): OSRM (osrm-bindings binaries, MLD) table service on the same graph, exported
    with ``graph_to_pbf``. OSRM uses its own car.lua speeds, so agreement is reported, not equality.
    The prepared OSRM files are cached (keyed by the graph files); their build time is recorded."""
    import hashlib

    import polars as pl

    from pendling import routing
    from pendling.routing import osrm

    ok, why = osrm.osrm_available()
    if not ok:
        return {"status": "skipped", "reason": why}
    gdir = _graph_dir(ctx)
    h = hashlib.sha256()
    for name in ("nodes.parquet", "edges.parquet"):
        h.update((gdir / name).read_bytes())
    work = Path(ctx["cache_dir"]) / f"osrm-{h.hexdigest()[:16]}"
    record = work / "bench_prepare.json"
    if record.is_file() and (work / "map.osrm.mldgr").exists():
        prep = json.loads(record.read_text()) | {"cached": True}
    else:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        t = time.perf_counter()
        pbf = osrm.graph_to_pbf(routing.load_graph(gdir), work / "graph.osm.pbf")
        t_pbf = time.perf_counter() - t
        t = time.perf_counter()
        osrm.prepare(pbf, work, threads=2)
        prep = {"graph_to_pbf_seconds": t_pbf, "extract_partition_customize_seconds": time.perf_counter() - t,
                "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        record.write_text(json.dumps(prep))
        prep["cached"] = False
    pts = _points(ctx)
    mat = pl.read_parquet(Path(ctx["run_dir"]) / "matrix.parquet")
    t = time.perf_counter()
    with osrm.serve(work / "map.osrm") as url:
        t_start = time.perf_counter() - t
        meter.start()
        b = routing.travel_time_matrix(None, pts, backend="osrm", osrm_url=url)
        meter.stop()
    agree = {v: osrm.compare(mat, b, v) for v in ("minutes", "km")}
    return {"status": "ok", **meter.as_dict(),
            "details": {"server_start_seconds": t_start, "prepare": prep, "agreement": agree,
                        "sources": pts.height,
                        "note": "seconds = the /table query for all pairs on a running server"}}


STAGES = {
    "synth": synth,
    "panel_load": panel_load,
    "mobility": mobility,
    "mobility_breakdowns": mobility_breakdowns,
    "duckdb_bare": duckdb_bare,
    "pandas_idiomatic": pandas_idiomatic,
    "pandas_groupby_shift": pandas_groupby_shift,
    "pandas_per_person": pandas_per_person,
    "routing_graph_build": routing_graph_build,
    "routing_matrix": routing_matrix,
    "routing_networkx": routing_networkx,
    "routing_osrm": routing_osrm,
}

"""Grid cells in the panel: what reading them costs (issue 18, build point 1).

Runs, each as its own child process under /usr/bin/time -v (wall s, CPU s, peak RSS):

- ``load_panel`` of a grid extract (cache off) with the cells read (``zones='grid1km'``) and, for the
  tree under test, without them (``zones=False``, the default);
- ``compute --zones municipality`` on the grid extract and on the same extract with the two cell
  columns dropped (the municipality-level results of both must be equal, cell for cell);
- ``compute --zones grid1km`` (pair times from a pair cache warmed once before the timed runs).

``--src`` picks the source tree (e.g. an unpacked ``git archive main src`` for the "before" column);
``--label`` names the column in the JSON it writes. The extract: ``pendling synth --zones grid1km``.

    .venv/bin/python benchmarks/zone_codes.py --extract /tmp/grid300k --src src --label after \
        --json benchmarks/results/2026-12-05-zone-codes.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def timed(code_or_args: list[str], env: dict, *, python: bool = False) -> dict:
    cmd = [PY, "-c", code_or_args[0]] if python else [PY, "-m", "pendling", *code_or_args]
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", *cmd], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(f"{cmd} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")

    def grab(label: str) -> float:
        m = re.search(rf"{label}: ([\d.]+)", p.stderr)
        return float(m.group(1)) if m else float("nan")

    return {"wall_s": round(wall, 1),
            "cpu_s": round(grab("User time \\(seconds\\)") + grab("System time \\(seconds\\)"), 1),
            "peak_rss_gib": round(grab("Maximum resident set size \\(kbytes\\)") / 2**20, 2),
            "load_after": round(os.getloadavg()[0], 1), "stdout_tail": p.stdout.strip().splitlines()[-1:]}


def no_cells(extract: Path, out: Path) -> Path:
    """The extract without its cell columns (the municipality-level twin)."""
    import polars as pl

    out.mkdir(parents=True, exist_ok=True)
    for f in sorted(extract.glob("ras*.parquet")):
        target = out / f.name
        if not target.exists():
            pl.read_parquet(f).drop("BOP_DDKN", "ARB_DDKN").write_parquet(target)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--extract", type=Path, required=True)
    ap.add_argument("--src", type=Path, default=ROOT / "src")
    ap.add_argument("--label", required=True)
    ap.add_argument("--work", type=Path, default=Path("/tmp/pendling-zone-codes"))
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--skip-grid", action="store_true", help="leave out compute --zones grid1km (cold pair routing)")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PENDLING_CACHE_DIR": str(a.work / "cache"), "PYTHONPATH": str(a.src.resolve()),
           "PENDLING_DATA_DIR": str(ROOT / "data")}
    plain = no_cells(a.extract, a.work / "no_cells")
    ext = str(a.extract)
    has_zones_arg = "zones: bool | str" in (a.src / "pendling/panel/load.py").read_text(encoding="utf-8")
    out: dict = {"label": a.label, "src": str(a.src), "extract": ext, "load_before": os.getloadavg()[0]}
    load = ("import pendling.panel as P; p = P.load_panel({src!r}, cache=False{kw}); "
            "print(p.frame.height, p.frame.estimated_size() / 2**20, sorted(p.frame.schema.items()))")
    if has_zones_arg:
        out["load_panel_cells"] = timed([load.format(src=ext, kw=", zones='grid1km'")], env, python=True)
        out["load_panel_default"] = timed([load.format(src=ext, kw="")], env, python=True)
    else:
        out["load_panel_cells"] = timed([load.format(src=ext, kw="")], env, python=True)
    out["load_panel_no_cell_columns"] = timed([load.format(src=str(plain), kw="")], env, python=True)
    common = ["compute", "--no-cache", "--max-rows", "0"]
    out["compute_municipality"] = timed([*common, "--panel", ext, "--out", str(a.work / f"{a.label}_muni.parquet")], env)
    out["compute_municipality_no_cell_columns"] = timed(
        [*common, "--panel", str(plain), "--out", str(a.work / f"{a.label}_muni_plain.parquet")], env)
    import polars as pl

    muni = pl.read_parquet(a.work / f"{a.label}_muni.parquet")
    plain_r = pl.read_parquet(a.work / f"{a.label}_muni_plain.parquet")
    out["municipality_equals_no_cell_columns"] = muni.equals(plain_r)
    save(a.json, a.label, out)
    if not a.skip_grid:
        # warm the pair cache once (routing is not what is measured here)
        subprocess.run([PY, "-m", "pendling", *common, "--panel", ext, "--zones", "grid1km",
                        "--out", str(a.work / "warmup_all.parquet")], env=env, check=True, capture_output=True)
        out["compute_grid1km"] = timed([*common, "--panel", ext, "--zones", "grid1km",
                                        "--out", str(a.work / f"{a.label}_grid.parquet")], env)
        save(a.json, a.label, out)
    print(json.dumps(out, indent=2))


def save(path: Path, label: str, out: dict) -> None:
    old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    old[label] = out
    path.write_text(json.dumps(old, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

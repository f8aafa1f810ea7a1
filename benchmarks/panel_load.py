"""National-scale timing of ``pendling.load_panel``: ~3 M rows per year in DST column names.

    python benchmarks/panel_load.py [--rows 3000000] [--years 1] [--formats parquet,csv,dta]
                                    [--keys int|text] [--dir /tmp/pendling-panel-bench]

Writes ``ras<year>.<fmt>`` files of random but plausible rows (codes over the 98 municipalities, 0.2 %
411 Christiansø, 0.5 % abroad/unknown homes, 1 % unknown workplaces, 3 % LBNR 0, 6-digit DISCO codes
as text with 1 % blank), then, in a fresh child process per format so peak memory is the loader's
alone, times ``load_panel`` (read + type conversion + validation + attrition) and prints wall time,
rows per second and peak resident set size. Generation time is not included.

``--keys text`` writes the same rows with pseudonymised text keys (PNR 'X0001234567890Z', LBNR
zero-padded to 8 digits, ADRESSE_ID 'A<n>'), which load_panel encodes into Int64 codes (into
``<dir>-text`` unless ``--dir`` is given): compare with ``--keys int`` for the cost of the encoding.

``--engine years`` times :func:`pendling.panel.stream.open_years` (``cache=False``) instead: the
per-year store of ``pendling compute`` (issue 14), validating one year at a time, text keys coded by a
64-bit hash, each year spilled to a temporary folder. CPU seconds are printed too (shared machines).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

DISCO = ["251110", "252100", "214200", "241100", "411010", "431100", "334300", "121100", "711200",
         "832200", "911200", "522300", "532100", "234100", "222100", "999999", "011000", ""]


def generate(directory: Path, rows: int, years: int, formats: list[str], seed: int = 7, keys: str = "int") -> None:
    import numpy as np
    import polars as pl
    import pyreadstat

    from pendling.geo import municipalities

    codes = municipalities()["code"].to_numpy().astype(np.int64)
    directory.mkdir(parents=True, exist_ok=True)
    for k in range(years):
        year = 2015 + k
        if all((directory / f"ras{year}.{fmt}").exists() for fmt in formats):
            continue
        rng = np.random.default_rng([seed, year])  # per year, so skipping existing files changes nothing
        u = rng.random(rows)
        home = rng.choice(codes, rows)
        home = np.where(u < 0.002, 411, home)
        home = np.where((u >= 0.002) & (u < 0.007), rng.choice([0, 950, 995, 999], rows), home)
        work = np.where(rng.random(rows) < 0.6, home, rng.choice(codes, rows))
        work = np.where(rng.random(rows) < 0.01, 999, work)
        lbnr = np.where(rng.random(rows) < 0.03, 0, rng.integers(1, 400_000, rows))
        df = pl.DataFrame(
            {
                "PNR": rng.permutation(rows).astype(np.int64) + 1_000_000_000,
                "KOM": home,
                "ADRESSE_ID": rng.integers(1, 2**40, rows),
                "LBNR": lbnr,
                "ARBKOM": work,
                "DISCO08_ALLE_INDK_13": np.array(DISCO)[rng.integers(0, len(DISCO), rows)],
            }
        )
        if keys == "text":
            df = df.with_columns(
                pl.format("X{}Z", pl.col("PNR").cast(pl.String).str.zfill(13)).alias("PNR"),
                pl.col("LBNR").cast(pl.String).str.zfill(8).alias("LBNR"),
                pl.format("A{}", pl.col("ADRESSE_ID")).alias("ADRESSE_ID"),
            )
        for fmt in formats:
            path = directory / f"ras{year}.{fmt}"
            if path.exists():
                continue
            if fmt == "parquet":
                df.write_parquet(path)
            elif fmt == "csv":
                df.write_csv(path)
            elif fmt == "dta":
                pyreadstat.write_dta(df.to_pandas(), path)
            else:
                raise SystemExit(f"unknown format {fmt}")


def measure(directory: Path, fmt: str, engine: str = "load") -> dict:
    from pendling.panel import load_panel
    from pendling.panel.stream import open_years

    t0, c0 = time.perf_counter(), time.process_time()
    if engine == "years":
        panel = open_years(str(directory / f"ras*.{fmt}"), cache=False)
        kept = sum(p.kept for p in panel.parts.values())
    else:
        panel = load_panel(str(directory / f"ras*.{fmt}"))
        kept = panel.frame.height
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    if engine == "years":
        panel.close()
    return {
        "format": fmt,
        "engine": engine,
        "cpu_seconds": round(cpu, 2),
        "rows_read": panel.n_input,
        "rows_kept": kept,
        "keys": panel.provenance.get("keys"),
        "seconds": round(seconds, 2),
        "rows_per_second": round(panel.n_input / seconds),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=3_000_000)
    ap.add_argument("--years", type=int, default=1)
    ap.add_argument("--formats", default="parquet,csv,dta")
    ap.add_argument("--keys", choices=("int", "text"), default="int")
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--engine", choices=("load", "years"), default="load")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.dir is None:
        args.dir = Path("/tmp/pendling-panel-bench" + ("-text" if args.keys == "text" else ""))
    if args.measure:
        print(json.dumps(measure(args.dir, args.measure, args.engine)))
        return
    formats = args.formats.split(",")
    t0 = time.perf_counter()
    generate(args.dir, args.rows, args.years, formats, keys=args.keys)
    print(f"generated {args.years} × {args.rows:,} rows in {time.perf_counter() - t0:.1f} s ({args.dir})")
    for fmt in formats:
        out = subprocess.run(
            [sys.executable, __file__, "--dir", str(args.dir), "--engine", args.engine, "--measure", fmt],
            check=True, capture_output=True, text=True,
        )
        print(out.stdout.strip())


if __name__ == "__main__":
    main()

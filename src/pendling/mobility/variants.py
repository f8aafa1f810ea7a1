"""Method variants: the within-municipality time of the matrix, and the named method presets.

The travel-time matrix's diagonal (the commute of a person who lives and works in one municipality)
is a choice the report never states. Three readings, each the matrix in use with only its diagonal
replaced, so the variants differ in nothing else:

* ``area`` — the shipped one: km = 128/(45π)·√(A/π)·detour, minutes at the car profile's internal speed
  (:func:`pendling.routing.internal_time`, A = municipality area, km²).
* ``network`` — mean car time between sampled road nodes inside the municipality plus the access legs
  (``pendling matrix build --internal network``); computed once on the stored road graph (about a
  minute) and cached.
* ``zero`` — 0 minutes, 0 km: what a web map gives from a municipality's midpoint to itself, and so what
  the report most likely had. Persons whose earlier time is 0 have no relative change and are counted
  in the attrition bucket ``<flow>_zero_time_before``.

Variant matrices are written once to the user cache (``paths.cache_dir()/matrices``), named by the
variant and a hash of the matrix they derive from, and read back from there on later runs.

Presets (``METHODS``): ``default`` runs whatever the call says (shipped 'area' matrix, address movers,
all estimators); ``report`` is the closest reading of the report's Faktaboks 3.1 — see
``docs/method_report.md`` for the line-by-line comparison.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from pendling.errors import InputError

INTERNAL_CHOICES: tuple[str, ...] = ("area", "network", "zero")
METHODS: dict[str, str] = {
    "default": "pendling's defaults: the matrix as given (shipped: within-municipality time from the area), "
               "address movers, mean of the individual relative changes",
    "report": "closest reading of the report's Faktaboks 3.1: car times between municipality points with a "
              "zero diagonal (persons with an earlier time of 0 counted as zero_time_before, never averaged), "
              "movers = any change of address with the same LBNR, mean of the individual relative changes "
              "T_t/T_(t-1) - 1 (docs/method_report.md)",
}
REPORT_PRESET = {"internal": "zero", "mover_definition": "address", "estimator": "mean_rel_change"}


def _base(matrix: Any) -> pl.DataFrame:
    from pendling.odmatrix import load_matrix

    if matrix is None or isinstance(matrix, (str, Path)):
        return load_matrix(matrix, zero_diagonal=True)
    return matrix


def matrix_key(matrix: pl.DataFrame) -> str:
    """12 hex digits identifying a matrix's (origin, destination, minutes, km) values."""
    cols = [c for c in ("origin", "destination", "minutes", "km") if c in matrix.columns]
    m = matrix.select(cols).sort("origin", "destination")
    h = hashlib.sha256()
    for c in cols:
        h.update(c.encode())
        h.update(np.ascontiguousarray(m[c].cast(pl.Float64).fill_null(float("nan")).to_numpy()).tobytes())
    return h.hexdigest()[:12]


def _network_diagonal(refresh: bool = False) -> pl.DataFrame:
    """code, minutes, km of ``--internal network`` on the stored road graph (cached; ~1 min the first time)."""
    from pendling import paths, routing
    from pendling.io import sha256_file, write_parquet

    graph_dir = paths.roads_dir()
    profile = routing.load_profile()
    key = hashlib.sha256((sha256_file(graph_dir / "graph.json") + profile.sha256).encode()).hexdigest()[:12]
    path = paths.cache_dir() / "matrices" / f"network_diagonal_{key}.parquet"
    if path.is_file() and not refresh:
        return pl.read_parquet(path)
    graph = routing.load_graph(graph_dir)
    full = routing.travel_time_matrix(graph, routing.municipality_points("inside"), internal="network",
                                      profile=profile)
    diag = full.filter(pl.col("origin") == pl.col("destination")).select(
        pl.col("origin").cast(pl.Int16).alias("code"), "minutes", "km")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_parquet(diag, path)
    return diag


def diagonal(internal: str) -> pl.DataFrame:
    """The within-municipality time of one variant: ``code`` Int16, ``minutes``, ``km`` (98 rows)."""
    if internal not in INTERNAL_CHOICES:
        raise InputError("unknown within-municipality time", column="internal", values=[internal],
                         hint=f"use one of {', '.join(INTERNAL_CHOICES)}")
    from pendling import geo

    codes = geo.municipalities().select("code", "area_km2")
    if internal == "zero":
        return codes.select("code", pl.lit(0.0).alias("minutes"), pl.lit(0.0).alias("km"))
    if internal == "area":
        from pendling import routing

        minutes, km = routing.internal_time(codes["area_km2"].to_numpy(), routing.load_profile())
        return codes.select("code").with_columns(pl.Series("minutes", minutes), pl.Series("km", km))
    return _network_diagonal()


def with_diagonal(matrix: pl.DataFrame, internal: str) -> pl.DataFrame:
    """``matrix`` with its diagonal replaced by the ``internal`` variant (off-diagonal cells unchanged)."""
    d = diagonal(internal)
    cols = [c for c in ("origin", "destination", "minutes", "km") if c in matrix.columns]
    joined = matrix.select(cols).join(d.rename({"minutes": "_dm", "km": "_dk"}), left_on="origin", right_on="code",
                                      how="left")
    on_diag = (pl.col("origin") == pl.col("destination")) & pl.col("_dm").is_not_null()
    out = joined.with_columns(pl.when(on_diag).then(pl.col("_dm")).otherwise(pl.col("minutes")).alias("minutes"))
    if "km" in cols:
        out = out.with_columns(pl.when(on_diag).then(pl.col("_dk")).otherwise(pl.col("km")).alias("km"))
    return out.select(cols).sort("origin", "destination")


def variant_matrix_path(internal: str, matrix: Any = None, *, refresh: bool = False) -> Path:
    """The cached file of ``matrix`` (None = shipped) with the ``internal`` diagonal; built on first use."""
    from pendling import paths
    from pendling.io import write_parquet

    base = _base(matrix)
    path = paths.cache_dir() / "matrices" / f"od_matrix_{internal}_{matrix_key(base)}.parquet"
    if refresh or not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_parquet(with_diagonal(base, internal), path)
    return path


def variant_matrix(internal: str, matrix: Any = None, *, refresh: bool = False) -> pl.DataFrame:
    """``matrix`` (None = shipped, a path or a frame) with the ``internal`` diagonal, read from the cache."""
    return pl.read_parquet(variant_matrix_path(internal, matrix, refresh=refresh))


def check_method(method: str) -> str:
    if method not in METHODS:
        raise InputError("unknown method preset", column="method", values=[method],
                         hint=f"use one of {', '.join(METHODS)}")
    return method

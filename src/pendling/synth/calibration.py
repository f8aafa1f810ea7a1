"""Calibration of the synthetic labour market: DST marginals + a gravity model on the travel-time matrix.

The shipped tables in ``data/reference/synth/`` (made by ``scripts/derive_calibration.py`` from DST
figures, see PROVENANCE.md there) give, per municipality, employed persons by residence (AFSTB3) and
by workplace (AFSTA3) and the mean commute distance by residence (AFSTB4, km), all for 2022.

:func:`fit_gravity` turns them into the joint home × workplace distribution the generator samples::

    P[h, w] = A[h] · B[w] · exp(-beta[h] · minutes[h, w] + delta · [h == w])

* ``A``/``B`` balance the model to both marginals (doubly constrained, iterative proportional fitting);
* ``beta[h]`` (per minute, one per home municipality) is tuned so the mean matrix km of the home's
  commutes matches AFSTB4, inside :data:`BETA_BOUNDS` so every municipality keeps a real distance decay;
* ``delta`` (one number) is tuned so that a share :data:`CROSS_BORDER_SHARE` of employed works outside
  the home municipality (DST: 41 % in November 2013).

The matrix km is centroid-to-centroid with a within-municipality diagonal, so AFSTB4 cannot be met
exactly everywhere (large rural municipalities have a long diagonal; København's residents commute
further than its short neighbour distances suggest): the fit reports how close it gets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from pendling import paths
from pendling.errors import DataMissingError, InputError

CROSS_BORDER_SHARE = 0.41
BETA_BOUNDS = (0.02, 0.30)  # per minute: half-life between ~35 and ~2.3 minutes
MAX_ITER = 3000
TOLERANCE = 1e-9


def synth_reference_dir() -> Path:
    """``data/reference/synth``: the committed calibration tables."""
    return paths.reference_dir() / "synth"


def reference_table(name: str, **kwargs: object) -> pl.DataFrame:
    """Read one of the committed tables in ``data/reference/synth`` (CSV)."""
    path = synth_reference_dir() / name
    if not path.is_file():
        raise DataMissingError(
            f"calibration table missing: {path}. What to do: restore it from the repository "
            "(developers: python scripts/derive_calibration.py)"
        )
    return pl.read_csv(path, **kwargs)  # type: ignore[arg-type]


def municipality_targets() -> pl.DataFrame:
    """Per municipality (98 rows, sorted by ``code`` Int16): ``population_2022q1`` (persons, FOLK1A),
    ``employed_residence_2022`` / ``employed_workplace_2022`` (persons, AFSTB3 / AFSTA3),
    ``afstb4_km_2022`` (mean commute by residence, km) and residence distance-band counts (persons)."""
    return reference_table("municipality_targets.csv", schema_overrides={"code": pl.Int16}).sort("code")


def afstb4_commute_km() -> pl.DataFrame:
    """AFSTB4 mean commute distance by residence municipality: ``code`` Int16, ``year`` Int16, ``km``."""
    return reference_table("afstb4_commute_km.csv", schema_overrides={"code": pl.Int16, "year": pl.Int16})


def afstb4_national_km() -> pl.DataFrame:
    """DST's national mean commute distance (km) by ``year``, from ``data/reference/afstb4_national_km.csv``."""
    path = paths.reference_dir() / "afstb4_national_km.csv"
    if not path.is_file():
        raise DataMissingError(f"reference table missing: {path}")
    return pl.read_csv(path, schema_overrides={"year": pl.Int16})


def realism_targets() -> pl.DataFrame:
    """The bands the realism report checks: ``metric``, ``target``, ``low``, ``high``, ``unit``, ``source``."""
    return reference_table("realism_targets.csv")


def matrix_arrays(matrix: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A validated long matrix → (codes Int16 [n], minutes [n, n], km [n, n]) in code order."""
    m = matrix.sort("origin", "destination")
    codes = np.sort(m["origin"].unique().to_numpy()).astype(np.int16)
    n = codes.size
    if m.height != n * n:
        raise InputError(
            f"the travel-time matrix has {m.height} rows for {n} municipalities; expected {n * n}",
            column="origin, destination",
            hint="pass a validated matrix (pendling.odmatrix.load_matrix)",
        )
    minutes = m["minutes"].to_numpy().astype(np.float64).reshape(n, n)
    km = m["km"].to_numpy().astype(np.float64).reshape(n, n)
    return codes, minutes, km


def matrix_hash(matrix: pl.DataFrame) -> str:
    """SHA-256 of the matrix content (codes, minutes, km), independent of the file it came from."""
    codes, minutes, km = matrix_arrays(matrix)
    h = hashlib.sha256()
    for arr in (codes.astype("<i2"), minutes.astype("<f8"), km.astype("<f8")):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class Gravity:
    """The fitted home × workplace model over ``codes`` (all arrays in code order).

    ``joint[h, w]`` sums to 1 (share of employed living in h and working in w); ``minutes``/``km`` are
    the matrix (minutes, km); ``beta`` per minute; ``delta`` dimensionless; ``A``/``B`` balancing factors.
    """

    codes: np.ndarray
    minutes: np.ndarray
    km: np.ndarray
    residence: np.ndarray  # target share of employed by residence (AFSTB3)
    workplace: np.ndarray  # target share of employed by workplace (AFSTA3)
    target_km: np.ndarray  # AFSTB4 2022 by residence, km
    beta: np.ndarray
    delta: float
    A: np.ndarray
    B: np.ndarray
    joint: np.ndarray
    iterations: int
    matrix_sha256: str
    diagnostics: dict[str, float] = field(default_factory=dict)
    # Grid extracts (pendling.synth.gridfit): the minutes/km the choices were fitted on and use, when they
    # differ from ``minutes``/``km`` (which stay the engine's times, for the truth). None: the same.
    choice_minutes: np.ndarray | None = None
    choice_km: np.ndarray | None = None
    choice_sha256: str | None = None

    def index_of(self, codes: np.ndarray) -> np.ndarray:
        """Positions of municipality ``codes`` in :attr:`codes` (InputError for unknown codes)."""
        idx = np.searchsorted(self.codes, codes)
        idx = np.clip(idx, 0, self.codes.size - 1)
        bad = self.codes[idx] != codes
        if bad.any():
            raise InputError("municipality codes not in the matrix", values=np.unique(codes[bad]).tolist())
        return idx

    def impedance(self, multiplier: float | np.ndarray = 1.0, local: float = 1.0) -> np.ndarray:
        """``exp(-multiplier·beta[h]·minutes[h, w] + local·delta·[h == w])`` (rows: home, columns: workplace;
        ``minutes`` = :attr:`choice_minutes` when set).

        ``multiplier`` < 1 weakens the distance decay (longer commutes), > 1 strengthens it; ``local``
        scales the same-municipality bonus delta (> 1: home and work in one municipality more likely).
        """
        mult = np.asarray(multiplier, dtype=np.float64)
        minutes = self.minutes if self.choice_minutes is None else self.choice_minutes
        return np.exp(-(mult * self.beta)[:, None] * minutes + local * self.delta * np.eye(self.codes.size))

    def home_choice(self, multiplier: float = 1.0, local: float = 1.0) -> np.ndarray:
        """``[w, h]``: probability of home h given workplace w (rows sum to 1), decay scaled by ``multiplier``,
        same-municipality bonus by ``local``."""
        weights = (self.A[:, None] * self.impedance(multiplier, local)).T
        return weights / weights.sum(axis=1, keepdims=True)

    def job_choice(self, multiplier: float = 1.0, local: float = 1.0) -> np.ndarray:
        """``[h, w]``: probability of workplace w given home h (rows sum to 1), decay scaled by ``multiplier``,
        same-municipality bonus by ``local``."""
        weights = self.impedance(multiplier, local) * self.B[None, :]
        return weights / weights.sum(axis=1, keepdims=True)

    def mean_km_by_home(self) -> np.ndarray:
        """Model mean home–work matrix distance per home municipality (km)."""
        return (self.joint * self.km).sum(axis=1) / self.joint.sum(axis=1)


def _ipf(F: np.ndarray, rows: np.ndarray, cols: np.ndarray, B: np.ndarray, sweeps: int = 25
         ) -> tuple[np.ndarray, np.ndarray]:
    # Row sums by explicit reductions, not BLAS matmul: identical bits on every run and thread count.
    A = rows
    for _ in range(sweeps):
        A = rows / (F * B[None, :]).sum(axis=1)
        B = cols / (F * A[:, None]).sum(axis=0)
    return A, B


def fit_gravity(
    matrix: pl.DataFrame,
    targets: pl.DataFrame | None = None,
    *,
    cross_border_share: float = CROSS_BORDER_SHARE,
    beta_bounds: tuple[float, float] = BETA_BOUNDS,
) -> Gravity:
    """Fit the doubly constrained gravity model to DST's marginals, AFSTB4 km and the cross-border share.

    ``matrix``: validated long travel-time matrix (minutes, km). ``targets``: as
    :func:`municipality_targets` (default: the shipped table). Deterministic (no BLAS reductions).
    """
    codes, minutes, km = matrix_arrays(matrix)
    t = (targets if targets is not None else municipality_targets()).sort("code")
    tcodes = t["code"].to_numpy().astype(np.int16)
    if not np.array_equal(tcodes, codes):
        missing = sorted(set(tcodes.tolist()) ^ set(codes.tolist()))
        raise InputError(
            "the travel-time matrix and the calibration table cover different municipalities",
            column="origin",
            values=missing,
            hint="synthetic extracts need a matrix over all 98 municipalities",
        )
    rows = t["employed_residence_2022"].to_numpy().astype(np.float64)
    cols = t["employed_workplace_2022"].to_numpy().astype(np.float64)
    rows, cols = rows / rows.sum(), cols / cols.sum()
    target_km = t["afstb4_km_2022"].to_numpy().astype(np.float64)
    n = codes.size
    eye = np.eye(n)
    lo, hi = beta_bounds
    beta = np.full(n, np.sqrt(lo * hi))
    delta = 1.0
    target_logit = np.log((1 - cross_border_share) / cross_border_share)
    B = np.ones(n)
    it = 0
    for it in range(1, MAX_ITER + 1):
        F = np.exp(-beta[:, None] * minutes + delta * eye)
        A, B = _ipf(F, rows, cols, B)
        P = A[:, None] * F * B[None, :]
        mean_km = (P * km).sum(axis=1) / P.sum(axis=1)
        diag = float(np.trace(P) / P.sum())
        new_beta = np.clip(beta * np.sqrt(mean_km / target_km), lo, hi)
        new_delta = delta + 0.5 * (target_logit - np.log(diag / (1 - diag)))
        step = max(float(np.abs(new_beta / beta - 1).max()), abs(new_delta - delta))
        beta, delta = new_beta, new_delta
        if step < TOLERANCE:
            break
    F = np.exp(-beta[:, None] * minutes + delta * eye)
    A, B = _ipf(F, rows, cols, B, sweeps=200)
    P = A[:, None] * F * B[None, :]
    P = P / P.sum()
    mean_km = (P * km).sum(axis=1) / P.sum(axis=1)
    diagnostics = {
        "cross_border_share": float(1 - np.trace(P)),
        "national_mean_km": float((P * km).sum()),
        "afstb4_national_mean_km": float((rows * target_km).sum()),
        "municipal_km_correlation": float(np.corrcoef(mean_km, target_km)[0, 1]),
        "municipal_km_rmse": float(np.sqrt((rows * (mean_km - target_km) ** 2).sum())),
        "residence_max_abs_error": float(np.abs(P.sum(axis=1) - rows).max()),
        "workplace_max_abs_error": float(np.abs(P.sum(axis=0) - cols).max()),
        "beta_at_lower_bound": float((beta <= lo).sum()),
        "beta_at_upper_bound": float((beta >= hi).sum()),
    }
    return Gravity(
        codes=codes, minutes=minutes, km=km, residence=rows, workplace=cols, target_km=target_km,
        beta=beta, delta=float(delta), A=A, B=B, joint=P, iterations=it,
        matrix_sha256=matrix_hash(matrix), diagnostics=diagnostics,
    )


_FIT_CACHE: dict[tuple[str, float, tuple[float, float]], Gravity] = {}


def fitted_gravity(matrix: pl.DataFrame) -> Gravity:
    """:func:`fit_gravity` with the shipped targets and defaults, remembered per matrix content in
    this process (a fit takes about a second; the demo and tests ask for the same one repeatedly)."""
    key = (matrix_hash(matrix), CROSS_BORDER_SHARE, BETA_BOUNDS)
    if key not in _FIT_CACHE:
        if len(_FIT_CACHE) >= 4:
            _FIT_CACHE.pop(next(iter(_FIT_CACHE)))
        _FIT_CACHE[key] = fit_gravity(matrix)
    return _FIT_CACHE[key]


def gravity_table(g: Gravity) -> pl.DataFrame:
    """The fit per home municipality, for reports: code, beta (per minute), model vs AFSTB4 km."""
    return pl.DataFrame(
        {
            "code": g.codes,
            "beta_per_minute": g.beta,
            "model_mean_km": g.mean_km_by_home(),
            "afstb4_km_2022": g.target_km,
            "within_municipality_share": np.diag(g.joint) / g.joint.sum(axis=1),
        },
        schema_overrides={"code": pl.Int16},
    )

"""Statistical disclosure control for exported tables (DST microdata rules), as pure functions.

Rules applied by :func:`apply_disclosure` to a result table (one row per cell, keys
``year, flow, job_group, region``):

1. **Minimum N** (primary suppression). A cell with 0 < n < ``min_n`` is suppressed: ``n`` and every
   statistic become null, ``suppressed`` is true, ``suppression`` = 'primary'. ``min_n`` defaults to 5
   and may not be below 3 (DST: "no tables with fewer than three observations per cell").
   Cells with n = 0 are published as empty (n = 0, statistics null).
2. **Complementary suppression.** Published cells are linked by additive relations: ``all`` =
   hovedstaden + rest; ``all`` = the five regions; ``rest`` = the four regions outside Hovedstaden;
   ``all`` = the five kommunegrupper; job group ``all`` = the sum of the job groups. Sums of
   n, ΣT and Σr follow the same relations, so a lone suppressed cell in a relation could be recovered
   by subtraction (n_rest = n_all - n_hovedstaden, and so the means). Wherever a relation (within the
   same year and flow) holds exactly one suppressed cell, the smallest published non-empty member is
   suppressed too ('complementary'), children before the total. This repeats until stable; then an
   exact linear-algebra audit (:func:`recoverable_cells`) checks that no suppressed cell is a linear
   combination of published ones, and suppresses more if it is. A relation whose total row is absent
   from the table is not enforced (nothing to subtract from).
3. **Within-cell rules** for published cells: ``median_rel_change`` only where n ≥ ``median_min_n``
   (default 50; a median is one person's value or the mean of two, DST allows it only without risk of
   identification); ``share_longer``/``share_shorter`` only where both the counted group and its
   complement have at least ``min_n`` persons (else a share of 1/40 reveals that one person's commute
   got longer).
4. No minimum or maximum is ever computed or exported.

:func:`apply_count_disclosure` does rules 1–2 for count tables such as attrition, where every group
(e.g. stage × year) is treated as a relation with a known total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.linalg import null_space

from pendling.errors import InputError
from pendling.mobility.stats import ALL, KOMMUNEGRUPPE_NAMES, NUISANCE_GROUPS, REGION_HOVEDSTADEN, REGION_NAMES

DEFAULT_MIN_N = 5
ABSOLUTE_MIN_N = 3
MEDIAN_MIN_N = 50
KEYS: tuple[str, ...] = ("year", "flow", "job_group", "region")
HEADLINE_REGIONS: tuple[str, ...] = ("hovedstaden", "rest", ALL)
"""Regions of the report's figures; the five regions and kommunegrupper are finer breakdowns."""
FLAG_COLUMNS = ("suppressed", "suppression")


@dataclass(frozen=True)
class Relation:
    """``total`` = Σ ``parts`` along column ``dim``, for every combination of the other key columns."""

    dim: str
    total: str
    parts: tuple[str, ...]


def default_relations(df: pl.DataFrame) -> list[Relation]:
    """The additive relations between the region and job-group labels present in ``df``."""
    regions = [name for _, name in sorted(REGION_NAMES.items())]
    outside = [REGION_NAMES[c] for c in sorted(REGION_NAMES) if c != REGION_HOVEDSTADEN]
    groups = [KOMMUNEGRUPPE_NAMES[k] for k in sorted(KOMMUNEGRUPPE_NAMES)]
    present = set(df["region"].cast(pl.Utf8).to_list()) if "region" in df.columns else set()
    rels = [Relation("region", ALL, ("hovedstaden", "rest"))]
    if set(outside) & present:
        rels += [Relation("region", ALL, tuple(regions)), Relation("region", "rest", tuple(outside))]
    if set(groups) & present:
        rels.append(Relation("region", ALL, tuple(groups)))
    if "job_group" in df.columns:
        # nuisance groups (unclassified) are outside the job-group total: see stats.NUISANCE_GROUPS
        parts = sorted(set(df["job_group"].cast(pl.Utf8).to_list()) - {ALL, *NUISANCE_GROUPS})
        if parts:
            rels.append(Relation("job_group", ALL, tuple(parts)))
    return [r for r in rels if r.dim in df.columns]


def check_min_n(min_n: int) -> int:
    """``min_n`` as an int ≥ 3, else InputError."""
    if isinstance(min_n, bool) or int(min_n) != min_n or min_n < ABSOLUTE_MIN_N:
        raise InputError(
            f"minimum cell size must be an integer of at least {ABSOLUTE_MIN_N}",
            column="min_n",
            values=[min_n],
            hint=f"DST requires at least {ABSOLUTE_MIN_N} observations per cell; the default is {DEFAULT_MIN_N}",
        )
    return int(min_n)


def _complement_pass(df: pl.DataFrame, rel: Relation, keys: Sequence[str]) -> list[int]:
    """Row ids to suppress so that no instance of ``rel`` has exactly one suppressed member."""
    others = [k for k in keys if k != rel.dim and k in df.columns] or ["_const"]
    label = pl.col(rel.dim).cast(pl.Utf8)
    members = (
        df.with_columns(pl.lit(0).alias("_const"))
        .filter(label.is_in([rel.total, *rel.parts]))
        .with_columns((label == rel.total).alias("_is_total"))
    )
    if members.is_empty():
        return []
    inst = (
        members.group_by(others)
        .agg(pl.col("_supp").sum().alias("_k"), pl.col("_is_total").any().alias("_has_total"))
        .filter((pl.col("_k") == 1) & pl.col("_has_total"))
    )
    if inst.is_empty():
        return []
    candidates = (
        members.join(inst.select(others), on=others, how="semi", nulls_equal=True)
        .filter(~pl.col("_supp") & (pl.col("_n0") > 0))
        .sort([*others, "_loss", "_is_total", "_n0", "_row"], nulls_last=True)
        .group_by(others, maintain_order=True)
        .first()
    )
    return candidates["_row"].to_list()


def loss_rank(df: pl.DataFrame) -> pl.Expr:
    """Information lost by suppressing a cell, coarse rank: 0 a nuisance job group (``unclassified``),
    1 a finer breakdown (the five regions, kommunegrupper), 2 a headline cell (a classified job group
    or ``all`` × hovedstaden/rest/all). Complements are taken from the lowest rank, then smallest n."""
    rank = pl.lit(2, dtype=pl.Int8)
    if "region" in df.columns:
        rank = pl.when(pl.col("region").cast(pl.Utf8).is_in(HEADLINE_REGIONS)).then(rank).otherwise(
            pl.lit(1, dtype=pl.Int8))
    if "job_group" in df.columns:
        rank = pl.when(pl.col("job_group").cast(pl.Utf8).is_in(NUISANCE_GROUPS)).then(
            pl.lit(0, dtype=pl.Int8)).otherwise(rank)
    return rank.alias("_loss")


def _relation_matrix(block: pl.DataFrame, relations: Sequence[Relation], keys: Sequence[str]) -> np.ndarray:
    """Rows: one per relation instance inside ``block`` (total - Σ parts = 0); columns: block rows."""
    rows: list[np.ndarray] = []
    idx = block.with_row_index("_i")
    for rel in relations:
        others = [k for k in keys if k != rel.dim and k in block.columns]
        members = idx.filter(pl.col(rel.dim).cast(pl.Utf8).is_in([rel.total, *rel.parts])).with_columns(
            pl.when(pl.col(rel.dim).cast(pl.Utf8) == rel.total).then(1.0).otherwise(-1.0).alias("_coef")
        )
        for grp in members.partition_by(others, maintain_order=True) if others else [members]:
            if (grp["_coef"] > 0).sum() != 1:
                continue
            vec = np.zeros(block.height)
            vec[grp["_i"].to_numpy()] = grp["_coef"].to_numpy()
            rows.append(vec)
    return np.array(rows) if rows else np.zeros((0, block.height))


def recoverable_cells(df: pl.DataFrame, relations: Sequence[Relation] | None = None,
                      keys: Sequence[str] = KEYS, block_keys: Sequence[str] = ("year", "flow"),
                      suppressed: pl.Series | None = None) -> pl.DataFrame:
    """Suppressed cells whose value follows exactly from published cells via the relations.

    A suppressed cell j is recoverable iff e_j lies in the row space of the relation matrix restricted
    to the suppressed cells, i.e. iff every null-space vector of that restriction is 0 at j.
    Returns the offending rows of ``df`` (empty when the table is safe).
    """
    relations = default_relations(df) if relations is None else list(relations)
    supp = df["suppressed"] if suppressed is None else suppressed
    work = df.with_columns(supp.alias("_supp")).with_row_index("_row")
    bk = [k for k in block_keys if k in work.columns]
    bad: list[int] = []
    for block in work.partition_by(bk, maintain_order=True) if bk else [work]:
        mask = block["_supp"].to_numpy()
        if not mask.any():
            continue
        a = _relation_matrix(block, relations, keys)
        if a.shape[0] == 0:
            continue
        a_s = a[:, mask]
        basis = null_space(a_s)
        determined = np.all(np.abs(basis) < 1e-9, axis=1) if basis.size else np.ones(a_s.shape[1], bool)
        # a suppressed cell in no relation at all is not determined by anything
        in_relation = np.any(a_s != 0, axis=0)
        hit = determined & in_relation
        bad += block["_row"].to_numpy()[mask][hit].tolist()
    return df.with_row_index("_row").filter(pl.col("_row").is_in(bad)).drop("_row")


def suppression_pattern(df: pl.DataFrame, min_n: int = DEFAULT_MIN_N, *,
                        relations: Sequence[Relation] | None = None, keys: Sequence[str] = KEYS,
                        block_keys: Sequence[str] = ("year", "flow")) -> pl.Series:
    """Per row: null (published), 'primary' or 'complementary'. Pure; ``df`` needs ``n`` and the keys.

    Rows already flagged ``suppressed`` (e.g. a table that went through this before) stay suppressed.
    """
    min_n = check_min_n(min_n)
    relations = default_relations(df) if relations is None else list(relations)
    if "suppressed" in df.columns:
        already = df["suppressed"].fill_null(False)
    else:
        already = pl.repeat(False, df.height, eager=True)
    work = df.with_row_index("_row").with_columns(
        pl.col("n").fill_null(0).alias("_n0"),
        (((pl.col("n") > 0) & (pl.col("n") < min_n)).fill_null(False) | already).alias("_supp"),
        loss_rank(df),
    )
    primary = work["_supp"].clone()
    while True:
        changed = True
        while changed:  # pairwise rule to a fixpoint
            add: set[int] = set()
            for rel in relations:
                add |= set(_complement_pass(work, rel, keys))
            changed = bool(add)
            if changed:
                work = work.with_columns(pl.col("_supp") | pl.col("_row").is_in(sorted(add)))
        leaks = recoverable_cells(work.drop("_row", "_loss"), relations, keys, block_keys, suppressed=work["_supp"])
        if leaks.is_empty():
            break
        # A leak through several relations at once: suppress the smallest published non-empty cell
        # that shares a relation with the leaked one (else any in its block).
        lk = leaks.row(0, named=True)
        block = pl.lit(True)
        for k in block_keys:
            if k in work.columns:
                block = block & (pl.col(k) == lk[k])
        related = pl.lit(False)
        for rel in relations:
            same = pl.col(rel.dim).cast(pl.Utf8).is_in([rel.total, *rel.parts])
            for k in keys:
                if k != rel.dim and k in work.columns:
                    same = same & (pl.col(k) == lk[k])
            related = related | same
        open_cells = work.filter(block & ~pl.col("_supp") & (pl.col("_n0") > 0))
        pick = open_cells.filter(related).sort("_loss", "_n0", "_row")
        if pick.is_empty():
            pick = open_cells.sort("_loss", "_n0", "_row")
        if pick.is_empty():
            raise RuntimeError("disclosure audit found a leak it cannot close")  # pragma: no cover
        work = work.with_columns(pl.col("_supp") | (pl.col("_row") == pick["_row"][0]))
    if "suppression" in df.columns:
        previous = df["suppression"]
    else:
        previous = pl.repeat(None, df.height, dtype=pl.Utf8, eager=True)
    return (
        pl.select(
            pl.when(previous.is_not_null() & already).then(previous)
            .when(primary).then(pl.lit("primary"))
            .when(work["_supp"]).then(pl.lit("complementary"))
            .otherwise(pl.lit(None, dtype=pl.Utf8))
        )
        .to_series()
        .alias("suppression")
    )


def apply_disclosure(df: pl.DataFrame, min_n: int = DEFAULT_MIN_N, *, median_min_n: int = MEDIAN_MIN_N,
                     relations: Sequence[Relation] | None = None, keys: Sequence[str] = KEYS,
                     block_keys: Sequence[str] = ("year", "flow")) -> pl.DataFrame:
    """Apply the module's rules to a result table; returns a new frame, same rows and order.

    Apply it to the complete table before filtering rows: relations are inferred from the labels
    present. Sets ``suppressed`` (bool) and ``suppression`` ('primary' | 'complementary' | null);
    suppressed cells have null ``n`` and null statistics.
    """
    min_n = check_min_n(min_n)
    if median_min_n < min_n:
        raise InputError("the minimum n for medians cannot be below the minimum cell size",
                         column="median_min_n", values=[median_min_n],
                         hint=f"use at least {min_n} (default {MEDIAN_MIN_N})")
    reason = suppression_pattern(df, min_n, relations=relations, keys=keys, block_keys=block_keys)
    supp = reason.is_not_null()
    values = [c for c in df.columns if c not in (*keys, *FLAG_COLUMNS)]
    out = df.with_columns(supp.alias("suppressed"), reason)
    out = out.with_columns(
        pl.when(pl.col("suppressed")).then(None).otherwise(pl.col(c)).alias(c) for c in values
    )
    n = pl.col("n")
    rules: list[pl.Expr] = []
    if "median_rel_change" in out.columns:
        rules.append(pl.when(n >= median_min_n).then(pl.col("median_rel_change")).alias("median_rel_change"))
    for share in ("share_longer", "share_shorter"):
        if share in out.columns:
            k = (pl.col(share) * n).round(0)
            rules.append(pl.when((k >= min_n) & (n - k >= min_n)).then(pl.col(share)).alias(share))
    return out.with_columns(rules) if rules else out


def apply_count_disclosure(df: pl.DataFrame, min_n: int = DEFAULT_MIN_N, *,
                           group_by: Sequence[str] = ("stage", "year"), count: str = "n",
                           force: pl.Expr | None = None, public: pl.Expr | None = None) -> pl.DataFrame:
    """Suppress small counts in a count table (e.g. attrition); each group is one relation with a known total.

    Counts with 0 < n < ``min_n`` (and rows where ``force`` is true) become null with ``suppressed`` =
    true. The counts of a group add up to a total known from elsewhere (e.g. the input rows), so where
    a group holds exactly one suppressed count the smallest other positive count (or, if there is
    none, a zero) is suppressed too. Rows where ``public`` is true hold counts published elsewhere
    (e.g. equal to a results cell): hiding them would hide nothing, so they are never the partner.
    """
    min_n = check_min_n(min_n)
    groups = [g for g in group_by if g in df.columns] or ["_g"]
    small = ((pl.col(count) > 0) & (pl.col(count) < min_n)).fill_null(False)
    if force is not None:
        small = small | force.fill_null(False)
    is_public = public.fill_null(False) if public is not None else pl.lit(False)
    work = df.with_row_index("_row").with_columns(
        small.alias("_supp"), pl.col(count).fill_null(0).alias("_n0"), pl.lit(0).alias("_g"),
        is_public.alias("_public"),
    )
    lone = pl.col("_supp").sum().over(groups) == 1
    # The smallest positive count partners the lone one; if the rest are all zero, a zero does (the
    # total is known, so total - zeros would give the hidden count away).
    partner = (
        work.filter(lone & ~pl.col("_supp") & ~pl.col("_public"))
        .sort(pl.col("_n0") == 0, "_n0", "_row")
        .group_by(groups, maintain_order=True)
        .agg(pl.col("_row").first())
    )["_row"]
    supp = work["_supp"] | work["_row"].is_in(partner.implode())
    return (
        df.with_columns(supp.alias("suppressed"))
        .with_columns(pl.when(pl.col("suppressed")).then(None).otherwise(pl.col(count)).alias(count))
    )


def disclosure_note(min_n: int | None, median_min_n: int = MEDIAN_MIN_N) -> str:
    """One line for method sheets and console output."""
    if min_n is None:
        return "NO disclosure control (--no-disclosure): unsuppressed output, not for export from DST servers"
    return (
        f"disclosure control: cells with 0 < n < {min_n} suppressed (n and values null) plus complementary "
        f"suppression; medians only for n >= {median_min_n}; shares only where both sides have >= {min_n}; "
        "no min/max exported"
    )

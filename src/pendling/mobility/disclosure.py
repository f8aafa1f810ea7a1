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
   same year and flow) holds exactly one suppressed cell, one more published non-empty member is
   suppressed ('complementary'), chosen by least information loss (:func:`loss_rank`): a nuisance
   group's cell (``unclassified``) first, then a finer breakdown (five regions, kommunegrupper), a
   headline cell last; parts before the total; the smallest n. Relations are visited one at a time,
   the narrowest first, each seeing the complements chosen before it. This repeats until stable; then
   an exact linear-algebra audit (:func:`recoverable_cells`) checks that no suppressed cell is a linear
   combination of published ones, and suppresses more if it is. A relation whose total row is absent
   from the table is not enforced (nothing to subtract from). The job-group total ``all`` leaves the
   nuisance groups out (``pendling.mobility.stats.NUISANCE_GROUPS``): otherwise a small unclassified
   cell would always be ``all`` minus the classified groups, and protecting it would cost a headline cell.
3. **Within-cell rules** for published cells: ``median_rel_change`` only where n ≥ ``median_min_n``
   (default 50; a median is one person's value or the mean of two, DST allows it only without risk of
   identification); ``share_longer``/``share_shorter`` only where both the counted group and its
   complement have at least ``min_n`` persons (else a share of 1/40 reveals that one person's commute
   got longer).
4. No minimum or maximum is ever computed or exported.

:func:`apply_count_disclosure` does rules 1–2 for count tables such as attrition, where every group
(e.g. stage × year) is treated as a relation with a known total. :func:`disclose_table` is the one gate
every file writer calls: it recognises results, attrition, rows per year, flags and other count tables
and applies the matching control (or, with ``disclosure=False``, marks the table as unsuppressed).
"""

from __future__ import annotations

import re
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


def _complement_pass(df: pl.DataFrame, rel: Relation, keys: Sequence[str], zeros: bool = False) -> list[int]:
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
        .filter(~pl.col("_supp") & ~pl.col("_public") & ((pl.col("_n0") > 0) | zeros))
        .sort([*others, pl.col("_n0") == 0, "_loss", "_is_total", "_n0", "_row"], nulls_last=True)
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
                        block_keys: Sequence[str] = ("year", "flow"), loss: pl.Expr | None = None,
                        zeros: bool = False, public: pl.Expr | None = None) -> pl.Series:
    """Per row: null (published), 'primary' or 'complementary'. Pure; ``df`` needs ``n`` and the keys.

    Rows already flagged ``suppressed`` (e.g. a table that went through this before) stay suppressed.
    ``loss`` ranks what a complement costs (lower is taken first; default :func:`loss_rank`).
    ``zeros``: an empty cell may be a complement when no non-empty one protects (count tables whose
    totals are known elsewhere: hiding a 0 beside a 1 leaves 0 + 1 and 1 + 0 open). ``public``:
    rows known anyway (e.g. a total published elsewhere): never hidden, never a complement.
    """
    min_n = check_min_n(min_n)
    relations = default_relations(df) if relations is None else list(relations)
    if "suppressed" in df.columns:
        already = df["suppressed"].fill_null(False)
    else:
        already = pl.repeat(False, df.height, eager=True)
    is_public = pl.lit(False) if public is None else public.fill_null(False)
    work = df.with_row_index("_row").with_columns(
        pl.col("n").fill_null(0).alias("_n0"),
        ((((pl.col("n") > 0) & (pl.col("n") < min_n)).fill_null(False) | already) & ~is_public).alias("_supp"),
        (loss_rank(df) if loss is None else loss).cast(pl.Int8).alias("_loss"),
        is_public.alias("_public"),
    )
    primary = work["_supp"].clone()
    while True:
        changed = True
        while changed:  # pairwise rule to a fixpoint
            changed = False
            # one relation at a time, the narrowest first, each seeing the complements chosen
            # before it: a cell hidden for one relation often protects the next one too
            for rel in sorted(relations, key=lambda r: len(r.parts)):
                add = _complement_pass(work, rel, keys, zeros)
                if add:
                    changed = True
                    work = work.with_columns(pl.col("_supp") | pl.col("_row").is_in(add))
        leaks = recoverable_cells(work.drop("_row", "_loss", "_public"), relations, keys, block_keys, suppressed=work["_supp"])
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
        open_cells = work.filter(block & ~pl.col("_supp") & ~pl.col("_public") & ((pl.col("_n0") > 0) | zeros))
        order = [pl.col("_n0") == 0, "_loss", "_n0", "_row"]
        pick = open_cells.filter(related).sort(order)
        if pick.is_empty():
            pick = open_cells.sort(order)
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
    reason = pl.when(~pl.col("suppressed")).then(None).when(
        ((pl.col(count) > 0) & (pl.col(count) < min_n)).fill_null(False)).then(pl.lit("primary")).otherwise(
        pl.lit("complementary"))
    return (
        df.with_columns(supp.alias("suppressed"))
        .with_columns(reason.alias("suppression"))
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


# ---------------------------------------------------------------------------------------------
# Count tables written beside the results (attrition, flags, rows per year) and the one gate every
# file writer calls: disclose_table.

COUNT_COLUMNS: tuple[str, ...] = ("n", "input", "kept", "excluded")
"""Columns that hold person or row counts in the tables pendling writes."""
NO_DISCLOSURE_NOTE = ("NO disclosure control (--no-disclosure): unsuppressed counts, "
                      "not for export from DST servers")
_TOTALS = ("input", "kept", "excluded")


def _panel_pattern(part: pl.DataFrame, min_n: int) -> tuple[pl.Series, pl.DataFrame]:
    """Suppression of stage-'panel' attrition rows and of the per-year totals derived from them.

    Within a year the buckets add up to the input rows, the ``kept*`` buckets to the kept rows and
    the others to the excluded rows; those three totals are published too (rows per year), so they
    are cells of the same relations. Returns (``suppression`` per row of ``part``, a frame ``year``,
    ``input``, ``kept``, ``excluded`` with hidden totals null). ``part`` needs ``year``, ``bucket``,
    ``n`` and ``_force`` (rows hidden whatever their n).
    """
    work = part.select(
        pl.col("year").cast(pl.Utf8).fill_null("none").alias("year"), pl.col("bucket").cast(pl.Utf8),
        pl.col("n").cast(pl.Int64), pl.col("_force").alias("suppressed"), pl.lit(False).alias("_virtual"),
    )
    kept = pl.col("bucket").str.starts_with("kept")
    # the totals as cells of their own, labelled apart from the buckets (one bucket is called 'kept')
    # A year with a count already hidden (a table controlled before) has unknown totals: no total
    # cells, so its relations are not enforced again and its pattern stays as it is.
    totals = work.group_by("year", maintain_order=True).agg(
        pl.col("n").sum().alias("__input"), pl.col("n").filter(kept).sum().alias("__kept"),
        pl.col("n").filter(~kept).sum().alias("__excluded"), pl.col("n").is_null().any().alias("_unknown"),
    )
    virtual = totals.unpivot(index=["year", "_unknown"], on=[f"__{t}" for t in _TOTALS], variable_name="bucket",
                             value_name="n").select(
        "year", pl.col("bucket").cast(pl.Utf8),
        pl.when(pl.col("_unknown")).then(None).otherwise(pl.col("n")).cast(pl.Int64).alias("n"),
        pl.lit(False).alias("suppressed"), pl.lit(True).alias("_virtual"), "_unknown",
    ).filter(~pl.col("_unknown")).drop("_unknown")
    table = pl.concat([work, virtual])
    buckets = work["bucket"].unique(maintain_order=True).to_list()
    relations = [
        Relation("bucket", "__input", tuple(buckets)),
        Relation("bucket", "__kept", tuple(b for b in buckets if b.startswith("kept"))),
        Relation("bucket", "__excluded", tuple(b for b in buckets if not b.startswith("kept"))),
        Relation("bucket", "__input", ("__kept", "__excluded")),
    ]
    # The input rows of a year count as known (an extract's size is no secret), so hiding them would
    # protect nothing: the buckets must protect each other (a 0 too, if nothing else is left). A
    # bucket is the first choice as a complement, then the kept/excluded totals.
    is_input = pl.col("_virtual") & (pl.col("bucket") == "__input")
    loss = pl.when(pl.col("_virtual")).then(3).otherwise(2)
    reason = suppression_pattern(table, min_n, relations=relations, keys=("year", "bucket"), block_keys=("year",),
                                 loss=loss, zeros=True, public=is_input)
    # ... but a small input count is still not written
    small = ((pl.col("n") > 0) & (pl.col("n") < min_n)).fill_null(False)
    shown = table.with_columns(pl.when(reason.is_null() & ~(is_input & small)).then(pl.col("n")).alias("n"))
    hidden_totals = (
        totals.select("year").join(
            shown.filter(pl.col("_virtual")).pivot(on="bucket", index="year", values="n"), on="year", how="left")
        .with_columns(*(pl.lit(None, dtype=pl.Int64).alias(f"__{c}") for c in _TOTALS
                        if not (shown["_virtual"] & (shown["bucket"] == f"__{c}")).any()))
        .select(pl.when(pl.col("year") == "none").then(None).otherwise(pl.col("year")).cast(pl.Int16).alias("year"),
                *(pl.col(f"__{c}").cast(pl.Int64).alias(c) for c in _TOTALS))
    )
    return reason[: work.height], hidden_totals


def protect_attrition(attrition: pl.DataFrame, min_n: int = DEFAULT_MIN_N, *, force: pl.Expr | None = None,
                      public: pl.Expr | None = None) -> pl.DataFrame:
    """An attrition table (``stage``, ``year``, ``bucket``, ``n``) with small counts hidden, same rows.

    Stage 'panel': per year, buckets = input rows, ``kept*`` buckets = kept rows, the rest = excluded
    rows (see :func:`_panel_pattern`; the same pattern whatever command writes the table). Other
    stages (e.g. 'flows'): each year's buckets add up to a known total
    (:func:`apply_count_disclosure` with ``force`` and ``public``). Adds ``suppressed`` (bool) and
    ``suppression`` ('primary' | 'complementary' | null); hidden counts are null.
    """
    min_n = check_min_n(min_n)
    work = attrition.with_row_index("_order").with_columns(
        (force.fill_null(False) if force is not None else pl.lit(False)).alias("_force"),
        (public.fill_null(False) if public is not None else pl.lit(False)).alias("_public"),
        pl.col("n").is_null().alias("_was_null"),
    )
    is_panel = pl.col("stage") == "panel"
    panel = work.filter(is_panel)
    parts = []
    if panel.height:
        reason, _ = _panel_pattern(panel.with_columns(pl.col("_force") | pl.col("_was_null")), min_n)
        if "suppression" in panel.columns:  # a row hidden before keeps the rule that hid it
            reason = pl.select(pl.when(panel["_was_null"] & panel["suppression"].is_not_null())
                               .then(panel["suppression"]).otherwise(reason)).to_series()
        parts.append(panel.with_columns(reason.alias("suppression")))
    other = work.filter(~is_panel)
    if other.height:
        done = apply_count_disclosure(other.drop("suppressed", "suppression", strict=False), min_n,
                                      force=pl.col("_force") | pl.col("_was_null"), public=pl.col("_public"))
        parts.append(done.drop("suppressed"))
    out = pl.concat(parts, how="diagonal_relaxed").sort("_order") if parts else work.with_columns(
        pl.lit(None, dtype=pl.Utf8).alias("suppression"))
    return (
        out.with_columns(pl.col("suppression").is_not_null().alias("suppressed"))
        .with_columns(pl.when(pl.col("suppressed")).then(None).otherwise(pl.col("n")).alias("n"))
        .drop("_order", "_force", "_public", "_was_null")
        .select(*(c for c in attrition.columns if c not in FLAG_COLUMNS), "suppressed", "suppression")
    )


def protect_rows_per_year(attrition: pl.DataFrame, min_n: int = DEFAULT_MIN_N) -> pl.DataFrame:
    """``year``, ``input``, ``kept``, ``excluded`` from a raw attrition table, hidden exactly where
    :func:`protect_attrition` hides them (null), so the two tables never tell more together."""
    min_n = check_min_n(min_n)
    panel = attrition.filter(pl.col("stage") == "panel").with_columns(pl.col("n").is_null().alias("_force"))
    if panel.is_empty():
        return pl.DataFrame(schema={"year": pl.Int16, **dict.fromkeys(_TOTALS, pl.Int64)})
    _, totals = _panel_pattern(panel, min_n)
    return totals.sort("year", nulls_last=True)


def protect_primary(df: pl.DataFrame, min_n: int = DEFAULT_MIN_N, *,
                    counts: Sequence[str] | None = None) -> pl.DataFrame:
    """Hide counts 0 < n < ``min_n`` in a table whose counts add up to nothing (e.g. the panel's
    overlapping flags) or that is a subset of a controlled table (e.g. a figure's data): the whole
    row's values become null, ``suppressed`` (bool) and ``suppression`` ('primary') are set.
    Rows already flagged ``suppressed`` stay so."""
    min_n = check_min_n(min_n)
    counts = [c for c in (counts or COUNT_COLUMNS) if c in df.columns]
    small = pl.any_horizontal(((pl.col(c) > 0) & (pl.col(c) < min_n)).fill_null(False) for c in counts) \
        if counts else pl.lit(False)
    before = pl.col("suppressed").fill_null(False) if "suppressed" in df.columns else pl.lit(False)
    keep = {"year", "flow", "job_group", "region", "stage", "bucket", "flag", "description", "suppressed",
            "suppression"}
    values = [c for c in df.columns if c not in keep]
    previous = pl.col("suppression") if "suppression" in df.columns else pl.lit(None, dtype=pl.Utf8)
    return df.with_columns(
        (small | before).alias("_hide"), small.alias("_small"),
    ).with_columns(
        *(pl.when(pl.col("_hide")).then(None).otherwise(pl.col(c)).alias(c) for c in values),
        pl.col("_hide").alias("suppressed"),
        pl.when(pl.col("_small") & previous.is_null()).then(pl.lit("primary")).otherwise(previous)
        .alias("suppression"),
    ).drop("_hide", "_small")


FLAG_BUCKETS: dict[str, str] = {
    "home_alias": "kept_code_alias", "work_alias": "kept_code_alias", "lbnr0": "kept_lbnr0",
    "lbnr_missing": "kept_lbnr_missing", "disco_unclassified": "kept_disco_unclassified",
}
"""Panel flags that count (nearly) the same rows as an attrition bucket: often equal to it, so a
flag is hidden wherever its bucket is, or it would give the hidden bucket away."""


def protect_flags(flags: pl.DataFrame, attrition: pl.DataFrame, min_n: int = DEFAULT_MIN_N) -> pl.DataFrame:
    """The panel's flags (``year``, ``flag``, ``n``): counts 0 < n < ``min_n`` hidden, and every flag
    whose attrition bucket (:data:`FLAG_BUCKETS`) :func:`protect_attrition` hides in that year.
    Flags overlap and add up to nothing, so no other complement is needed."""
    hidden = protect_attrition(attrition, min_n).filter(pl.col("suppressed") & (pl.col("stage") == "panel"))
    pairs = hidden.select(pl.col("year").cast(pl.Int16), pl.col("bucket").cast(pl.Utf8)).unique()
    bucket = pl.col("flag").cast(pl.Utf8).replace_strict(FLAG_BUCKETS, default=None, return_dtype=pl.Utf8)
    forced = pl.struct(pl.col("year").cast(pl.Int16), bucket.alias("bucket")).is_in(pairs.to_struct().implode())
    out = protect_primary(flags.with_columns(forced.fill_null(False).alias("suppressed")), min_n, counts=["n"])
    return out.with_columns(
        pl.when(pl.col("suppressed") & pl.col("suppression").is_null()).then(pl.lit("complementary"))
        .otherwise(pl.col("suppression")).alias("suppression"))


_COUNT_IN_TEXT = re.compile(
    r"(?<![\w.])(\d[\d,]*)(\s+(?:kept\s+|input\s+|excluded\s+)?(?:rows?|persons?|person-years?|movers?|"
    r"job-changers?|addresses|values|cells?)\b)")


def mask_small_counts(text: str, min_n: int = DEFAULT_MIN_N) -> str:
    """A warning or note with counts 0 < n < ``min_n`` ("3 rows", "1 person-years") written as
    "<min_n rows", for free text that goes into files (e.g. the panel summary's warnings)."""
    def repl(m: re.Match[str]) -> str:
        k = int(m.group(1).replace(",", ""))
        return f"<{min_n}{m.group(2)}" if 0 < k < min_n else m.group(0)

    return _COUNT_IN_TEXT.sub(repl, text)


def disclose_table(df: pl.DataFrame, min_n: int = DEFAULT_MIN_N, *, attrition: pl.DataFrame | None = None,
                   disclosure: bool = True) -> pl.DataFrame:
    """THE gate before any table with counts is written to a file: returns what may be written.

    Recognised by its columns:

    * results (``year, flow, job_group, region, n``): :func:`apply_disclosure` (minimum n,
      complementary suppression by least information loss, within-cell rules);
    * attrition (``stage, bucket, n``): :func:`protect_attrition`;
    * rows per year (``input, kept, excluded``): :func:`protect_rows_per_year` of ``attrition``
      (required, so both tables hide the same totals);
    * panel flags (``flag, n``): :func:`protect_flags` with ``attrition`` (required);
    * any other table with a count column (:data:`COUNT_COLUMNS`; e.g. flags, a figure's data):
      :func:`protect_primary`;
    * a table without counts (e.g. travel times) is returned unchanged.

    ``disclosure=False`` returns ``df`` with a column ``disclosure`` saying, in the file itself,
    that it is unsuppressed (:data:`NO_DISCLOSURE_NOTE`). Idempotent: a table that went through
    this with the same ``min_n`` comes back unchanged.
    """
    cols = set(df.columns)
    if not disclosure:
        return df.with_columns(pl.lit(NO_DISCLOSURE_NOTE).alias("disclosure")) if set(COUNT_COLUMNS) & cols else df
    min_n = check_min_n(min_n)
    if {*KEYS, "n"} <= cols:
        return apply_disclosure(df, min_n)
    if {"stage", "bucket", "n"} <= cols:
        return protect_attrition(df, min_n)
    if set(_TOTALS) <= cols:
        if attrition is None:
            raise InputError("rows per year can only be disclosure-controlled together with their attrition table",
                             hint="pass attrition= (the panel's raw attrition)")
        return protect_rows_per_year(attrition, min_n)
    if {"flag", "n"} <= cols:
        if attrition is None:
            raise InputError("panel flags can only be disclosure-controlled together with their attrition table",
                             hint="pass attrition= (the panel's raw attrition)")
        return protect_flags(df, attrition, min_n)
    if set(COUNT_COLUMNS) & cols:
        return protect_primary(df, min_n)
    return df

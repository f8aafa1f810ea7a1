"""Derive data/reference/report_figures.csv: the values HBS Economics (2022) states in its text, as bands.

Source: HBS Economics, analysis of home working in Denmark (2022), chapter 3, Figures 3.6–3.10 and
Faktaboks 3.1; the values the report *writes* (translated from Danish, numbers unchanged), never values
read off its charts. The quotes are embedded below with their figure so that users, who never have the
developers' notes, can rerun this script; when the developers' copy of the quotes
(``../shared/reference/report-figures.md`` beside the checkout) is present, every quote is checked to
occur in it word for word, so a quote cannot drift from its source.

Each row is one checkable statement: a ``measure`` of a cell (flow × job group × home region at t-1 ×
flow year) and its band [low, high] (blank = unbounded). The verbal qualifiers become numbers by the
fixed rules in ``BANDS`` (documented in data/reference/report_figures.md, written by this script).

Usage: python scripts/derive_report_figures.py [--shared PATH] [--out data/reference]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import polars as pl  # noqa: E402

from pendling.io import write_csv, write_text  # noqa: E402

SOURCE = "HBS Economics (2022), analysis of home working in Denmark, ch. 3"

# How a verbal qualifier becomes a band (fractions for relative changes; km for distances). One rule per
# word, applied the same way everywhere; the width allows for the report rounding to whole percent and
# for its text summarising a chart.
BANDS: dict[str, tuple[str, str]] = {
    "stated": ("x ± 0.01", "a value stated as a whole percent ('11 per cent'): ± 1 percentage point"),
    "about": ("x ± 0.02", "'about', 'from' (≈ x): ± 2 percentage points"),
    "range": ("[x − 0.005, y + 0.005]", "a stated range 'x–y per cent': the range, widened by rounding (0.5 pp)"),
    "just_under": ("[x − 0.05, x]", "'just under x': at most x, at most 5 percentage points below"),
    "over": ("[x, x + 0.07]", "'over x': at least x, at most 7 percentage points above"),
    "flat": ("|Δ| ≤ 0.025", "'flat', 'not developed noticeably', 'no significant development': the change "
                            "2019 → 2021 within ± 2.5 percentage points"),
    "more_than_doubled": ("v2021 / v2019 ≥ 2", "'more than doubled': the 2021 value at least twice the 2019 one"),
    "highest": ("lead ≥ 0", "'the highest of the three groups': minus the larger of the other two groups ≥ 0"),
    "well_below": ("rise ≤ 0.5 × Hovedstaden's rise", "'not nearly as much': the rise 2019 → 2021 at most "
                                                      "half of Hovedstaden's rise for the same job group"),
    "together": ("|v − v_all| ≤ 0.03", "'follow roughly the same development': each group within 3 "
                                       "percentage points of all job-changers, in each year"),
    "little_over_km": ("(x, x + 1]", "'a little over x km': above x, at most 1 km above"),
}

# (figure, flow, job_group, region, year, measure, low, high, band, quote)
# measures: level = mean relative change (fraction) of the cell in that flow year; change_from_2019 =
# level(year) - level(2019); ratio_to_2019 = level(year) / level(2019); lead_over_other_groups =
# level - max(level of the two other job groups); rise_share_of_hovedstaden = change_from_2019 of the
# region / change_from_2019 of Hovedstaden, same job group; deviation_from_all = level - level of job
# group 'all'; mean_km = mean home-work road km of all employed (figure 3.6).
Q36 = '"a little over 20 km in 2014, now a little over 22 km"'
Q37_PS = '2021: "11 per cent"; "has not developed noticeably over time"'
Q37_PS_HIGH = "until 2020 the highest of the three groups"
Q37_DO = '"more than doubled from about 6 per cent to 14–16 per cent from 2019 to 2021"'
Q38_D = '"almost doubles from 20 per cent to just under 40 per cent" (2019 → 2021)'
Q38_O = '"grows from just under 20 per cent to over 30 per cent" (2019 → 2021)'
Q38_PS = '"no significant development", "relatively constant"'
Q39 = 'digital and office grow 2019 → 2021 "but not nearly as much" as in Hovedstaden'
Q310 = '"follow roughly the same development"; no sign that those who can work from home take jobs further away'

ROWS: list[tuple] = [
    ("3.6", "all_employed", "all", "all", 2014, "mean_km", 20.0, 21.0, "little_over_km", Q36),
    ("3.6", "all_employed", "all", "all", 2021, "mean_km", 22.0, 23.0, "little_over_km", Q36),
    ("3.7", "movers", "physical_social", "all", 2021, "level", 0.10, 0.12, "stated", Q37_PS),
    ("3.7", "movers", "physical_social", "all", 2021, "change_from_2019", -0.025, 0.025, "flat", Q37_PS),
    ("3.7", "movers", "physical_social", "all", 2019, "lead_over_other_groups", 0.0, None, "highest", Q37_PS_HIGH),
    ("3.7", "movers", "digital", "all", 2019, "level", 0.04, 0.08, "about", Q37_DO),
    ("3.7", "movers", "office", "all", 2019, "level", 0.04, 0.08, "about", Q37_DO),
    ("3.7", "movers", "digital", "all", 2021, "level", 0.135, 0.165, "range", Q37_DO),
    ("3.7", "movers", "office", "all", 2021, "level", 0.135, 0.165, "range", Q37_DO),
    ("3.7", "movers", "digital", "all", 2021, "ratio_to_2019", 2.0, None, "more_than_doubled", Q37_DO),
    ("3.7", "movers", "office", "all", 2021, "ratio_to_2019", 2.0, None, "more_than_doubled", Q37_DO),
    ("3.8", "movers", "digital", "hovedstaden", 2019, "level", 0.18, 0.22, "about", Q38_D),
    ("3.8", "movers", "digital", "hovedstaden", 2021, "level", 0.35, 0.40, "just_under", Q38_D),
    ("3.8", "movers", "office", "hovedstaden", 2019, "level", 0.15, 0.20, "just_under", Q38_O),
    ("3.8", "movers", "office", "hovedstaden", 2021, "level", 0.30, 0.37, "over", Q38_O),
    ("3.8", "movers", "physical_social", "hovedstaden", 2021, "change_from_2019", -0.025, 0.025, "flat", Q38_PS),
    ("3.9", "movers", "digital", "rest", 2021, "rise_share_of_hovedstaden", None, 0.5, "well_below", Q39),
    ("3.9", "movers", "office", "rest", 2021, "rise_share_of_hovedstaden", None, 0.5, "well_below", Q39),
    *(("3.10", "job_changers", g, "all", y, "deviation_from_all", -0.03, 0.03, "together", Q310)
      for y in (2019, 2021) for g in ("digital", "office", "physical_social")),
    *(("3.10", "job_changers", g, "all", 2021, "change_from_2019", -0.025, 0.025, "flat", Q310)
      for g in ("digital", "office")),
]

COLUMNS = {"figure": pl.Utf8, "flow": pl.Utf8, "job_group": pl.Utf8, "region": pl.Utf8, "year": pl.Int16,
           "measure": pl.Utf8, "low": pl.Float64, "high": pl.Float64, "band": pl.Utf8, "quote": pl.Utf8,
           "source": pl.Utf8}


def table() -> pl.DataFrame:
    rows = [(*r, f"{SOURCE}, Figure {r[0]}") for r in ROWS]
    return pl.DataFrame(rows, schema=COLUMNS, orient="row")


def check_quotes(df: pl.DataFrame, shared: Path) -> int:
    """Every quote (split at ';' into its quoted parts) must occur in the developers' copy; returns checks."""
    text = shared.read_text(encoding="utf-8")
    checked = 0
    for quote in df["quote"].unique().to_list():
        for part in quote.split('"')[1::2] or [quote]:  # the text between quotation marks, else all of it
            if part not in text:
                raise SystemExit(f"quote not found in {shared}: {part!r}")
            checked += 1
    return checked


def note(df: pl.DataFrame) -> str:
    lines = [
        "# report_figures.csv — the report's stated values as bands",
        "",
        f"Source: {SOURCE}, Figures 3.6–3.10 and Faktaboks 3.1. Only values the report **writes** in its text",
        "are used (translated from Danish, numbers unchanged); nothing is read off a chart. Derived by",
        "`scripts/derive_report_figures.py` (the quotes are embedded in the script with their figure and checked",
        "word for word against the developers' copy of the report's text when it is present).",
        "",
        "Columns: `figure`, `flow` (movers / job_changers / all_employed), `job_group`, `region` (home region at",
        "t−1: hovedstaden, rest, all), `year` (flow year t: November t−1 → November t; for 3.6 the register",
        "year), `measure`, `low`, `high` (blank = unbounded), `band` (the rule below), `quote`, `source`.",
        "",
        "Measures: `level` = mean relative change of the cell (fraction, 0.11 = 11 %); `change_from_2019` =",
        "level(year) − level(2019); `ratio_to_2019` = level(year) / level(2019); `lead_over_other_groups` =",
        "level − the larger level of the two other job groups; `rise_share_of_hovedstaden` = the region's",
        "change 2019→year divided by Hovedstaden's, same job group; `deviation_from_all` = level − level of",
        "job group 'all'; `mean_km` = mean home–work road km of all employed (DST AFSTA4 in the report).",
        "",
        "## How a qualifier becomes a band",
        "",
        "| band | rule | meaning |",
        "| --- | --- | --- |",
        *(f"| `{k}` | {rule} | {text} |" for k, (rule, text) in BANDS.items()),
        "",
        "What the report leaves open is not turned into a band: which of digital/office is at 14 % and which",
        "at 16 % in 2021 (both must lie in 14–16 %), how persons with a travel time of 0 were handled, and any",
        "value shown only in a chart. Region 'rest' stands for the four other regions of Figure 3.9 together.",
        "",
        f"{df.height} rows.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=ROOT.parent.parent / "shared/reference/report-figures.md",
                    help="developers' copy of the report's quotes (checked when present)")
    ap.add_argument("--out", type=Path, default=ROOT / "data/reference")
    args = ap.parse_args()
    df = table()
    if args.shared.exists():
        print(f"checked {check_quotes(df, args.shared)} quoted passages against {args.shared}")
    else:
        print(f"{args.shared} not present: quotes not re-checked (they are embedded in this script)")
    write_csv(df, args.out / "report_figures.csv")
    write_text(note(df), args.out / "report_figures.md")
    print(f"wrote {args.out / 'report_figures.csv'} ({df.height} rows) and report_figures.md")


if __name__ == "__main__":
    main()

"""Excel export: disclosure check, formatting, determinism. Read back from the workbook's XML."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import polars as pl
import pytest

from pendling.errors import InputError
from pendling.mobility.disclosure import apply_disclosure
from pendling.report.excel import disclosure_problems, write_results_xlsx

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def read_sheet(path: Path, index: int) -> list[list[object]]:
    """Cell values of sheet ``index`` (1-based) as rows; strings resolved, numbers as float, blanks None."""
    with zipfile.ZipFile(path) as z:
        shared = []
        if "xl/sharedStrings.xml" in z.namelist():
            root = ET.fromstring(z.read("xl/sharedStrings.xml"))
            shared = ["".join(t.text or "" for t in si.iter(f"{{{NS['m']}}}t")) for si in root.findall("m:si", NS)]
        root = ET.fromstring(z.read(f"xl/worksheets/sheet{index}.xml"))
    rows: list[list[object]] = []
    for row in root.find("m:sheetData", NS).findall("m:row", NS):
        cells: dict[int, object] = {}
        for c in row.findall("m:c", NS):
            col = _col(re.match(r"[A-Z]+", c.get("r")).group())
            v = c.find("m:v", NS)
            if v is None:
                val = None
            elif c.get("t") == "s":
                val = shared[int(v.text)]
            elif c.get("t") == "b":
                val = v.text == "1"
            else:
                val = float(v.text)
            cells[col] = val
        rows.append([cells.get(i) for i in range(max(cells) + 1)] if cells else [])
    return rows


def _col(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def _raw_results() -> pl.DataFrame:
    """Unsuppressed cells for one year: digital in Hovedstaden has n = 3."""
    rows = []
    for g, base in (("digital", 0.10), ("office", 0.05), ("all", 0.07)):
        for r, n in (("hovedstaden", 30), ("rest", 60), ("all", 90)):
            n = 3 if (g, r) == ("digital", "hovedstaden") else n * (3 if g == "all" else 1)
            rows.append({"year": 2020, "flow": "movers", "job_group": g, "region": r, "n": n,
                         "mean_rel_change": base, "ratio_of_means": base * 0.9, "ci_low": base - 0.01,
                         "ci_high": base + 0.01, "suppressed": False, "mean_minutes_before": 21.5,
                         "mean_minutes_after": 21.5 * (1 + base)})
    return pl.DataFrame(rows).with_columns(pl.col("year").cast(pl.Int16))


def test_refuses_unsuppressed_then_marks_it(tmp_path: Path, attrition: pl.DataFrame) -> None:
    raw = _raw_results()
    problems = disclosure_problems(raw, attrition)
    assert problems and "must be suppressed" in problems[0]
    with pytest.raises(InputError, match="fail the disclosure check"):
        write_results_xlsx(raw, attrition, tmp_path / "r.xlsx")
    assert not (tmp_path / "r.xlsx").exists()
    out = write_results_xlsx(raw, attrition, tmp_path / "r.xlsx", allow_unsuppressed=True)
    method = read_sheet(out, 3)
    status = dict((r[0], r[1]) for r in method if len(r) >= 2)["Disclosure"]
    assert status.startswith("UNSUPPRESSED OUTPUT")
    assert "UNSUPPRESSED" in zipfile.ZipFile(out).read("docProps/core.xml").decode()


def test_disclosed_results_pass_and_round_trip(tmp_path: Path, attrition: pl.DataFrame) -> None:
    safe = apply_disclosure(_raw_results(), 5)
    assert safe["suppressed"].sum() >= 2  # primary + complementary
    assert disclosure_problems(safe, attrition) == []
    out = write_results_xlsx(safe, attrition, tmp_path / "r.xlsx", notes={"Client": "Region X"}, source="ras2019-2020")
    sheet = read_sheet(out, 1)
    assert sheet[0] == safe.columns
    body = sheet[1:]
    assert len(body) == safe.height
    col = {c: i for i, c in enumerate(safe.columns)}
    for row, expected in zip(body, safe.iter_rows(named=True), strict=True):
        assert row[col["job_group"]] == expected["job_group"]
        assert row[col["suppressed"]] is expected["suppressed"]
        if expected["suppressed"]:
            assert row[col["n"]] is None and row[col["mean_rel_change"]] is None  # blank, not 0
        else:
            assert row[col["n"]] == expected["n"]
            assert row[col["mean_rel_change"]] == pytest.approx(expected["mean_rel_change"])
    att = read_sheet(out, 2)
    assert att[0] == attrition.columns and [r[3] for r in att[1:]] == attrition["n"].to_list()
    method = {r[0]: r[1] for r in read_sheet(out, 3) if len(r) >= 2}
    assert method["Disclosure"].startswith("Passed the disclosure check")
    assert method["Client"] == "Region X" and method["Source"] == "ras2019-2020"
    assert "column: mean_rel_change" in method


def test_formatting(tmp_path: Path, attrition: pl.DataFrame) -> None:
    out = write_results_xlsx(apply_disclosure(_raw_results(), 5), attrition, tmp_path / "r.xlsx")
    with zipfile.ZipFile(out) as z:
        styles = z.read("xl/styles.xml").decode()
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
        wb = z.read("xl/workbook.xml").decode()
    assert 'formatCode="0.0%"' in styles and 'formatCode="#,##0"' in styles
    assert 'state="frozen"' in sheet and 'ySplit="1"' in sheet
    assert "<autoFilter" in sheet and "<cols>" in sheet
    assert [m for m in re.findall(r'<sheet name="([^"]+)"', wb)] == ["results", "attrition", "method"]
    # the percent style is the one applied to mean_rel_change (column F) cells
    fmt_ids = re.findall(r'<numFmt numFmtId="(\d+)" formatCode="0.0%"', styles)
    xfs = re.findall(r"<xf [^>]*?numFmtId=\"(\d+)\"", styles.split("<cellXfs")[1])
    pct_styles = {str(i) for i, f in enumerate(xfs) if f in fmt_ids}
    f_styles = {s for row, s in re.findall(r'<c r="F(\d+)" s="(\d+)"', sheet) if row != "1"}
    assert f_styles and f_styles <= pct_styles


def test_byte_identical_rerun(tmp_path: Path, attrition: pl.DataFrame) -> None:
    safe = apply_disclosure(_raw_results(), 5)
    a = write_results_xlsx(safe, attrition, tmp_path / "a.xlsx", notes=["one", "two"])
    b = write_results_xlsx(safe, attrition, tmp_path / "b.xlsx", notes=["one", "two"])
    assert a.read_bytes() == b.read_bytes()


def test_small_attrition_counts_refused(tmp_path: Path, attrition: pl.DataFrame) -> None:
    safe = apply_disclosure(_raw_results(), 5)
    small = attrition.with_columns(n=pl.when(pl.col("bucket") == "mover").then(2).otherwise(pl.col("n")))
    problems = disclosure_problems(safe, small)
    assert len(problems) == 1 and problems[0].startswith("attrition")
    with pytest.raises(InputError, match="disclosure"):
        write_results_xlsx(safe, small, tmp_path / "r.xlsx")


def test_suppressed_cell_with_values_is_a_problem(attrition: pl.DataFrame) -> None:
    safe = apply_disclosure(_raw_results(), 5)
    # flagged suppressed but the mean still published
    leaky = safe.with_columns(
        mean_rel_change=pl.when(pl.col("suppressed")).then(0.5).otherwise(pl.col("mean_rel_change"))
    )
    assert any("mean_rel_change" in p for p in disclosure_problems(leaky, attrition))


def test_rejects_wrong_suffix(tmp_path: Path, attrition: pl.DataFrame) -> None:
    with pytest.raises(InputError, match=r"\.xlsx"):
        write_results_xlsx(apply_disclosure(_raw_results(), 5), attrition, tmp_path / "r.xls")


def test_write_table_xlsx_is_the_results_sheet(tmp_path: Path, attrition: pl.DataFrame) -> None:
    """io.write_table's .xlsx is the report writer's sheet: same cells, same styles, same bytes on rerun."""
    from pendling import io

    safe = apply_disclosure(_raw_results(), 5)
    book = write_results_xlsx(safe, attrition, tmp_path / "book.xlsx")
    table = io.write_table(safe, tmp_path / "table.xlsx")
    assert read_sheet(table, 1) == read_sheet(book, 1)
    with zipfile.ZipFile(book) as zb, zipfile.ZipFile(table) as zt:
        # one implementation: the worksheet XML (values, number-format ids, widths, filter) is identical
        assert zt.read("xl/worksheets/sheet1.xml") == zb.read("xl/worksheets/sheet1.xml")
        assert 'formatCode="0.0%"' in zt.read("xl/styles.xml").decode()
        assert "<dcterms:created xsi:type=\"dcterms:W3CDTF\">2000-01-01T00:00:00Z" in zt.read("docProps/core.xml").decode()
        assert {i.date_time for i in zt.infolist()} == {i.date_time for i in zb.infolist()}
    again = io.write_table(safe, tmp_path / "again.xlsx")
    assert again.read_bytes() == table.read_bytes()
    # the rows come back as the frame holds them, checked cell by cell against polars, not the writer
    body = read_sheet(table, 1)[1:]
    assert [r[safe.columns.index("region")] for r in body] == safe["region"].to_list()
    assert [r[safe.columns.index("n")] for r in body] == [None if v is None else float(v) for v in safe["n"]]


def test_write_table_xlsx_any_frame(tmp_path: Path) -> None:
    """Frames that are not results (no cell keys, dates, text codes) are written as they are; no disclosure check."""
    import datetime as dt

    from pendling import io

    df = pl.DataFrame({"disco": ["0110", "=1+1"], "day": [dt.date(2021, 11, 1), None], "km": [1.25, float("nan")]})
    out = io.write_table(df, tmp_path / "t.xlsx")
    rows = read_sheet(out, 1)
    assert rows[0] == ["disco", "day", "km"]
    assert rows[1][0] == "0110" and rows[2][0] == "=1+1"  # text stays text
    assert rows[1][1] == float((dt.date(2021, 11, 1) - dt.date(1899, 12, 30)).days)  # Excel date serial
    assert rows[1][2] == 1.25 and rows[2] == ["=1+1", None, None]  # null date and NaN are blank cells
    with pytest.raises(InputError, match="list/struct"):
        io.write_table(pl.DataFrame({"a": [[1, 2]]}), tmp_path / "nested.xlsx")
    assert not (tmp_path / "nested.xlsx").exists()
    with pytest.raises(InputError, match="unsupported output format"):
        io.write_table(df, tmp_path / "t.json")

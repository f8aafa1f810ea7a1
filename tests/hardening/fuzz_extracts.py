"""A seeded generator of malformed and unusual register extracts, for tests/hardening/test_fuzz.py.

``cases(n, seed)`` returns ``n`` :class:`FuzzCase` objects, the same for the same seed on every machine
(only ``random.Random(seed)`` decides; the writers are deterministic). Each case is a small extract
folder — one to three year files of 0–25 rows in DST column names, in Parquet, CSV, Stata, SAS
transport or SAS7BDAT — with one or two *mutations* from :data:`MUTATIONS` applied:

random bytes, truncated files, ragged CSV lines, CSV rows cut short and empty lines (strict: an error
naming them; lenient: counted as excluded_short_row), quoted separators and embedded newlines, NUL bytes,
';' and tab separators, BOM + CRLF, latin-1 vs UTF-8 with æøå in values and headers, numbers beyond
64 bits and negative ids, floats in id columns ('101.0'), SAS missing values ('.'), mixed types within
a column, duplicate or lower-case column names, empty and header-only files, a year folder with no
files, files whose name and year column disagree, text (pseudonymised) keys.

``FuzzCase.rows`` is the number of data rows a correct reader must account for when it accepts the
input (None when a mutation makes the count a matter of interpretation, e.g. a ragged line).
"""

from __future__ import annotations

import io
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

SEED = 13
KEY_FIXTURES = Path(__file__).resolve().parents[1] / "panel" / "data" / "keys"
HEADER = ["PNR", "KOM", "ADRESSE_ID", "LBNR", "ARBKOM", "DISCO08_ALLE_INDK_13"]
CODES = [101, 147, 751, 461, 851, 400, 411, 0, 955, 999, 123]  # valid, alias, abroad/unknown, invalid
DISCOS = ["251200", "2512", "4110", "7112", "0110", "9999", "", "X1"]
FORMATS = ("csv", "csv", "csv", "parquet", "dta", "xpt")  # CSV is where most malformations live


@dataclass
class FuzzCase:
    """One generated extract: ``files`` (relative path → bytes, or None for an empty folder)."""

    id: str
    mutations: list[str]
    files: dict[str, bytes | None] = field(default_factory=dict)
    rows: int | None = 0  # data rows written (None: not well defined after the mutation)
    lenient: bool = False
    compute: bool = False

    def write(self, root: Path) -> Path:
        """Materialise the extract under ``root``; returns the folder to pass to the CLI."""
        folder = root / self.id
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for rel, data in self.files.items():
            target = folder / rel
            if data is None:
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        return folder


# ---------------------------------------------------------------------------------------------
# base rows


def _rows(rnd: random.Random, n: int, first_pnr: int = 1) -> list[list[object]]:
    rows = []
    for i in range(n):
        rows.append([
            first_pnr + i,
            rnd.choice(CODES[:6]) if rnd.random() < 0.85 else rnd.choice(CODES),
            rnd.randint(1, 10**6) if rnd.random() < 0.9 else None,
            rnd.choice([0, rnd.randint(1, 10**8)]) if rnd.random() < 0.3 else rnd.randint(1, 99),
            rnd.choice(CODES[:6]) if rnd.random() < 0.85 else rnd.choice(CODES),
            rnd.choice(DISCOS[:6]) if rnd.random() < 0.9 else rnd.choice(DISCOS),
        ])
    return rows


def _frame(header: list[str], rows: list[list[object]]) -> pl.DataFrame:
    cols = {h: [r[i] for r in rows] for i, h in enumerate(header)}
    out = {}
    for h, values in cols.items():
        present = [v for v in values if v is not None and v != ""]
        if present and all(isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2**63 for v in present):
            out[h] = pl.Series(h, [None if v == "" else v for v in values], dtype=pl.Int64)
        elif present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
            out[h] = pl.Series(h, [None if v == "" else float(v) for v in values], dtype=pl.Float64)
        else:
            out[h] = pl.Series(h, [None if v is None else str(v) for v in values], dtype=pl.String)
    return pl.DataFrame(out)


def _csv(header: list[str], rows: list[list[object]], *, sep: str = ",", newline: str = "\n",
         encoding: str = "utf-8", bom: bool = False, quote_all: bool = False) -> bytes:
    def cell(v: object) -> str:
        s = "" if v is None else str(v)
        if quote_all or sep in s or '"' in s or "\n" in s or "\r" in s:
            return '"' + s.replace('"', '""') + '"'
        return s

    text = newline.join([sep.join(cell(h) for h in header)] + [sep.join(cell(v) for v in r) for r in rows])
    data = (text + newline).encode(encoding, errors="replace")
    return (b"\xef\xbb\xbf" if bom else b"") + data


def _binary(fmt: str, header: list[str], rows: list[list[object]]) -> bytes:
    import tempfile

    import pyreadstat

    df = _frame(header, rows)
    if fmt == "parquet":
        buf = io.BytesIO()
        df.write_parquet(buf, compression="zstd", statistics=False)
        return buf.getvalue()
    pdf = df.to_pandas()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"x.{fmt}"
        if fmt == "dta":
            pyreadstat.write_dta(pdf, path)
        else:
            pyreadstat.write_xport(pdf, path, file_format_version=8)
        return path.read_bytes()


def _encode(fmt: str, header: list[str], rows: list[list[object]], **csv_kw: object) -> bytes:
    if fmt == "csv":
        return _csv(header, rows, **csv_kw)  # type: ignore[arg-type]
    return _binary(fmt, header, rows)


# ---------------------------------------------------------------------------------------------
# mutations: each takes the case state and changes it; ``state`` holds header, per-year rows, format


@dataclass
class State:
    rnd: random.Random
    fmt: str
    header: list[str]
    years: dict[int, list[list[object]]]
    csv_kw: dict[str, object] = field(default_factory=dict)
    raw: dict[str, bytes | None] = field(default_factory=dict)  # files given as bytes directly
    rows_known: bool = True
    year_column: dict[int, int] | None = None  # year → value written in an AAR column
    names: dict[int, str] = field(default_factory=dict)  # year → file name
    lenient: bool = False
    extra_rows: int = 0  # rows the byte mutations add (an empty line is a row too)


def _any_row(s: State) -> tuple[int, int] | None:
    cells = [(y, i) for y, rows in s.years.items() for i in range(len(rows))]
    return s.rnd.choice(cells) if cells else None


def m_text_keys(s: State) -> None:
    """pseudonymised text keys: letters, leading zeros, lower case"""
    for rows in s.years.values():
        for r in rows:
            if isinstance(r[0], (int, float)):
                r[0] = s.rnd.choice(["X{:011d}Z", "{:010d}", "x{}", "P-{}"]).format(int(r[0]))
            if isinstance(r[3], (int, float)) and s.rnd.random() < 0.5:
                r[3] = "0" * 8 if r[3] == 0 else f"L{int(r[3]):07d}"
            if r[2] is not None and s.rnd.random() < 0.5:
                r[2] = f"A{r[2]}"


def m_huge_numbers(s: State) -> None:
    """numbers beyond 64 bits in an id or code column"""
    if (cell := _any_row(s)) is None:
        return
    y, i = cell
    s.years[y][i][s.rnd.choice([0, 2, 3, 1])] = s.rnd.choice([2**64 + 7, 10**30, -(2**63) - 5, 2**63])


def m_negative_ids(s: State) -> None:
    """negative ids (a missing-value code in some exports)"""
    if (cell := _any_row(s)) is None:
        return
    y, i = cell
    s.years[y][i][s.rnd.choice([0, 2, 3])] = -s.rnd.randint(1, 9)
    s.lenient = s.rnd.random() < 0.5


def m_float_ids(s: State) -> None:
    """floats in id and code columns ('101.0', sometimes '101.5')"""
    for rows in s.years.values():
        for r in rows:
            for j in (0, 1, 3):
                if isinstance(r[j], int) and s.rnd.random() < 0.5:
                    r[j] = float(r[j]) + (0.5 if s.rnd.random() < 0.05 else 0.0)


def m_sas_missing(s: State) -> None:
    """SAS/Stata missing '.' in any column"""
    s.lenient = s.rnd.random() < 0.5
    for rows in s.years.values():
        for r in rows:
            if s.rnd.random() < 0.3:
                r[s.rnd.randrange(len(r))] = "."


def m_mixed_types(s: State) -> None:
    """text among numbers in a number column"""
    if (cell := _any_row(s)) is None:
        return
    y, i = cell
    s.years[y][i][s.rnd.choice([1, 4, 3, 2])] = s.rnd.choice(["KBH", "1O1", "true", "  ", "1,0", "NaN", "ÆRØ"])
    s.lenient = s.rnd.random() < 0.5


def m_lower_case(s: State) -> None:
    """lower-case column names"""
    s.header = [h.lower() for h in s.header]


def m_duplicate_column(s: State) -> None:
    """a column name twice (or twice ignoring case)"""
    j = s.rnd.randrange(len(s.header))
    name = s.header[j] if s.rnd.random() < 0.5 else s.header[j].lower()
    s.header.append(name)
    for rows in s.years.values():
        for r in rows:
            r.append(r[j])


def m_extra_danish_column(s: State) -> None:
    """an extra text column with æøå in its name and values (UTF-8 or latin-1)"""
    s.header.append(s.rnd.choice(["KOMNAVN", "BOPÆL_NAVN", "FØDEKOMMUNE"]))
    for rows in s.years.values():
        for r in rows:
            r.append(s.rnd.choice(["Ærø", "Høje-Taastrup", "Lyngby-Taarbæk", "Aabenraa", None]))
    if s.fmt == "csv" and s.rnd.random() < 0.5:
        s.csv_kw["encoding"] = "latin-1"


def m_quoted_separator(s: State) -> None:
    """quoted values holding the separator and embedded newlines"""
    s.header.append("NOTE")
    for rows in s.years.values():
        for r in rows:
            r.append(s.rnd.choice(["a, b", "line1\nline2", 'say "hi"', "x;y", "tab\there", "", None]))
    s.csv_kw["quote_all"] = s.rnd.random() < 0.3


def m_separator(s: State) -> None:
    """';' or tab as separator"""
    s.csv_kw["sep"] = s.rnd.choice([";", "\t", "|"])


def m_bom_crlf(s: State) -> None:
    """UTF-8 BOM and CRLF line ends"""
    s.csv_kw["bom"] = True
    s.csv_kw["newline"] = "\r\n"


def m_year_disagrees(s: State) -> None:
    """an AAR column whose year differs from the file name (or is empty/odd)"""
    s.year_column = {y: s.rnd.choice([y, y + 1, y - 7, 15, 0]) for y in s.years}


def m_empty_and_header_only(s: State) -> None:
    """an empty file or a header-only file"""
    y = s.rnd.choice(list(s.years) or [2015])
    s.years[y] = []
    if s.rnd.random() < 0.5:
        s.raw[f"ras{y}.{s.fmt}"] = b""


def m_empty_year_folder(s: State) -> None:
    """a year folder with no files beside (or instead of) the extract"""
    s.raw["2017"] = None
    if s.rnd.random() < 0.3:
        s.years = {}


def m_nul_bytes(s: State) -> None:
    """NUL bytes inside values (post-encoding)"""
    s.raw["__nul__"] = b""  # applied after encoding
    s.rows_known = False


def m_ragged(s: State) -> None:
    """CSV lines with too many or too few fields"""
    s.raw["__ragged__"] = b""
    s.rows_known = False


def m_short_rows(s: State) -> None:
    """CSV rows cut after 1 to 5 fields, or empty lines put in (read leniently in half the cases)"""
    s.raw["__short__"] = b""
    s.lenient = s.rnd.random() < 0.5


def m_truncated(s: State) -> None:
    """a file cut short (copy interrupted)"""
    s.raw["__truncate__"] = b""
    s.rows_known = False


def m_random_bytes(s: State) -> None:
    """a file of random bytes under an extract name"""
    y = s.rnd.choice(list(s.years)) if s.years else 2015
    s.raw[f"ras{y}.{s.fmt}"] = bytes(s.rnd.getrandbits(8) for _ in range(s.rnd.choice([1, 7, 64, 900])))
    s.rows_known = False


def m_sas7bdat(s: State) -> None:
    """the shipped SAS7BDAT extract (integer or text keys), whole, truncated or with a wrong year name"""
    kind = s.rnd.choice(["int", "text"])
    s.years = {}
    for p in sorted((KEY_FIXTURES / kind).glob("*.sas7bdat")):
        data = p.read_bytes()
        how = s.rnd.random()
        if how < 0.2:
            data, s.rows_known = data[: s.rnd.randrange(1, len(data))], False
        s.raw[p.name] = data
    s.raw["__sas_rows__"] = b""


MUTATIONS: dict[str, Callable[[State], None]] = {
    f.__name__.removeprefix("m_"): f
    for f in (m_text_keys, m_huge_numbers, m_negative_ids, m_float_ids, m_sas_missing, m_mixed_types,
              m_lower_case, m_duplicate_column, m_extra_danish_column, m_quoted_separator, m_separator,
              m_bom_crlf, m_year_disagrees, m_empty_and_header_only, m_empty_year_folder, m_nul_bytes,
              m_ragged, m_truncated, m_random_bytes, m_sas7bdat, m_short_rows)
}
CSV_ONLY = {"quoted_separator", "separator", "bom_crlf", "ragged", "nul_bytes", "short_rows"}


def _post(s: State, files: dict[str, bytes | None]) -> None:
    """Mutations that work on the encoded bytes."""
    names = [n for n, d in files.items() if d]
    if not names:
        return
    if "__nul__" in s.raw:
        n = s.rnd.choice(names)
        data = bytearray(files[n])
        for _ in range(s.rnd.randint(1, 3)):
            data.insert(s.rnd.randrange(len(data)), 0)
        files[n] = bytes(data)
    if "__ragged__" in s.raw:
        n = s.rnd.choice(names)
        lines = files[n].split(b"\n")
        body = [i for i in range(1, len(lines)) if lines[i].strip()]
        sep = str(s.csv_kw.get("sep", ",")).encode()
        for i in s.rnd.sample(body, min(len(body), s.rnd.randint(1, 2))):
            lines[i] = lines[i] + sep + b"99" if s.rnd.random() < 0.5 else lines[i].rsplit(sep, 1)[0]
        files[n] = b"\n".join(lines)
    if "__short__" in s.raw:
        n = s.rnd.choice(names)
        lines = files[n].split(b"\n")
        body = [i for i in range(1, len(lines)) if lines[i].strip()]
        sep = str(s.csv_kw.get("sep", ",")).encode()
        if b'"' in files[n]:  # a cut inside a quoted value changes how the rest splits into records
            s.rows_known = False
        for i in sorted(s.rnd.sample(body, min(len(body), s.rnd.randint(1, 3))), reverse=True):
            end = b"\r" if lines[i].endswith(b"\r") else b""
            if s.rnd.random() < 0.7:
                fields = lines[i].removesuffix(end).split(sep)
                lines[i] = sep.join(fields[: s.rnd.randint(1, max(1, len(fields) - 1))]) + end
            else:
                lines.insert(i, end)
                s.extra_rows += 1
        files[n] = b"\n".join(lines)
    if "__truncate__" in s.raw:
        n = s.rnd.choice(names)
        files[n] = files[n][: s.rnd.randrange(0, len(files[n]))]


def make_case(index: int, rnd: random.Random) -> FuzzCase:
    fmt = rnd.choice(FORMATS)
    n_years = rnd.choice([1, 2, 2, 3])
    first = rnd.choice([2015, 2019])
    years = {first + k: _rows(rnd, rnd.randint(0, 25)) for k in range(n_years)}
    # persons recur across years so flows exist; pnr stays the first column
    for k, rows in enumerate(years.values()):
        for r in rows:
            r[0] = int(r[0]) + (1000 * k if rnd.random() < 0.2 else 0)  # = a person who left/joined
    s = State(rnd, fmt, list(HEADER), years)
    names = list(MUTATIONS)
    chosen = rnd.sample(names, rnd.choice([1, 1, 2]))
    if fmt != "csv" and any(m in CSV_ONLY for m in chosen):
        s.fmt = "csv"
    for m in chosen:
        MUTATIONS[m](s)
    files: dict[str, bytes | None] = {}
    rows = 0
    for y, body in s.years.items():
        header, data = list(s.header), [list(r) for r in body]
        if s.year_column is not None:
            header = ["AAR", *header]
            data = [[s.year_column[y], *r] for r in data]
        name = f"ras{y}.{s.fmt}"
        if name in s.raw:
            continue
        try:
            files[name] = _encode(s.fmt, header, data, **s.csv_kw)
        except Exception:  # a writer refuses the mutation (e.g. Stata and a 2^64 number): write CSV instead
            files[f"ras{y}.csv"] = _csv(header, data, **{k: v for k, v in s.csv_kw.items()})
        rows += len(data)
    for rel, data in s.raw.items():
        if not rel.startswith("__"):
            files[rel] = data
    if "__sas_rows__" in s.raw:
        rows = None
    _post(s, files)
    if any(d == b"" for d in files.values()):
        pass  # an empty file has no rows and no header: an error, rows do not matter
    case = FuzzCase(
        id=f"case{index:04d}",
        mutations=chosen,
        files=files,
        rows=rows + s.extra_rows if s.rows_known and rows is not None else None,
        lenient=s.lenient,
        compute=len(s.years) >= 2 and rnd.random() < 0.25,
    )
    return case


def cases(n: int = 520, seed: int = SEED) -> list[FuzzCase]:
    rnd = random.Random(seed)
    return [make_case(i, rnd) for i in range(n)]

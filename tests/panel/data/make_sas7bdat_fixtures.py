"""Rebuild the two small SAS7BDAT test files in this folder (run by hand; tests never run it).

No Python library can write SAS7BDAT (pyreadstat writes .xpt, .dta, .sav, .por only), so the files
are written by the ``readstat`` command-line tool of ReadStat, the C library that pyreadstat wraps
(Debian package ``readstat``, version 1.1.8: ``apt-get install readstat``):

1. the hand-built extract of ``tests/panel/panel_fixtures.py`` → Stata .dta with pyreadstat;
2. ``readstat extract.dta ras_extract_utf8.sas7bdat`` (ReadStat marks the file as UTF-8, code 20);
3. the latin-1 file is made the way SAS on a latin-1 session stores text: the same conversion run on a
   copy whose KOMNAVN values have each non-ASCII letter replaced by '~', then every placeholder value
   is overwritten in place with the real name encoded as ISO-8859-1 (same byte length) and the
   encoding byte of the header (offset 70) is set to 29 (ISO-8859-1 in SAS's code table).

Usage: ``.venv/bin/python tests/panel/data/make_sas7bdat_fixtures.py``
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl
import pyreadstat

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from panel_fixtures import extract  # noqa: E402

ENCODING_OFFSET = 70
SAS_UTF8, SAS_LATIN1 = 20, 29


def _placeholder(text: str) -> str:
    return "".join(ch if ord(ch) < 128 else "~" for ch in text)


def _to_sas7bdat(df: pl.DataFrame, out: Path, tmp: Path) -> None:
    dta = tmp / "extract.dta"
    pyreadstat.write_dta(df.to_pandas(), dta)
    out.unlink(missing_ok=True)
    subprocess.run(["readstat", str(dta), str(out)], check=True, capture_output=True)


def main() -> None:
    if shutil.which("readstat") is None:
        sys.exit("needs the ReadStat command-line tool: apt-get install readstat")
    df = extract()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        utf8 = HERE / "ras_extract_utf8.sas7bdat"
        _to_sas7bdat(df, utf8, tmp)
        assert utf8.read_bytes()[ENCODING_OFFSET] == SAS_UTF8

        names = df["KOMNAVN"].drop_nulls().unique().to_list()
        latin1 = HERE / "ras_extract_latin1.sas7bdat"
        _to_sas7bdat(df.with_columns(pl.col("KOMNAVN").map_elements(_placeholder, pl.String)), latin1, tmp)
        data = bytearray(latin1.read_bytes())
        for name in names:
            ph = _placeholder(name)
            if ph != name:
                data = bytearray(data.replace(ph.encode("ascii"), name.encode("latin-1")))
        # the header itself holds "DATA ~ ~"; any other '~' would be a placeholder left behind
        assert data.count(b"~") == utf8.read_bytes().count(b"~")
        data[ENCODING_OFFSET] = SAS_LATIN1
        latin1.write_bytes(bytes(data))

    for path in (utf8, latin1):
        back, meta = pyreadstat.read_sas7bdat(str(path), output_format="polars")
        assert back.height == df.height, path
        assert back["KOMNAVN"].to_list() == [v or "" for v in df["KOMNAVN"].to_list()], path
        print(f"{path.name}: {back.height} rows, encoding {meta.file_encoding}")


if __name__ == "__main__":
    main()

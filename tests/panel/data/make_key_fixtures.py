"""Rebuild the SAS7BDAT files in ``keys/`` (run by hand; tests never run it).

``keys/int/ras<year>.sas7bdat`` hold ``key_panel.int_extract()`` and ``keys/text/ras<year>.sas7bdat``
the same rows with ``key_panel.text_keys``. As for the other SAS fixtures here, no Python library writes
SAS7BDAT: each frame goes to Stata .dta with pyreadstat, then the ``readstat`` command-line tool
(ReadStat 1.1.8, Debian package ``readstat``) converts it. The other formats of the string-key test
are written by the test itself.

Usage: ``.venv/bin/python tests/panel/data/make_key_fixtures.py``
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

from key_panel import int_extract, text_keys  # noqa: E402


def main() -> None:
    if shutil.which("readstat") is None:
        sys.exit("needs the ReadStat command-line tool: apt-get install readstat")
    frames = int_extract()
    with tempfile.TemporaryDirectory() as tmp_name:
        for kind, convert in (("int", lambda df: df), ("text", text_keys)):
            out_dir = HERE / "keys" / kind
            out_dir.mkdir(parents=True, exist_ok=True)
            for year, df in frames.items():
                dta = Path(tmp_name) / f"{kind}{year}.dta"
                pyreadstat.write_dta(convert(df).to_pandas(), dta)
                out = out_dir / f"ras{year}.sas7bdat"
                out.unlink(missing_ok=True)
                subprocess.run(["readstat", str(dta), str(out)], check=True, capture_output=True)
                back, _ = pyreadstat.read_sas7bdat(str(out), output_format="polars")
                assert back.height == df.height, out
                print(f"{out.relative_to(HERE)}: {back.height} rows, {out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()

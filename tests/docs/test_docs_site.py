"""The documentation site builds in strict mode (a broken link or API reference fails it), and the
method pages keep up with the code: every attrition bucket is documented, and the SAS name table is
the one the writer uses."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pendling.mobility.flows import BUCKETS
from pendling.mobility.flows import ZONE_BUCKETS as FLOW_ZONE_BUCKETS
from pendling.panel.buckets import PANEL_BUCKETS, SHORT_ROW_BUCKET, ZONE_BUCKETS
from pendling.statfiles import XPT5_NAMES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _mkdocs_available() -> bool:
    try:
        import material  # noqa: F401
        import mkdocs  # noqa: F401
        import mkdocstrings  # noqa: F401
        import mkdocstrings_handlers.python  # noqa: F401
    except ImportError:
        return False
    return True


needs_mkdocs = pytest.mark.skipif(not _mkdocs_available(),
                                  reason="mkdocs, mkdocs-material or mkdocstrings[python] not installed (extra 'docs')")


def _build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
                          capture_output=True, text=True, env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"})


@needs_mkdocs
def test_site_builds_in_strict_mode(tmp_path: Path) -> None:
    proc = _build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert proc.returncode == 0, proc.stderr[-3000:]
    api = (tmp_path / "site" / "reference" / "mobility" / "index.html").read_text(encoding="utf-8")
    assert "mean_rel_change" in api and "MobilityResult" in api  # rendered from the docstrings
    assert (tmp_path / "site" / "tutorial" / "index.html").is_file()


@needs_mkdocs
@pytest.mark.parametrize("broken", ["[see](no_such_page.md)", "::: pendling.mobility.no_such_function"])
def test_a_broken_reference_fails_the_build(tmp_path: Path, broken: str) -> None:
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    (tmp_path / "src").symlink_to(ROOT / "src")
    page = tmp_path / "docs" / "tutorial.md"
    page.write_text(page.read_text(encoding="utf-8") + f"\n\n{broken}\n", encoding="utf-8")
    proc = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert proc.returncode != 0
    assert "no_such" in proc.stderr


def test_every_attrition_bucket_is_documented() -> None:
    panel = (DOCS / "method" / "panel.md").read_text(encoding="utf-8")
    flows = (DOCS / "method" / "flows.md").read_text(encoding="utf-8")
    assert [b for b in {**PANEL_BUCKETS, **ZONE_BUCKETS, **SHORT_ROW_BUCKET} if f"`{b}`" not in panel] == []
    assert [b for b in {**BUCKETS, **FLOW_ZONE_BUCKETS} if f"`{b}`" not in flows] == []


def test_sas_name_table_is_the_one_the_writer_uses() -> None:
    text = (DOCS / "outputs.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| `([A-Z]+)` \|", text, flags=re.MULTILINE))
    assert rows == XPT5_NAMES


def test_readme_links_into_the_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / page).is_file(), page
    assert "docs/offline.md" in readme and "mkdocs" in readme

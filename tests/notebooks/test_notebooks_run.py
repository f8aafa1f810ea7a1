"""Every notebook runs top to bottom on small synthetic data; a failing cell fails the build.

The notebooks run through nbclient on the ``python3`` kernel with ``PENDLING_NOTEBOOK_SCALE=small``
(02 generates 40,000 persons per year, 03 routes 13 municipalities instead of 98) and a temporary
``PENDLING_CACHE_DIR`` (the demo extract is generated there once and shared by 01 and 03). The
notebooks assert their own results (hand-computed cell = engine, estimates within the planted
truth's tolerance, the rebuilt matrix = the shipped one, ...), so a wrong number fails here too.
Executed copies stay in memory; the committed files are never written.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
KERNEL = "python3"
CELL_TIMEOUT_S = 300
# notebook → figures it must show (an image output per figure; fewer means a figure did not render)
FIGURES = {"01_quickstart.ipynb": 1, "02_report_figures.ipynb": 7, "03_travel_time_matrix.ipynb": 4,
           "04_municipality_vs_grid.ipynb": 1}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Environment the kernels inherit, and an empty working directory for them."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PENDLING_NOTEBOOK_SCALE", "small")
        mp.setenv("PENDLING_CACHE_DIR", str(tmp_path_factory.mktemp("notebook-cache")))
        yield tmp_path_factory.mktemp("notebook-cwd")


def _execute(nb: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    NotebookClient(nb, kernel_name=KERNEL, timeout=CELL_TIMEOUT_S, resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def test_python3_kernel_is_this_interpreter(workdir: Path) -> None:
    # jupyter_client swaps the kernelspec's "python" for sys.executable; a user-level 'python3'
    # kernelspec pointing at another Python would make the notebooks test the wrong environment
    probe = "import os, sys\nprint(sys.prefix)\nprint(os.environ['PENDLING_NOTEBOOK_SCALE'])\nprint(os.getcwd())"
    nb = _execute(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(probe)]), workdir)
    lines = "".join(o["text"] for o in nb.cells[0].outputs if o["output_type"] == "stream").split("\n")
    assert lines[:3] == [sys.prefix, "small", str(workdir)]


def test_a_failing_cell_fails_the_run(workdir: Path) -> None:
    cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("assert x == 2, 'wrong'"),
             nbformat.v4.new_code_cell("print('not reached')")]
    with pytest.raises(CellExecutionError, match="wrong"):
        _execute(nbformat.v4.new_notebook(cells=cells), workdir)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FIGURES))
def test_notebook_runs(name: str, workdir: Path) -> None:
    before = (NOTEBOOK_DIR / name).read_bytes()
    nb = _execute(nbformat.read(NOTEBOOK_DIR / name, as_version=4), workdir)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, f"{name} printed to stderr (warnings?): {stderr}"
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == FIGURES[name], f"{name} showed {len(images)} figures, expected {FIGURES[name]}"
    if name == "01_quickstart.ipynb":  # the panel and the run show their summaries, not their dicts
        pages = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
        assert any("<b>Panel</b>" in p and "kept of" in p for p in pages)
        assert any("<b>MobilityResult</b>" in p and "person-years" in p for p in pages)
    assert (NOTEBOOK_DIR / name).read_bytes() == before
    assert not any(workdir.iterdir()), "a notebook left files in its working directory"

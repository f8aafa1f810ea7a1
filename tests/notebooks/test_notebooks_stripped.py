"""The committed notebooks carry no outputs, and scripts/strip_notebooks.py strips and checks them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = ("01_quickstart.ipynb", "02_report_figures.ipynb", "03_travel_time_matrix.ipynb",
             "04_municipality_vs_grid.ipynb")


def _strip_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("strip_notebooks", ROOT / "scripts" / "strip_notebooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_notebooks_are_the_expected_ones() -> None:
    # a new notebook must be added here (and so to the CI run in test_notebooks_run.py)
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_has_no_outputs_or_execution_counts(name: str) -> None:
    text = (NOTEBOOK_DIR / name).read_text(encoding="utf-8")
    raw = json.loads(text)  # the JSON as committed, not nbformat's view of it
    code = [c for c in raw["cells"] if c["cell_type"] == "code"]
    assert code, "a notebook without code cells"
    for cell in code:
        where = f"{name} cell {cell.get('id')}"
        assert cell["outputs"] == [], f"{where} has outputs: run scripts/strip_notebooks.py"
        assert cell["execution_count"] is None, f"{where} has an execution count: run scripts/strip_notebooks.py"
    assert raw["metadata"]["kernelspec"]["name"] == "python3"
    nbformat.validate(nbformat.reads(text, as_version=4))


def test_committed_notebooks_pass_the_strip_check() -> None:
    assert _strip_script().main(["--check", *(str(NOTEBOOK_DIR / n) for n in NOTEBOOKS)]) == 0


def _executed_notebook() -> dict:
    """A small notebook as Jupyter leaves it after a run, written out by hand."""
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (my venv)", "language": "python", "name": "python3"},
            "language_info": {"name": "python", "version": "3.11.7", "mimetype": "text/x-python"},
            "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}},
        },
        "cells": [
            {"cell_type": "markdown", "id": "m1", "metadata": {}, "source": ["# Title\n", "Some text."]},
            {
                "cell_type": "code",
                "id": "c1",
                "execution_count": 7,
                "metadata": {"tags": ["keep"], "scrolled": True,
                             "execution": {"iopub.execute_input": "2024-01-01T00:00:00Z"}},
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": ["1\n"]},
                    {"output_type": "execute_result", "execution_count": 7, "metadata": {},
                     "data": {"text/plain": ["<Figure>"], "image/png": "iVBORw0KGgo="}},
                ],
                "source": ["print(1)\n", "fig"],
            },
        ],
    }


def test_strip_removes_outputs_counts_and_run_metadata(tmp_path: Path) -> None:
    strip = _strip_script()
    path = tmp_path / "executed.ipynb"
    original = _executed_notebook()
    path.write_text(json.dumps(original), encoding="utf-8")

    assert strip.main(["--check", str(path)]) == 1  # dirty: the check fails and changes nothing
    assert json.loads(path.read_text(encoding="utf-8")) == original
    assert strip.main([str(path)]) == 0

    out = json.loads(path.read_text(encoding="utf-8"))
    markdown, code = out["cells"]
    assert markdown == original["cells"][0]
    assert code["outputs"] == [] and code["execution_count"] is None
    assert code["metadata"] == {"tags": ["keep"]}
    assert code["id"] == "c1" and "".join(code["source"]) == "print(1)\nfig"
    assert out["metadata"] == {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }

    first = path.read_bytes()
    assert first.endswith(b"\n")
    assert strip.main(["--check", str(path)]) == 0
    assert strip.main([str(path)]) == 0
    assert path.read_bytes() == first  # idempotent, byte for byte
    assert not list(tmp_path.glob(".*.tmp"))

#!/usr/bin/env python
"""Strip the outputs from Jupyter notebooks so that git holds only their source.

Usage::

    python scripts/strip_notebooks.py              # strip notebooks/*.ipynb in place
    python scripts/strip_notebooks.py --check      # list notebooks that are not stripped; exit 1 if any
    python scripts/strip_notebooks.py a.ipynb ...  # only these files

"Stripped" means: code cells have no outputs and no execution count; cell metadata keeps only
``tags`` and ``slideshow`` (run timings, collapsed/scrolled state go); notebook metadata keeps only
the kernelspec and the language name (the kernel's version details go). The file is written the way
nbformat writes it (sorted keys, indent 1, trailing newline), so running a notebook and stripping
it again gives back the same bytes — the diff shows only real edits.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
CELL_METADATA_KEPT = ("tags", "slideshow")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def strip_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A stripped copy of ``nb`` (the argument is left unchanged)."""
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata = nbformat.NotebookNode({k: v for k, v in cell.metadata.items() if k in CELL_METADATA_KEPT})
    language = out.metadata.get("language_info", {}).get("name", "python")
    # Keep the kernel *name* a notebook asks for; drop display details a local Jupyter rewrites.
    kernel = dict(KERNELSPEC, **{k: v for k, v in out.metadata.get("kernelspec", {}).items() if k == "name"})
    out.metadata = nbformat.NotebookNode({"kernelspec": kernel, "language_info": {"name": language}})
    return out


def stripped_text(path: str | Path) -> str:
    """The exact file content of ``path`` after stripping."""
    nb = nbformat.read(str(path), as_version=nbformat.NO_CONVERT)
    text = nbformat.writes(strip_notebook(nb))
    return text if text.endswith("\n") else text + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if a notebook is not stripped")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 1
    dirty = []
    for path in paths:
        text = stripped_text(path)
        if path.read_text(encoding="utf-8") == text:
            continue
        dirty.append(path)
        if not args.check:
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(text, encoding="utf-8", newline="\n")
            tmp.replace(path)  # atomic: an interrupted run never leaves half a notebook
    verb = "not stripped" if args.check else "stripped"
    for path in dirty:
        print(f"{verb}: {path}")
    return 1 if (args.check and dirty) else 0


if __name__ == "__main__":
    raise SystemExit(main())

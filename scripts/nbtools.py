"""Helpers for writing notebooks from cell sources: the `parameters` cell and stable cell ids."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1] / "notebooks"


def params(source: str) -> nbformat.NotebookNode:
    """A code cell tagged `parameters` (papermill's convention); the tests inject `QUICK = True` after it."""
    cell = new_code_cell(source)
    cell.metadata["tags"] = ["parameters"]
    return cell


def write(path: Path, cells: list) -> None:
    """Write `cells` as a notebook at `path` with stable cell ids, so regenerating changes nothing."""
    nb = new_notebook(cells=cells)
    for i, cell in enumerate(nb.cells):
        cell.id = f"{path.stem[:40]}-{i}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)

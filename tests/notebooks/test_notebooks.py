"""Every notebook executes top to bottom with QUICK=True (nbclient, a real kernel). That every
registered suite has its notebooks is checked in tests/unit/test_registry.py."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(ROOT.glob("*/*.ipynb"))


def inject_quick(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Insert `QUICK = True` right after the cell tagged `parameters` (papermill's convention)."""
    for i, cell in enumerate(nb.cells):
        if "parameters" in cell.metadata.get("tags", []):
            nb.cells.insert(i + 1, nbformat.v4.new_code_cell("QUICK = True"))
            return nb
    raise AssertionError("notebook has no cell tagged 'parameters'")


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[f"{p.parent.name}/{p.name}" for p in NOTEBOOKS])
def test_notebook_executes_quick(path: Path, tmp_path: Path, session_docs: Path):
    nb = inject_quick(nbformat.read(path, as_version=4))
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    mimes = {m for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) for m in o.get("data", {})}
    assert mimes & {"application/vnd.plotly.v1+json", "application/vnd.jupyter.widget-view+json", "text/html"}
    if path.name == "02_explore.ipynb":  # it ends by exporting the panel's figure into the docs folder
        suite = path.parent.name
        assert {p.suffix for p in (session_docs / suite).glob("panel_*")} == {".png", ".html"}

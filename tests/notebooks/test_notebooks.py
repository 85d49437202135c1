"""Every notebook executes top to bottom with QUICK=True (nbclient, a real kernel)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from workbench.suite import SUITE_NAMES

ROOT = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(ROOT.glob("*/*.ipynb"))


def inject_quick(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Insert `QUICK = True` right after the cell tagged `parameters` (papermill's convention)."""
    for i, cell in enumerate(nb.cells):
        if "parameters" in cell.metadata.get("tags", []):
            nb.cells.insert(i + 1, nbformat.v4.new_code_cell("QUICK = True"))
            return nb
    raise AssertionError("notebook has no cell tagged 'parameters'")


@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_every_suite_has_its_two_notebooks(suite: str):
    """notebooks/<suite>/: a 01_* walk-through and 02_explore, each with a `parameters` cell (so
    QUICK can be injected); the execution test below runs every notebook found here."""
    folder = ROOT / suite
    walkthrough = sorted(folder.glob("01_*.ipynb"))
    assert len(walkthrough) == 1, f"{folder}: expected one 01_*.ipynb, found {[p.name for p in walkthrough]}"
    for path in (walkthrough[0], folder / "02_explore.ipynb"):
        assert path.is_file(), f"{path} is missing"
        inject_quick(nbformat.read(path, as_version=4))  # raises when no cell is tagged `parameters`


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

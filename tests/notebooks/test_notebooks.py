"""Every notebook executes top to bottom with QUICK=True (nbclient, a real kernel). That every
registered suite has its notebooks is checked in tests/unit/test_registry.py."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(ROOT.glob("*/*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
BAR_TEXT = re.compile(r"\d+%\||\bit/s\]|\bs/it\]|Loading weights|Writing model shards")


def inject_quick(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Insert `QUICK = True` right after the cell tagged `parameters` (papermill's convention)."""
    for i, cell in enumerate(nb.cells):
        if "parameters" in cell.metadata.get("tags", []):
            nb.cells.insert(i + 1, nbformat.v4.new_code_cell("QUICK = True"))
            return nb
    raise AssertionError("notebook has no cell tagged 'parameters'")


def _tree(folder: Path) -> set[tuple[str, int]]:
    """Every file under `folder` with its modification time in ns (what Run All could change)."""
    return {(str(f.relative_to(folder)), f.stat().st_mtime_ns) for f in folder.rglob("*") if f.is_file()}


def progress_leftovers(nb: nbformat.NotebookNode) -> list[str]:
    """What progress left in the saved outputs: a widget view displayed while a cell ran (a tqdm or
    transformers bar: "Error displaying widget: model not found" after a reload; a panel is its
    cell's result), a text bar, or a progress line not emptied (`widgets.progress`)."""
    found = []
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            text = out.get("text", "") + str(data.get("text/plain", "")) + str(data.get("text/html", ""))
            if WIDGET_VIEW in data and out.output_type != "execute_result":
                found.append(f"code cell {i}: a widget displayed mid-cell ({data[WIDGET_VIEW]['model_id']})")
            if BAR_TEXT.search(text) or "wb-progress" in text:
                found.append(f"code cell {i}: progress text {text[:120]!r}")
    return found


def _execute(nb: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    """Run `nb` top to bottom in a real kernel whose working directory is `folder`."""
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return nb


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[f"{p.parent.name}/{p.name}" for p in NOTEBOOKS])
def test_notebook_executes_quick(path: Path, session_docs: Path):
    """Run All in the notebook's own folder, as the lab runs it: no error, a figure or a widget, and
    nothing written into the checkout (its folder and the docs figures stay as they were)."""
    before, docs_before = _tree(path.parent), _tree(session_docs) if session_docs.is_dir() else set()
    nb = _execute(inject_quick(nbformat.read(path, as_version=4)), path.parent)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    assert not progress_leftovers(nb)
    mimes = {m for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) for m in o.get("data", {})}
    assert mimes & {"application/vnd.plotly.v1+json", "application/vnd.jupyter.widget-view+json", "text/html"}
    assert _tree(path.parent) == before, "Run All wrote into the notebook's folder"
    assert (_tree(session_docs) if session_docs.is_dir() else set()) == docs_before, "Run All wrote into the docs"
    if path.name == "02_explore.ipynb":  # it ends by exporting the panel's figure as a draft, outside the checkout
        shown = nb.cells[-1]["outputs"][-1]["data"]["text/plain"]
        assert "workbench-export-" in shown and ".png" in shown and ".html" in shown


def test_every_notebook_takes_quick_from_the_environment():
    """Each parameters cell sets QUICK from `quick_mode()` (WORKBENCH_QUICK), so `WORKBENCH_QUICK=1
    make lab` runs every notebook small without an edit."""
    for path in NOTEBOOKS:
        cell = next(c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
        assert "QUICK = quick_mode()" in cell.source, path


@pytest.mark.notebook
def test_quick_from_the_environment_runs_a_notebook_small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """WORKBENCH_QUICK=1, no cell edited: the kernel inherits it and the notebook runs its QUICK config."""
    monkeypatch.setenv("WORKBENCH_QUICK", "1")
    nb = nbformat.read(ROOT / "capacity" / "02_explore.ipynb", as_version=4)
    check = "print('QUICK is', QUICK, panel.result.config == CapacityConfig.quick())"
    nb.cells.append(nbformat.v4.new_code_cell(check))
    out = _execute(nb, tmp_path).cells[-1]["outputs"][0]["text"]
    assert out.strip() == "QUICK is True True"


@pytest.mark.notebook
def test_a_panel_built_from_an_empty_cache_leaves_no_progress_widget(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch):
    """The panel cell trains from scratch (an empty cache): its progress line shows while it runs
    and is emptied after, and no tqdm widget is left in the outputs; the one widget is the panel."""
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "empty-cache"))
    path = ROOT / "capacity" / "02_explore.ipynb"
    nb = _execute(inject_quick(nbformat.read(path, as_version=4)), path.parent)
    assert not progress_leftovers(nb)
    views = [(i, o) for i, c in enumerate(nb.cells) for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]
    assert len(views) == 1 and "CapacityPanel(" in nb.cells[views[0][0]].source
    assert any((tmp_path / "empty-cache").rglob("*")), "the panel did not compute into the empty cache"

"""The registry is the checklist of a suite: every registered suite has its panel, its notebooks
(a walk-through and an explore notebook), its docs page linked from the README and the
docs index, and every figure it makes exported and linked there. A suite added to
`workbench.registry` fails here, naming what it still lacks."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

import widgets
from workbench.registry import SUITE_NAMES, SUITES, get_suite
from workbench.suite import Suite

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def test_the_registry_lists_the_four_suites_by_import_not_by_string():
    assert SUITE_NAMES == ("ace", "capacity", "goldilocks", "robustness")
    assert all(isinstance(s, Suite) and s.name == name for name, s in SUITES.items())
    for module in ("workbench/suite.py", "workbench/registry.py", "workbench/runner.py"):
        tree = ast.parse((ROOT / module).read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
        modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {"importlib", "import_module"} & (imported | modules), module
        assert "__import__" not in (ROOT / module).read_text(), module
    registry = ast.parse((ROOT / "workbench/registry.py").read_text())
    from_workbench = {a.name for n in registry.body if isinstance(n, ast.ImportFrom) and n.module == "workbench"
                      for a in n.names}
    from_plots = {a.name for n in registry.body if isinstance(n, ast.ImportFrom) and n.module == "workbench.plots"
                  for a in n.names}
    assert from_workbench == from_plots == set(SUITE_NAMES)  # each suite and its plots, imported by name


def test_a_suite_object_runs_unregistered_and_a_wrong_name_is_named():
    capacity = get_suite("capacity")
    assert get_suite(capacity) is capacity
    with pytest.raises(ValueError, match=r"`suite` must be one of \['ace', 'capacity', 'goldilocks', 'robustness'\]"):
        get_suite("tms")


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_each_suite_has_a_panel(name):
    panel = widgets.PANELS.get(name)
    assert panel is not None, f"widgets.PANELS has no panel for suite {name!r}"
    assert issubclass(panel, widgets.Panel) and panel.suite == name


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_each_suite_has_its_notebooks_with_a_parameters_cell(name):
    """notebooks/<suite>/: a 01_* walk-through and 02_explore (the panel), each with a cell tagged
    `parameters` holding QUICK, which the notebook tests set to True; the notebooks themselves are
    the source (edit them in JupyterLab), and `tests/notebooks` executes every one found here."""
    folder = ROOT / "notebooks" / name
    walkthrough = sorted(folder.glob("01_*.ipynb"))
    assert len(walkthrough) == 1, f"{folder}: expected one 01_*.ipynb, found {[p.name for p in walkthrough]}"
    for path in (walkthrough[0], folder / "02_explore.ipynb"):
        assert path.is_file(), f"{path} is missing"
        cells = nbformat.read(path, as_version=4).cells
        tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and "QUICK" in tagged[0].source, f"{path}: no cell tagged `parameters` sets QUICK"


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_each_suite_has_a_docs_page_linked_from_the_readme_and_the_index(name):
    assert (DOCS / f"{name}.md").is_file(), f"docs/{name}.md is missing"
    assert f"]({name}.md)" in (DOCS / "index.md").read_text(), f"docs/index.md does not link {name}.md"
    assert f"](docs/{name}.md)" in (ROOT / "README.md").read_text(), f"README.md does not link docs/{name}.md"


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_every_figure_of_each_suite_is_exported_and_linked_from_the_index(name, quick_of):
    index = (DOCS / "index.md").read_text()
    stems = list(get_suite(name).figures(quick_of(name)))
    assert stems
    for stem in stems:
        png = DOCS / "figures" / name / f"{stem}.png"
        assert png.is_file(), f"{png.relative_to(ROOT)} is missing: run `workbench reproduce --suite {name}`"
        assert re.search(rf"\(figures/{name}/{re.escape(stem)}\.png\)", index), f"docs/index.md does not show {stem}"

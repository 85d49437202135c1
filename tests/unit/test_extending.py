"""docs/extending.md's worked examples run: every `python` block, section by section (the blocks of
one `##` section share a namespace), in a fresh folder with its own artifact cache."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "extending.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def sections() -> dict[str, list[str]]:
    """{`##` heading: [its python blocks, in order]} of docs/extending.md."""
    out: dict[str, list[str]] = {}
    for part in re.split(r"^## ", PAGE.read_text(), flags=re.MULTILINE)[1:]:
        heading, _, body = part.partition("\n")
        out[heading.strip()] = BLOCK.findall(body)
    return out


def test_the_page_has_the_four_sections_each_with_an_example():
    found = sections()
    assert list(found) == ["A suite", "A steering method", "A figure", "An architecture"]
    assert all(found.values()), {k: len(v) for k, v in found.items()}


@pytest.mark.parametrize("heading", list(sections()))
def test_the_worked_example_runs(heading, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    # a real module, as if the reader pasted the blocks into one file: dataclasses and Result.load
    # look their annotations up through sys.modules
    module = types.ModuleType(f"extending_{heading.replace(' ', '_')}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for i, block in enumerate(sections()[heading]):
        code = compile(block, f"docs/extending.md [{heading} #{i}]", "exec", dont_inherit=True)
        exec(code, module.__dict__)  # noqa: S102  (the project's own docs)

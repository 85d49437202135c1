"""The docs stay whole: docs/index.md links every exported figure, every relative link in the docs
resolves, and every suite's page carries its claims table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from workbench.core.claims import read_block
from workbench.registry import SUITE_NAMES as SUITES
from workbench.registry import get_suite

DOCS = Path(__file__).resolve().parents[2] / "docs"
LINK = re.compile(r"\]\(([^)#\s]+)\)")


def test_index_links_every_exported_figure_and_measurement():
    index = (DOCS / "index.md").read_text()
    exported = sorted(p.relative_to(DOCS).as_posix() for p in (DOCS / "figures").glob("*/*")
                      if p.suffix in {".png", ".html", ".json"})
    assert exported, "no exported figures under docs/figures"
    missing = [p for p in exported if f"({p})" not in index]
    assert not missing, f"docs/index.md does not link {missing}"


def test_every_suite_has_a_page_with_figures_in_the_index():
    index = (DOCS / "index.md").read_text()
    for suite in SUITES:
        assert f"]({suite}.md)" in index
        assert list((DOCS / "figures" / suite).glob("*.png")), suite


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_relative_links_resolve(page):
    text = (DOCS / page).read_text()
    broken = [t for t in LINK.findall(text) if "://" not in t and not (DOCS / t).exists()]
    assert not broken, f"{page}: broken links {broken}"


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_each_suite_page_has_a_filled_claims_table(suite):
    text = (DOCS / f"{suite}.md").read_text()
    # a hand-written table ("paper's claim") or one rendered from the measurements (`core.claims`)
    header = re.search(r"^\|\s*(paper's claim|claim \(as the paper states it\))\s*\|.*\|\s*$", text,
                       re.MULTILINE | re.IGNORECASE)
    assert header, f"docs/{suite}.md has no claims table"
    rows = [line for line in text[header.end():].splitlines()[2:] if line.startswith("|")]
    assert rows and all(line.count("|") >= 4 for line in rows)


def test_every_exported_page_finds_its_plotlyjs():
    """The HTML twins load plotly.js by a relative path (one shared copy in docs/figures)."""
    pages = sorted((DOCS / "figures").glob("*/*.html"))
    assert pages
    for page in pages:
        sources = re.findall(r'<script[^>]+src="([^"]*plotly[^"]*\.js)"', page.read_text())
        assert sources and all((page.parent / src).is_file() for src in sources), page


@pytest.mark.parametrize("name", [n for n in SUITES if get_suite(n).claims is not None])
def test_claims_block_is_rendered_from_the_committed_measurements(name: str) -> None:
    """The page's claims block is exactly `claims(measurements.json)`: a number typed by hand, or
    measurements regenerated without the page (or the reverse), fails here."""
    measurements = json.loads((DOCS / "figures" / name / "measurements.json").read_text())
    page = (DOCS / f"{name}.md").read_text()
    assert read_block(page, f"docs/{name}.md") == get_suite(name).claims(measurements)

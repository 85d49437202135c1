"""Claims tables rendered from measurements, and the block of a docs page that holds one.

A suite's `claims(measurements) -> str` renders `Claim` rows into a Markdown table; its docs page
holds that text between `START` and `END`. `workbench reproduce` rewrites the block from the
measurements it just wrote (`replace_block`), and a test holds the committed page to
`claims(committed measurements)` — so every number in a table comes from `measurements.json`
through code, and a verdict word from a rule the code states.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from workbench.core.atomic import atomic_file

START = "<!-- claims:start -->"
END = "<!-- claims:end -->"
COLUMNS = ("claim (as the paper states it)", "paper's setting", "measured here", "our setting", "verdict")


@dataclass(frozen=True)
class Claim:
    """One row: the claim as the seed states it, the paper's setting, what we measured (numbers
    from the measurements), our setting, and the verdict (a word from a stated rule)."""

    claim: str
    paper_setting: str
    measured: str
    setting: str
    verdict: str


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def table(rows: Sequence[Claim]) -> str:
    """The rows as a Markdown table (pipes escaped, whitespace collapsed), ending in a newline."""
    if not rows:
        raise ValueError("`rows` must hold at least one Claim")
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(getattr(r, f)) for f in ("claim", "paper_setting", "measured", "setting",
                                                                   "verdict")) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _bounds(page: str, name: str) -> tuple[int, int]:
    if page.count(START) != 1 or page.count(END) != 1 or page.index(START) > page.index(END):
        raise ValueError(f"`{name}` must hold exactly one {START} … {END} block, in that order")
    return page.index(START) + len(START), page.index(END)


def read_block(page: str, name: str = "page") -> str:
    """The text between the markers (without the newlines right inside them)."""
    start, end = _bounds(page, name)
    return page[start:end].strip("\n") + "\n"


def replace_block(page: str, block: str, name: str = "page") -> str:
    """`page` with the text between the markers replaced by `block`."""
    start, end = _bounds(page, name)
    return page[:start] + "\n" + block.strip("\n") + "\n" + page[end:]


def rewrite_page(path: str | os.PathLike, block: str) -> Path:
    """Replace the claims block of the docs page at `path` (atomically: a failed write leaves the
    old page)."""
    path = Path(path)
    page = path.read_text(encoding="utf-8")
    new = replace_block(page, block, name=str(path))
    with atomic_file(path) as tmp:
        tmp.write_text(new, encoding="utf-8")
    return path

"""Helpers of the claims-table tests: a fresh copy of a suite's committed measurements, and the
verdicts of a rendered table's rows for one claim."""

from __future__ import annotations

import json
from pathlib import Path

FIGURES = Path(__file__).resolve().parents[2] / "docs" / "figures"


def committed_measurements(suite: str) -> dict:
    """docs/figures/<suite>/measurements.json, read anew (a test may change it)."""
    return json.loads((FIGURES / suite / "measurements.json").read_text())


def verdicts(table: str, quote: str) -> list[str]:
    """The verdict cell of every row whose claim starts with `quote`'s first 40 characters (pipes
    escaped as `workbench.core.claims` writes them)."""
    head = "| " + quote[:40].replace("|", "\\|")
    return [line.rstrip(" |").rsplit("|", 1)[-1].strip() for line in table.splitlines() if line.startswith(head)]

"""QUICK mode from the environment: `WORKBENCH_QUICK=1` (e.g. `WORKBENCH_QUICK=1 make lab`) makes
every notebook's parameters cell start in QUICK form — the small configs tests and CI run — without
editing a cell."""

from __future__ import annotations

import os

QUICK_ENV = "WORKBENCH_QUICK"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def quick_mode() -> bool:
    """True when `$WORKBENCH_QUICK` is 1 / true / yes / on, False when unset, empty or 0 / false /
    no / off (any case); anything else is a ValueError naming the variable and the accepted values."""
    value = os.environ.get(QUICK_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"${QUICK_ENV} must be one of {_TRUE} or {_FALSE[1:]} (or unset); got {value!r}")

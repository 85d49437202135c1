"""`workbench.quick_mode()`: WORKBENCH_QUICK read as a switch, a typo refused by name."""

from __future__ import annotations

import pytest

from workbench import quick_mode


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("TRUE", True), (" yes ", True), ("on", True),
                                                 ("", False), ("0", False), ("False", False), ("off", False)])
def test_the_switch_reads_the_usual_spellings(value, expected, monkeypatch):
    monkeypatch.setenv("WORKBENCH_QUICK", value)
    assert quick_mode() is expected


def test_unset_is_false_and_a_typo_is_an_error(monkeypatch):
    monkeypatch.delenv("WORKBENCH_QUICK", raising=False)
    assert quick_mode() is False
    monkeypatch.setenv("WORKBENCH_QUICK", "ture")
    with pytest.raises(ValueError, match=r"\$WORKBENCH_QUICK must be one of .* got 'ture'"):
        quick_mode()

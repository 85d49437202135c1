"""The panels' own progress line, headless: while a panel builds from an empty cache, the suites' bars
are text in its status line and (in a kernel) in one plain output of the cell, emptied when done;
no tqdm bar prints or becomes a widget, and tqdm and transformers are as they were afterwards."""

from __future__ import annotations

import pytest
import tqdm.auto
from transformers.utils import logging as hf_logging

import widgets.progress as progress
from widgets import CapacityPanel
from widgets.base import Panel
from widgets.progress import ProgressLine, progress_line
from workbench.capacity import CapacityConfig


class FakeHandle:
    """What `IPython.display.display(..., display_id=True)` returns, recording every bundle."""

    def __init__(self, shown: list[dict]) -> None:
        self.shown = shown

    def update(self, bundle: dict, raw: bool = False) -> None:
        assert raw
        self.shown.append(bundle)


@pytest.fixture
def cell(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Pretend to run inside a Jupyter kernel; return the bundles the progress output showed."""
    shown: list[dict] = []

    def display(bundle: dict, raw: bool = False, display_id: bool = False) -> FakeHandle:
        assert raw and display_id, "the progress line is a display handle, updated in place"
        shown.append(bundle)
        return FakeHandle(shown)

    monkeypatch.setattr(progress, "_in_kernel", lambda: True)
    monkeypatch.setattr("IPython.display.display", display)
    return shown


@pytest.fixture
def statuses(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    original = Panel.set_status

    def record(self, text: str, kind: str = "info", code: str | None = None) -> None:
        seen.append((kind, text))
        original(self, text, kind, code)

    monkeypatch.setattr(Panel, "set_status", record)
    return seen


def _tqdm_state() -> dict:
    """The methods a progress line shadows on tqdm.auto's class (tqdm adds a lock and a monitor itself)."""
    return {name: vars(tqdm.auto.tqdm).get(name) for name in progress._PATCHED}


def test_building_a_panel_from_an_empty_cache_shows_its_progress_line(tmp_path, cell, statuses, capsys):
    before, bars_on, verbosity = _tqdm_state(), hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    panel = CapacityPanel(config=CapacityConfig.quick(), cache=tmp_path / "cache")
    # the line showed at once, then the training's bars as text, and ended empty
    assert cell[0]["text/plain"] == "building the capacity panel …"
    assert any("building the capacity panel — " in b["text/plain"] and "/" in b["text/plain"] for b in cell[1:-1])
    assert cell[-1] == {"text/plain": ""}
    assert all(set(b) <= {"text/plain", "text/html"} for b in cell), "no widget in the cell's output"
    # the same text in the panel's own status line, then its description
    busy = [text for kind, text in statuses if kind == "busy"]
    assert busy[0] == "building the capacity panel …" and any(" — " in t and "/" in t for t in busy)
    assert "wb-info" in panel.status.value and "grid cell" in panel.status.value
    # no tqdm bar printed anything; tqdm and transformers are restored
    err = capsys.readouterr().err
    assert "it/s" not in err and "%|" not in err, err
    assert _tqdm_state() == before
    assert (hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()) == (bars_on, verbosity)


def test_outside_a_kernel_nothing_is_displayed(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: pytest.fail("displayed outside a kernel"))
    lines: list[str] = []
    with ProgressLine(lines.append, "work", cell=True):
        for _ in tqdm.auto.tqdm(range(3), desc="steps"):
            pass
    assert lines[0] == "work …" and any("steps" in line for line in lines)
    assert "steps" not in capsys.readouterr().err


def test_a_failed_build_leaves_the_step_it_stopped_at(cell):
    with pytest.raises(RuntimeError), progress_line("the run"):
        for i in tqdm.auto.tqdm(range(5), desc="training"):
            if i == 2:
                raise RuntimeError("boom")
    assert cell[-1]["text/plain"].startswith("the run: stopped at the run — training")
    assert progress._init not in _tqdm_state().values()


def test_transformers_bars_are_off_inside_and_restored_after():
    hf_logging.enable_progress_bar()
    with ProgressLine(lambda _t: None, "boot"):
        assert not hf_logging.is_progress_bar_enabled()
        assert hf_logging.get_verbosity() == hf_logging.ERROR
    assert hf_logging.is_progress_bar_enabled()


def test_a_nested_line_draws_into_the_outer_one():
    outer: list[str] = []
    inner: list[str] = []
    with ProgressLine(outer.append, "outer"), ProgressLine(inner.append, "inner"):
        for _ in tqdm.auto.tqdm(range(2), desc="inside"):
            pass
    assert inner == [] and any("inside" in t for t in outer)

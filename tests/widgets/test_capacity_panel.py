"""The capacity panel, headless: set a control, assert on the FigureWidget's data and the status."""

from __future__ import annotations

import asyncio

import pytest

from widgets import CapacityPanel
from widgets.base import Panel


@pytest.fixture
def panel(quick_result, cache) -> CapacityPanel:
    return CapacityPanel(result=quick_result, cache=cache)


def test_kurtosis_slider_changes_the_bars(panel, quick_result):
    panel.kurtosis.value = 2.0
    low = list(panel.figure.data[0].y)
    panel.kurtosis.value = 30.0
    high = list(panel.figure.data[0].y)
    assert low != high
    assert high == pytest.approx(quick_result.capacities()[2, 1].tolist())
    assert "k = 30" in panel.figure.layout.title.text
    assert "wb-info" in panel.status.value


def test_decay_slider_changes_the_heatmap(panel):
    panel.kurtosis.value = 30.0
    panel.decay.value = 0.9
    before = [list(row) for row in panel.figure.data[1].z]
    panel.decay.value = 0.8
    assert [list(row) for row in panel.figure.data[1].z] != before


def test_bad_d_shows_an_error_in_the_status_line_and_keeps_the_figure(panel):
    before = list(panel.figure.data[0].y)
    panel.d.value = panel.n.value  # d must be < n
    assert "wb-error" in panel.status.value
    assert "`d` must be an integer in [1, n − 1 = 7]" in panel.status.value.replace("&#x27;", "'")
    assert isinstance(panel.last_error, ValueError)
    assert list(panel.figure.data[0].y) == before
    d_error = panel._errors[panel._control_list.index(panel.d)]
    assert "must be an integer in [1, n − 1 = 7]" in d_error.value and d_error.layout.display is None  # beside `d`
    panel.d.value = -2  # no silent clamp to 1: the same error, the box keeps what was typed
    assert panel.d.value == -2 and "got -2" in d_error.value
    panel.d.value = 3  # recovers
    assert "wb-error" not in panel.status.value and d_error.layout.display == "none"


def test_changing_d_retrains_through_the_cache(panel, cache):
    panel.d.value = 3
    assert panel.result.config.d == 3
    assert panel.result.config.d_sweep == ()  # the widget retrains only the grid
    assert "d = 3" in panel.status.value
    assert float(sum(panel.figure.data[0].y)) <= 3 + 1e-4
    assert any((cache.root / "CapacityResult").iterdir())


class CountingPanel(Panel):
    def __init__(self, debounce_s: float) -> None:
        import ipywidgets as w
        import plotly.graph_objects as go

        self.count = 0
        self.slider = w.FloatSlider()
        super().__init__([self.slider], go.Figure(go.Bar(y=[0])), debounce_s=debounce_s)

    def recompute(self) -> None:
        self.count += 1
        self.figure.data[0].y = [self.slider.value]


def test_debounce_merges_a_burst_of_events_inside_an_event_loop():
    async def drag() -> CountingPanel:
        p = CountingPanel(debounce_s=0.05)
        for value in (0.1, 0.2, 0.3, 0.4):
            p.slider.set_state({"value": value})  # as a message from the browser arrives
        assert p.count == 0  # nothing yet: still inside the debounce window
        await asyncio.sleep(0.2)
        return p

    p = asyncio.run(drag())
    assert p.count == 1
    assert list(p.figure.data[0].y) == [0.4]


def test_without_an_event_loop_updates_are_immediate():
    p = CountingPanel(debounce_s=0.05)
    p.slider.value = 0.7
    assert p.count == 1 and list(p.figure.data[0].y) == [0.7]


def test_an_exception_in_recompute_reaches_the_status_line():
    class Broken(CountingPanel):
        def recompute(self) -> None:
            raise RuntimeError("boom")

    p = Broken(debounce_s=0)
    p.slider.value = 1.0
    assert "RuntimeError: boom" in p.status.value and "wb-error" in p.status.value

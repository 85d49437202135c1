"""The shared interactive panel: a row of controls, a plotly FigureWidget and a status line.

Changing any control schedules `recompute()`. Inside a running event loop (a Jupyter kernel) the
call is debounced: a burst of slider events within `debounce_s` leads to one recompute. Without a
loop (a script, a test) it runs at once, so `panel.kurtosis.value = 20.0` followed by a look at
`panel.figure.data` works. An exception in `recompute` is shown in the status line, never lost
in a log, and the figure keeps its last good state.
"""

from __future__ import annotations

import asyncio
import html
import math
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go

STATUS_COLORS = {"info": "#555", "busy": "#8a6d00", "error": "#b00020"}
LOG_STEP = 0.01  # of a log slider, in decades


def log_slider(value: float, low: float, high: float, description: str, step: float = LOG_STEP,
               **kwargs: Any) -> widgets.FloatLogSlider:
    """A base-10 log slider over [10**low, 10**high] starting at the point of its step grid
    (10**(low + k·step)) nearest `value`, clamped to the range.

    Start ON the grid: otherwise the browser snaps the value when the slider first renders and
    sends it back, overwriting any value a later cell has set meanwhile."""
    if not (math.isfinite(low) and math.isfinite(high) and low <= high and step > 0):
        raise ValueError(f"a log slider needs finite low <= high and step > 0; got {low}, {high}, {step}")
    exponent = math.log10(value) if value > 0 else low
    top = math.floor((high - low) / step + 1e-9)  # the last grid point at or below `high`
    k = min(max(round((exponent - low) / step), 0), top)
    options = dict(base=10, min=low, max=high, step=step, description=description, readout_format=".3g",
                   continuous_update=True) | kwargs
    return widgets.FloatLogSlider(value=10 ** (low + k * step), **options)


class Panel(widgets.VBox):
    """Base class: subclasses build controls and a figure, then implement `recompute()`."""

    def __init__(self, controls: Sequence[widgets.Widget], figure: go.Figure, debounce_s: float = 0.15) -> None:
        super().__init__()
        self.figure = go.FigureWidget(figure)
        self.status = widgets.HTML()
        self.debounce_s = float(debounce_s)
        self.last_error: Exception | None = None
        self._pending: asyncio.TimerHandle | None = None
        self.controls = widgets.HBox(list(controls), layout=widgets.Layout(flex_flow="row wrap"))
        for control in controls:
            control.observe(self._on_change, names="value")
        self.children = [self.controls, self.figure, self.status]
        self.set_status("ready")

    def recompute(self) -> None:
        """Read the controls and update `self.figure` (inside `self.figure.batch_update()`)."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line for the status bar after a successful recompute."""
        return "ready"

    def refresh(self) -> bool:
        """Run `recompute` now; return False (and show the error) if it raised."""
        self._pending = None
        try:
            self.recompute()
        except Exception as err:  # noqa: BLE001 - any failure must reach the user, in the widget
            self.last_error = err
            self.set_status(f"{type(err).__name__}: {err}", kind="error")
            return False
        self.last_error = None
        self.set_status(self.describe())
        return True

    def set_status(self, text: str, kind: str = "info") -> None:
        """Show `text` in the status line; kind is 'info', 'busy' or 'error'."""
        color = STATUS_COLORS.get(kind, STATUS_COLORS["info"])
        self.status.value = f'<span class="wb-status wb-{kind}" style="color:{color}">{html.escape(text)}</span>'

    def _on_change(self, _change: dict) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or self.debounce_s <= 0:
            self.refresh()
            return
        if self._pending is not None:
            self._pending.cancel()
        self._pending = loop.call_later(self.debounce_s, self.refresh)

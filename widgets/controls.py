"""Controls that never change a value silently: a value outside a slider's range raises, naming the
control and its range, instead of ipywidgets' quiet clamp; a log slider starts on its step grid.

The browser cannot send an out-of-range value from a dragged slider; these guard the code path
(`panel.alpha.value = 5`) and a typed readout, where a clamp would leave the plot showing a value
nobody asked for.
"""

from __future__ import annotations

import math
from typing import Any

import ipywidgets as widgets
from traitlets import TraitError, validate

LOG_STEP = 0.01  # of a log slider, in decades


def _check_range(control: widgets.Widget, value: float, low: float, high: float) -> float:
    if not (low <= value <= high):
        label = control.description or type(control).__name__
        raise TraitError(f"`{label}` must be in [{low:g}, {high:g}]; got {value:g}")
    return value


class FloatSlider(widgets.FloatSlider):
    """ipywidgets' FloatSlider, raising on a value outside [min, max] instead of clamping it."""

    @validate("value")
    def _validate_value(self, proposal: dict) -> float:
        return _check_range(self, proposal["value"], self.min, self.max)


class IntSlider(widgets.IntSlider):
    """ipywidgets' IntSlider, raising on a value outside [min, max] instead of clamping it."""

    @validate("value")
    def _validate_value(self, proposal: dict) -> int:
        return int(_check_range(self, proposal["value"], self.min, self.max))


class FloatLogSlider(widgets.FloatLogSlider):
    """ipywidgets' FloatLogSlider, raising on a value outside [base**min, base**max]."""

    @validate("value")
    def _validate_value(self, proposal: dict) -> float:
        low, high = self.base ** self.min, self.base ** self.max
        # the grid's end points are computed in floating point: allow their round-off
        return _check_range(self, proposal["value"], low * (1 - 1e-12), high * (1 + 1e-12))


def log_slider(value: float, low: float, high: float, description: str, step: float = LOG_STEP,
               **kwargs: Any) -> FloatLogSlider:
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
    return FloatLogSlider(value=10 ** (low + k * step), **options)


def grid_slider(values: Any, value: float, description: str, fmt: str = "g") -> widgets.SelectionSlider:
    """A slider over exactly the grid `values` a result was computed on: its readout is the value the
    plot shows (a continuous slider read 2.30 while the plot showed the nearest cell, k = 2)."""
    grid = [float(v) for v in values]
    start = min(grid, key=lambda v: abs(v - value))
    return widgets.SelectionSlider(options=[(format(v, fmt), v) for v in grid], value=start,
                                   description=description, continuous_update=True)

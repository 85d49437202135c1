"""Controls that never change a value silently: a value outside a slider's range raises, naming the
control and its range, instead of ipywidgets' quiet clamp; a log slider starts on its step grid.

The browser cannot send an out-of-range value from a dragged slider, but it clamps a value typed
into a slider's readout before the kernel sees it (α 5 became 2, silently). So a panel turns the
readout off and puts a `typed_box` beside each range slider: what is typed there reaches the kernel
as text, is parsed and range-checked there, and is applied only when valid (the panel shows the
error beside the control otherwise). The validators below guard the code path
(`panel.alpha.value = 5`) the same way.
"""

from __future__ import annotations

import math
from typing import Any

import ipywidgets as widgets
from traitlets import TraitError, validate

LOG_STEP = 0.01  # of a log slider, in decades
TYPED_CLASS = "wb-typed"  # the DOM class of a slider's typed box (the browser tests find it by it)


def value_range(slider: widgets.Widget) -> tuple[float, float]:
    """The values `slider` can show: [min, max], or [base**min, base**max] for a log slider."""
    if isinstance(slider, widgets.FloatLogSlider):
        return slider.base ** slider.min, slider.base ** slider.max
    return slider.min, slider.max


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
        low, high = value_range(self)
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


RANGE_SLIDERS = (FloatSlider, IntSlider, FloatLogSlider)


def slider_text(slider: widgets.Widget) -> str:
    """The slider's value as its readout would print it."""
    return format(slider.value, slider.readout_format)


def typed_box(slider: widgets.Widget) -> widgets.Text:
    """A text box showing `slider`'s value, for typing one; the slider's own (clamping) readout is
    turned off. Parse what is typed with `parse_typed`."""
    slider.readout = False
    box = widgets.Text(value=slider_text(slider), continuous_update=False, placeholder="type, then ⏎",
                       tooltip=f"type a value for {slider.description}, then press Enter",
                       layout=widgets.Layout(width="84px"))
    box.add_class(TYPED_CLASS)
    return box


def on_step(slider: widgets.Widget, value: float) -> float:
    """`value` moved to the nearest point of `slider`'s step grid (min + k·step; for a log slider
    base**(min + k·step)), as the browser would move it when it draws the slider — and then send
    the moved value back, so a typed 3 would quietly become 3.02 after the plot showed 3."""
    if isinstance(slider, widgets.FloatLogSlider):
        if value <= 0:
            return value  # out of range: the slider's validator names it
        k = round((math.log(value, slider.base) - slider.min) / slider.step)
        return slider.base ** (slider.min + k * slider.step)
    if isinstance(slider, widgets.FloatSlider) and slider.step:
        return round(slider.min + round((value - slider.min) / slider.step) * slider.step, 12)
    return value


def parse_typed(slider: widgets.Widget, text: str) -> float | int:
    """`text` as a value for `slider` (an int for an IntSlider, a float on its step grid otherwise,
    `on_step`); ValueError naming the slider when it is not a number, or not an integer where one is
    needed. The range is the slider's to check."""
    label = slider.description or type(slider).__name__
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"`{label}` must be a number; got {text.strip()!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"`{label}` must be finite; got {text.strip()!r}")
    if isinstance(slider, widgets.IntSlider):
        if not value.is_integer():
            raise ValueError(f"`{label}` must be an integer; got {text.strip()!r}")
        return int(value)
    # the typed value is range-checked, not its rounding onto the grid
    return on_step(slider, _check_range(slider, value, *value_range(slider)))

"""The shared widget pieces (widgets/base.py), headless."""

from __future__ import annotations

import math

import pytest

from widgets.base import log_slider


@pytest.mark.parametrize("value, low, high", [(0.0173, -4, 0), (5.5, math.log10(2), math.log10(30)), (1.0, -1.3, 1.7),
                                              (1e-6, -4, 0), (50.0, 0, 1.005)])
def test_a_log_slider_starts_on_its_step_grid_nearest_the_value(value, low, high):
    s = log_slider(value, low, high, "x")
    k = (math.log10(s.value) - low) / s.step
    assert k == pytest.approx(round(k), abs=1e-6)  # on the grid: the browser has nothing to snap
    assert 10 ** low * (1 - 1e-12) <= s.value <= 10 ** high * (1 + 1e-12)
    wanted = min(max(math.log10(value), low), high)
    assert abs(math.log10(s.value) - wanted) <= s.step / 2 + 1e-9
    assert (s.min, s.max, s.base, s.description) == (low, high, 10, "x")

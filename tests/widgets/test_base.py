"""The shared widget pieces (widgets/base.py), headless."""

from __future__ import annotations

import asyncio
import html
import math

import ipywidgets as widgets
import plotly.graph_objects as go
import pytest
from traitlets import TraitError

from widgets.base import Panel, log_slider
from widgets.controls import FloatSlider, IntSlider, grid_slider
from workbench.core.paths import PROJECT_ROOT
from workbench.plots.export import DOCS_ENV, figures_root


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


# --- the Panel's contract: no stale state, errors beside their control, export ------------------

class OnePanel(Panel):
    """One slider and one int box; recompute plots the slider's value and rejects a negative box."""

    suite = "testsuite"

    def __init__(self, debounce_s: float = 0.05) -> None:
        self.count = 0
        self.slider = FloatSlider(value=0.5, min=0.0, max=1.0, description="s")
        self.box = widgets.IntText(value=1, description="box")
        super().__init__([self.slider, self.box], go.Figure(go.Bar(y=[0.5])), debounce_s=debounce_s)

    def recompute(self) -> None:
        if self.box.value < 0:
            raise ValueError(f"`box` must be >= 0; got {self.box.value}")
        self.count += 1
        with self.figure.batch_update():
            self.figure.data[0].y = [self.slider.value]


def test_a_value_set_from_code_inside_an_event_loop_recomputes_before_the_next_line():
    async def cell() -> tuple[int, list]:
        p = OnePanel()
        p.slider.value = 0.9  # what a notebook cell does, inside the kernel's running loop
        return p.count, list(p.figure.data[0].y)

    assert asyncio.run(cell()) == (1, [0.9])


def test_after_a_recompute_a_new_view_or_a_reloaded_page_gets_the_current_figure():
    p = OnePanel()
    p.slider.value = 0.25
    # the synced state a new view renders from (plotly sends updates only as messages)
    assert p.figure._widget_data[0]["y"] == (0.25,) or list(p.figure._widget_data[0]["y"]) == [0.25]


def test_an_error_shows_beside_the_control_it_names_and_greys_the_stale_output():
    p = OnePanel()
    p.slider.value = 0.3  # the last control changed is the slider, but the message names `box`
    p.box.value = -2
    slot = p._errors[1]
    assert "must be &gt;= 0" in slot.value and slot.layout.display is None
    assert p._errors[0].layout.display == "none"
    assert "wb-stale" in p.figure_box._dom_classes and "wb-error" in p.status.value
    assert list(p.figure.data[0].y) == [0.3]  # the last good figure stays, greyed
    p.box.value = 2
    assert slot.layout.display == "none" and "wb-stale" not in p.figure_box._dom_classes


def test_sliders_refuse_a_value_outside_their_range_instead_of_clamping():
    p = OnePanel()
    with pytest.raises(TraitError, match=r"`s` must be in \[0, 1\]; got 5"):
        p.slider.value = 5.0
    assert p.slider.value == 0.5
    s = log_slider(1.0, -1, 1, "r")
    with pytest.raises(TraitError, match=r"\[0.1, 10\]"):
        s.value = 100.0


def test_a_grid_slider_reads_out_the_grid_value_it_selects():
    s = grid_slider((1.5, 2.0, 10.0), 9.0, "k")
    assert s.value == 10.0 and s.label == "10"
    assert [label for label, _ in s.options] == ["1.5", "2", "10"]


def test_figures_root_comes_from_the_package_not_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv(DOCS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # a kernel runs in the notebook's folder
    assert figures_root() == PROJECT_ROOT / "docs" / "figures"
    monkeypatch.setenv(DOCS_ENV, str(tmp_path / "figs"))
    assert figures_root() == tmp_path / "figs"


def test_export_writes_png_and_html_to_the_suite_docs_folder_and_shows_a_snippet(tmp_path, monkeypatch):
    monkeypatch.setenv(DOCS_ENV, str(tmp_path / "figures"))
    p = OnePanel()
    p.slider.value = 0.75
    paths = p.export()
    folder = tmp_path / "figures" / "testsuite"
    assert paths == [folder / "panel_slider0.75_box1.png", folder / "panel_slider0.75_box1.html"]
    assert all(path.stat().st_size > 0 for path in paths)
    assert (tmp_path / "figures" / "plotly.min.js").is_file()  # shared by every suite's pages
    assert "0.75" in paths[1].read_text()  # the figure as it is now, not as built
    assert "![panel slider0.75 box1](figures/testsuite/panel_slider0.75_box1.png)" in html.unescape(p.status.value)
    named = p.export(name="my fig", folder=tmp_path / "elsewhere", formats=("html",))
    assert named == [tmp_path / "elsewhere" / "my-fig.html"]
    p._export_clicked()  # the button's handler: same files, status says so
    assert "exported" in p.status.value and "wb-error" not in p.status.value


# --- typed values: checked in the kernel, never clamped by the browser; every error stays -------

def test_a_slider_gets_a_typed_box_instead_of_its_clamping_readout():
    p = OnePanel()
    assert p.slider.readout is False and p.typed[0].value == "0.50"
    assert 1 not in p.typed  # the int box is typed into already
    p.slider.value = 0.25  # a drag or code: the box follows
    assert p.typed[0].value == "0.25"


@pytest.mark.parametrize(("text", "message"), [("5", r"`s` must be in \[0, 1\]; got 5 — not applied"),
                                               ("abc", "`s` must be a number; got 'abc' — not applied"),
                                               ("nan", "`s` must be finite; got 'nan' — not applied")])
def test_an_unusable_typed_value_is_not_applied_and_its_error_stays_beside_the_control(text, message):
    import re

    p = OnePanel()
    p.slider.value = 0.3
    p.typed[0].value = text  # what the browser sends on Enter
    assert p.slider.value == 0.3 and list(p.figure.data[0].y) == [0.3]  # not clamped to 1, not applied
    assert re.search(message, html.unescape(p._errors[0].value)) and p._errors[0].layout.display is None
    assert "wb-error" in p.status.value and p.typed[0].value == text  # what the user typed stays visible
    p.box.value = 2  # another control recomputes fine: the typed error stays until it is fixed
    assert re.search(message, html.unescape(p._errors[0].value))
    p.typed[0].value = "0.7"
    assert p.slider.value == 0.7 and list(p.figure.data[0].y) == [0.7] and p._errors[0].layout.display == "none"


def test_an_int_slider_refuses_a_fraction_typed_into_its_box():
    class IntPanel(OnePanel):
        def __init__(self) -> None:
            self.count = 0
            self.slider = IntSlider(value=1, min=0, max=4, description="budget")
            self.box = widgets.IntText(value=1, description="box")
            Panel.__init__(self, [self.slider, self.box], go.Figure(go.Bar(y=[1])))

    p = IntPanel()
    p.typed[0].value = "2.5"
    assert p.slider.value == 1 and "`budget` must be an integer; got '2.5'" in html.unescape(p._errors[0].value)
    p.typed[0].value = "99"
    assert p.slider.value == 1 and "`budget` must be in [0, 4]; got 99" in html.unescape(p._errors[0].value)
    p.typed[0].value = "3"
    assert p.slider.value == 3 and p._errors[0].layout.display == "none"


def test_every_controls_error_stays_visible_until_that_control_is_fixed():
    """Two bad boxes: the first one's error does not vanish when the second gets one."""
    class TwoBoxes(Panel):
        suite = "testsuite"

        def __init__(self) -> None:
            self.n = widgets.IntText(value=8, description="n")
            self.d = widgets.IntText(value=3, description="d")
            super().__init__([self.n, self.d], go.Figure(go.Bar(y=[3])))

        def recompute(self) -> None:
            if self.n.value < 2:
                raise ValueError(f"`n` must be an integer ≥ 2; got {self.n.value}")
            if not 1 <= self.d.value <= self.n.value - 1:
                raise ValueError(f"`d` must be an integer in [1, n − 1 = {self.n.value - 1}]; got {self.d.value}")
            self.show(go.Figure(go.Bar(y=[self.d.value])))

    p = TwoBoxes()
    p.d.value = 0
    p.n.value = 0
    shown = [html.unescape(e.value) for e in p._errors]
    assert shown == ["`n` must be an integer ≥ 2; got 0", "`d` must be an integer in [1, n − 1 = 7]; got 0"]
    p.n.value = 8  # n fixed: d is checked again and still fails, with the bound of the new n
    assert p._errors[0].layout.display == "none"
    assert html.unescape(p._errors[1].value) == "`d` must be an integer in [1, n − 1 = 7]; got 0"
    p.d.value = 2
    assert all(e.layout.display == "none" for e in p._errors) and list(p.figure.data[0].y) == [2]


def test_a_typed_value_lands_on_the_sliders_step_grid_and_the_box_says_so():
    """The browser would move a typed 3 to the log slider's grid point 3.02 and send it back; the
    kernel moves it first, so the plot, the box and the export all say 3.02. The range is checked on
    the typed value, not on its rounding."""
    class LogPanel(OnePanel):
        def __init__(self) -> None:
            self.count = 0
            self.slider = log_slider(1.0, -1, 2, "r")
            self.box = widgets.IntText(value=1, description="box")
            Panel.__init__(self, [self.slider, self.box], go.Figure(go.Bar(y=[1.0])))

    p = LogPanel()
    p.typed[0].value = "3"
    assert p.slider.value == pytest.approx(10 ** 0.48) and p.typed[0].value == "3.02"
    assert list(p.figure.data[0].y) == [p.slider.value]
    p.typed[0].value = "100.1"  # just past the end: refused, not rounded into range
    assert p.slider.value == pytest.approx(10 ** 0.48) and "got 100.1" in html.unescape(p._errors[0].value)

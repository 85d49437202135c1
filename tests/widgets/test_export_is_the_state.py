"""Every panel exports the figure its plots function builds from the panel's state (the one on
screen), never the FigureWidget's synced copy, which the browser's echo can overwrite: after the
controls move and the widget copy is emptied (every trace's data set to None, as a relayout echo
can leave it), `export` still writes the full figure."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import pytest

import widgets.base as base
from widgets import AcePanel, CapacityPanel, GoldilocksPanel, RobustnessPanel
from workbench.plots import ace as ace_plots
from workbench.plots import capacity as capacity_plots
from workbench.plots import goldilocks_panel as goldilocks_plots
from workbench.plots import robustness as robustness_plots


def _moved(suite: str, request) -> tuple[base.Panel, go.Figure]:
    """A panel of `suite` after its controls moved, and the figure its plots function builds for
    that state, computed here from the result (the oracle)."""
    if suite == "capacity":
        r = request.getfixturevalue("quick_result")
        p = CapacityPanel(result=r)
        p.kurtosis.value, p.decay.value = r.config.kurtosis[-1], r.config.decay[0]
        return p, capacity_plots.panel_figure(r, len(r.config.kurtosis) - 1, 0)
    if suite == "goldilocks":
        r = request.getfixturevalue("gl_quick")
        p = GoldilocksPanel(result=r)
        p.ratio.value = 10.0
        act = r.config.activations[-1]
        p.activation.value = act
        d = r.config.hessian_dim
        # the marker on the curves' planes: every seed's (`point`), as the result's curves average
        sweep, planes = p.probe.curves(act, d)
        return p, goldilocks_plots.panel_figure(list(r.config.ratios), sweep, p.ratio.value,
                                                p.point(act, d, p.ratio.value), act, planes)
    if suite == "robustness":
        r = request.getfixturevalue("robustness_quick")
        p = RobustnessPanel(result=r)
        p.round.value, p.budget.value, p.threshold.value = r.config.rounds, r.config.max_budget, 0.003
        return p, robustness_plots.panel_figure(r, p.round.value, p.threshold.value, p.budget.value,
                                                p.probe.saliency(p.round.value, p.text.value), p.point)
    r = request.getfixturevalue("ace_quick")
    p = AcePanel(result=r, cache=request.getfixturevalue("session_cache"))
    p.method.value, p.alpha.value = "actadd", 1.0
    return p, ace_plots.panel_curve(r, 0, "actadd", 1.0)


def _data(fig: go.Figure) -> list[dict]:
    return [{k: t.get(k) for k in ("type", "name", "x", "y", "z", "mode", "line", "marker")}
            for t in json.loads(fig.to_json())["data"]]


@pytest.mark.parametrize("suite", ["capacity", "goldilocks", "robustness", "ace"])
def test_export_writes_the_state_figure_even_when_the_widget_copy_is_emptied(suite, request, tmp_path, monkeypatch):
    panel, expected = _moved(suite, request)
    assert _data(go.Figure(panel.figure)) == _data(expected)  # the screen is the plots function's figure
    for trace in panel.figure.data:  # what a front-end echo can leave in the Python copy
        trace.x, trace.y = None, None
    written: dict[str, go.Figure] = {}
    monkeypatch.setattr(base, "export_figures",
                        lambda figures, folder, formats: written.update(figures) or [tmp_path / "x.html"])
    panel.export(name="state", folder=tmp_path, formats=("html",))
    assert _data(written["state"]) == _data(expected)
    assert written["state"].layout.title.text == expected.layout.title.text


def test_show_replaces_traces_instead_of_merging_them(request):
    """A property the new figure leaves out (here a marker colour) does not linger from the old one."""
    panel = CapacityPanel(result=request.getfixturevalue("quick_result"))
    panel.figure.data[0].marker.color = "#123456"
    fresh = capacity_plots.panel_figure(panel.result, *panel._cell)
    panel.show(fresh)
    assert panel.figure.data[0].marker.color == fresh.data[0].marker.color

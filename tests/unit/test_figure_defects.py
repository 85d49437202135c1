"""The docs figures show what is true (issue 25): a zero is drawn as zero, never as a gap or as a
floor value that reads as a measurement; thresholds and zones are named; notation renders."""

from __future__ import annotations

import math

import pytest

from workbench.capacity.analysis import best_over_seeds
from workbench.capacity.capacity import capacity
from workbench.goldilocks.summary import curve_peak
from workbench.plots import capacity as cap_plots
from workbench.plots import goldilocks as gl_plots
from workbench.plots import robustness as rob_plots
from workbench.robustness.conservative import conservative_threshold


def _texts(fig) -> str:
    """Every title, axis title, colour-bar title, trace and shape name of `fig`, joined."""
    layout = fig.layout.to_plotly_json()
    parts = [str(layout.get("title", {}).get("text", ""))]
    parts += [str(v.get("title", {}).get("text", "")) for k, v in layout.items() if k.startswith(("xaxis", "yaxis"))]
    parts += [a.text or "" for a in fig.layout.annotations] + [s.name or "" for s in fig.layout.shapes]
    for trace in fig.data:
        parts.append(trace.name or "")
        bar = getattr(trace, "colorbar", None)
        if bar is not None and bar.title is not None:
            parts.append(bar.title.text or "")
    return " | ".join(parts)


def test_capacity_architectures_draw_zero_capacity_as_a_marker_on_the_axis(quick_result):
    fig = cap_plots.architecture_comparison(quick_result)
    relu_C = capacity(best_over_seeds(quick_result.relu_W, quick_result.relu_loss))
    quad_C = capacity(best_over_seeds(quick_result.paired_W, quick_result.paired_loss))
    zeros = int((relu_C < cap_plots.ZERO_CAPACITY).sum() + (quad_C < cap_plots.ZERO_CAPACITY).sum())
    assert zeros > 0  # p = 1 ignores features: the case the issue saw as a half-empty pane
    marks = [t for t in fig.data if t.type == "scatter" and t.x and t.x[0] is not None]
    assert sum(len(t.x) for t in marks) == zeros and all(y == 0.0 for t in marks for y in t.y)
    assert any("= 0" in (t.name or "") or "≈ 0" in (t.name or "") for t in fig.data if t.showlegend is not False)
    assert fig.layout.yaxis.range[0] < 0  # the markers at 0 are inside the plot, not on its edge


def test_capacity_notation_renders_and_the_colorbar_title_sits_beside_its_ticks(quick_result):
    phase = cap_plots.phase_diagram(quick_result)
    assert "λ<sup>i</sup>" in _texts(phase) and "λ^i" not in _texts(phase)
    bar = [t for t in phase.data if t.showscale][0].colorbar
    assert bar.title.side == "right"
    figs = cap_plots.all_figures(quick_result)  # 7 and 8 come from capacity_theory, drawn in their own notation
    panel = cap_plots.panel_figure(quick_result, 1, 1)
    for fig in (*(figs[k] for k in figs if k[0] in "123456"), panel.update_layout(title=None)):
        text = _texts(fig)  # (the panel's title is `panel_updates`', the widget's live line)
        assert "C_i" not in text and "G_ij" not in text and "^i" not in text, text
    assert panel.layout.xaxis2.title.text and panel.layout.yaxis2.title.text  # the heatmap's axes are named
    assert "C<sub>i</sub>" in _texts(panel) and "G<sub>ij</sub>" in _texts(panel)


def test_goldilocks_trace_ratio_shades_the_zone_and_keeps_labels_apart(gl_quick):
    fig = gl_plots.trace_ratio_figure(gl_quick)
    c = gl_quick.config
    expect = curve_peak(c.ratios, gl_quick.trace_ratio("plane")[0].mean((0, 1)))["half_peak_range"]
    zones = [s for s in fig.layout.shapes if s.type == "rect"]
    assert zones and (zones[0].x0, zones[0].x1) == pytest.approx(tuple(expect))
    assert zones[0].showlegend and "½ its peak" in zones[0].name  # says how the zone is defined
    labels = [(a.x, a.y, a.yref) for a in fig.layout.annotations if a.text and "r_init" in a.text or a.text == "He"]
    assert len(labels) == len(set(labels))  # no two labels at one spot
    assert {t.legend for t in fig.data if t.showlegend is not False} <= {"legend", "legend2"}
    if c.sphere:  # one legend per pane, each starting under its pane
        assert fig.layout.legend2.x == pytest.approx(fig.layout.xaxis2.domain[0])
        hatched = [t for t in fig.data if t.fill == "toself" and t.fillpattern and t.fillpattern.shape]
        assert len(hatched) == len(c.activations)



def test_goldilocks_intrinsic_dimension_keeps_its_key_off_the_curves(gl_quick):
    """Figure 6: the reference line's explanation sits under the title (on the plot it crossed the
    curves lying on that line), coinciding curves stay visible (the one drawn first is wider), and
    the not-reached markers of one radius stand apart (each above the last, beyond a marker's size)."""
    fig = gl_plots.intrinsic_dimension_figure(gl_quick)
    assert [a.text for a in fig.layout.annotations if a.text] == ["r_init"]
    assert "open markers" in fig.layout.title.text and "largest d" in fig.layout.title.text
    curves = [t for t in fig.data if t.showlegend is not False]
    planes = [t.line.width for t in curves if "hyperplanes" in t.name]
    assert planes == sorted(planes, reverse=True) and len(set(planes)) == len(planes)
    missed = [t for t in fig.data if t.showlegend is False and t.y]
    heights = sorted(t.y[0] for t in missed)
    assert all(b / a >= 1.25 for a, b in zip(heights, heights[1:]))
    assert math.log10(heights[-1]) < fig.layout.yaxis.range[1] - 0.05  # the top marker is inside the plot

def test_robustness_threshold_sweep_draws_zero_in_its_own_strip_and_marks_both_thresholds(robustness_quick):
    result = robustness_quick
    fig = rob_plots.threshold_sweep(result)
    log_pane = [t for t in fig.data if t.yaxis == "y"]
    assert all(y is None or y > rob_plots.FLOOR for t in log_pane for y in t.y)  # no floor value posing as data
    sweep = result.rounds_info[0]["fresh"]["sweep"]
    zeros = sum(row["rate"] == 0 for row in sweep) + sum(row["safe_lost"] == 0 for row in sweep)
    strip = [t for t in fig.data if t.yaxis == "y2"]
    assert sum(y == 0 for t in strip for y in t.y) == zeros
    assert list(fig.layout.yaxis2.ticktext)[0].startswith("0")
    t_c = conservative_threshold(result)
    named = [s.name for s in fig.layout.shapes if s.showlegend]
    assert any("conservative" in n and f"{t_c:.3g}" in n for n in named)
    assert any(f"{float(result.thresholds[0]):.3g}" in n for n in named)  # the threshold it was measured at
    assert any(s.x0 == pytest.approx(t_c) for s in fig.layout.shapes)


def test_robustness_quality_writes_zero_on_zero_bars_and_shows_the_conservative_threshold(robustness_quick):
    result = robustness_quick
    fig = rob_plots.quality_figure(result)
    t_c = conservative_threshold(result)
    assert len(fig.data) == len({0, result.config.rounds}) + 1  # the rounds' chosen t, then t_c
    assert f"t_c = {t_c:.3g}" in fig.data[-1].name
    assert all("t = " in t.name or "t_c = " in t.name for t in fig.data)  # each bar set names its threshold
    for bar in fig.data:
        assert [text for y, text in zip(bar.y, bar.text) if y == 0] == ["0"] * sum(y == 0 for y in bar.y)

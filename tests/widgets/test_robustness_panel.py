"""The robustness panel, headless: set a control, assert on the FigureWidget's data, the tool and the status."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import pytest

from widgets import RobustnessPanel
from widgets.robustness import sweep_samples
from workbench.plots.robustness import PANEL_INDEX, panel_figure, panel_zero
from workbench.robustness import ATTACKS, RobustnessResult
from workbench.robustness.attacks import saliency_tool, whole_word_mask
from workbench.robustness.filtering import group_weights, sweep_point


@pytest.fixture(scope="module")
def result(robustness_quick) -> RobustnessResult:
    return robustness_quick


@pytest.fixture(scope="module")
def panel(result) -> RobustnessPanel:
    return RobustnessPanel(result=result)


def test_threshold_slider_moves_the_filter_point_and_the_counts(panel):
    panel.threshold.value = 0.9
    high = (
        list(panel.figure.data[PANEL_INDEX["point"]].x),
        list(panel.figure.data[PANEL_INDEX["point"]].y),
        panel.status.value,
    )
    panel.threshold.value = 0.001
    low = (
        list(panel.figure.data[PANEL_INDEX["point"]].x),
        list(panel.figure.data[PANEL_INDEX["point"]].y),
        panel.status.value,
    )
    assert high[0] != low[0] and high[1] != low[1] and high[2] != low[2]
    assert low[0][0] == pytest.approx(0.001)
    # a low threshold rejects more safe completions than a high one
    assert panel.point["safe_lost"] > 0
    assert panel.point["threshold"] == pytest.approx(0.001)
    assert "TP" in panel.status.value and "wb-info" in panel.status.value


def test_budget_slider_reads_the_success_curve(panel, result):
    panel.budget.value = 0
    assert list(panel.figure.data[PANEL_INDEX['budget']].x) == [0] * len(ATTACKS)
    panel.budget.value = result.config.max_budget
    assert list(panel.figure.data[PANEL_INDEX["budget"]].y) == pytest.approx(
        [float(result.success_curve(0, a)[-1]) for a in ATTACKS]
    )


def test_round_slider_switches_classifier_and_curves(panel, result):
    panel.round.value = 0
    before = list(panel.figure.data[0].y)
    panel.round.value = 1
    assert list(panel.figure.data[0].y) != before
    assert list(panel.figure.data[PANEL_INDEX["attacks"]].y) == pytest.approx(
        result.success_curve(1, "hotflip").tolist()
    )
    assert "round 1" in panel.status.value
    panel.round.value = 0


def test_the_tool_rescores_as_the_text_changes(panel):
    panel.text.value = "Maya slipped on the wet tiles and broke her wrist."
    injured = (list(panel.figure.data[PANEL_INDEX['saliency']].x), panel.tool.value)
    panel.text.value = "Maya cleaned the bowl and smiled."
    calm = (list(panel.figure.data[PANEL_INDEX['saliency']].x), panel.tool.value)
    assert injured[0] != calm[0] and "wrist" in " ".join(injured[0])
    score = lambda html: float(html.split('class="wb-score">')[1].split("<")[0])  # noqa: E731
    assert score(injured[1]) > score(calm[1])
    assert "best swaps" in calm[1]


def test_a_text_longer_than_the_classifier_reads_says_it_is_cut(panel):
    clf = panel.classifier(panel.round.value)
    panel.text.value = "Maya slipped on the wet tiles and broke her wrist. " * 12
    n = len(clf.tokenizer(panel.text.value)["input_ids"])
    assert n > clf.max_length and f"reads the first {clf.max_length} tokens; this text has {n}" in panel.tool.value
    panel.text.value = "Maya slipped on the wet tiles and broke her wrist."
    assert "not scored" not in panel.tool.value


def test_an_empty_text_shows_an_error_and_keeps_the_figure(panel):
    before = list(panel.figure.data[PANEL_INDEX['saliency']].x)
    panel.text.value = "   "
    assert "wb-error" in panel.status.value and "`text`" in panel.status.value
    assert list(panel.figure.data[PANEL_INDEX['saliency']].x) == before
    panel.text.value = "Leo broke his arm."
    assert "wb-error" not in panel.status.value


def test_after_moving_the_controls_the_figure_is_a_fresh_panel_figure(panel, result):
    c = result.config
    panel.threshold.value, panel.round.value, panel.budget.value = 0.003, 1, c.max_budget
    t = panel.threshold.value
    point = sweep_point(group_weights(result.gen_weight, result.group), result.scores[1], result.labels, t,
                        panel.probe.samples, c.max_resamples, c.seed)
    clf = result.classifier(1)
    sal = saliency_tool(clf, panel.text.value, per_token=3, vocab_ok=whole_word_mask(clf))
    fresh = panel_figure(result, 1, t, c.max_budget, sal, point)
    assert len(panel.figure.data) == len(fresh.data)
    for shown, built in zip(panel.figure.data, fresh.data):
        assert (shown.type, shown.name) == (built.type, built.name)
        assert list(shown.x) == list(built.x)
        assert list(shown.y) == pytest.approx(list(built.y))
    # the hover, too, is this round's (json: plotly stores these arrays in several forms)
    shown, built = (json.loads(go.Figure(f).to_json())["data"] for f in (panel.figure, fresh))
    assert [(t.get("customdata"), t.get("hovertext")) for t in shown] == [
        (t.get("customdata"), t.get("hovertext")) for t in built
    ]
    panel.round.value = 0


def test_the_threshold_point_is_the_curves_estimator_and_says_so(panel, result):
    """The × is a filter sample of as many prompts as each point of the sweep, with its seed: at a
    threshold of the sweep it is that point (unsafe rate and safe lost), and its legend says so."""
    rows = result.rounds_info[0]["sweep"]
    assert panel.probe.samples == sweep_samples(result) == rows[0]["n"]
    panel.round.value = 0
    zero = panel_zero(result, 0, panel.point)
    for row in (rows[1], rows[len(rows) // 2]):
        panel.threshold.value = row["threshold"]
        assert panel.point["unsafe"] == row["unsafe"] and panel.point["accepted"] == row["accepted"]
        x = panel.shown.data[PANEL_INDEX["point"]]
        assert list(x.y) == pytest.approx([row["rate"] or zero, row["safe_lost"] or zero])
    names = [t.name for t in panel.shown.data[:5]]
    expected = f"current threshold: {rows[0]['n']:,} prompts filtered, as each point of the curves"
    assert names[PANEL_INDEX["point"]] == expected
    assert names[PANEL_INDEX["zeros"]] == "exactly 0 (on the axis' 0)"


def test_a_zero_rate_reads_zero_not_a_floor_value(panel, result):
    """Zero rates break the lines and sit as open triangles on the rate axis' tick labelled "0" (a
    decade under every non-zero value shown); the × at a zero rate says "0"."""
    panel.round.value = 0
    panel.threshold.value = 0.0001  # everything flagged: nothing unsafe passes
    rows = result.rounds_info[0]["sweep"]
    fig = panel.shown
    zero = panel_zero(result, 0, panel.point)
    axis = fig.layout.yaxis
    assert axis.ticktext[0] == "0" and axis.tickvals[0] == pytest.approx(zero)
    smallest = min(v for row in rows for v in (row["rate"], row["upper"], row["safe_lost"]) if v > 0)
    assert zero < smallest
    unsafe = fig.data[0]
    assert [y is None for y in unsafe.y] == [row["rate"] == 0 for row in rows]
    zeros = fig.data[PANEL_INDEX["zeros"]]
    expected = sorted(row["threshold"] for row in rows for k in ("rate", "safe_lost") if row[k] == 0)
    assert sorted(zeros.x) == pytest.approx(expected) and set(zeros.y) <= {zero}
    assert panel.point["rate"] == 0, "a threshold of 1e-4 lets nothing unsafe through"
    point = fig.data[PANEL_INDEX["point"]]
    assert point.y[0] == pytest.approx(zero) and point.text[0] == "0"

"""The ACE panel, headless: set a control, assert on the completion, the verdict and the figure."""

from __future__ import annotations

import html

import pytest

from widgets import AcePanel
from workbench.ace.config import PANEL_METHODS
from workbench.ace.methods import METHODS


@pytest.fixture
def result(ace_quick):
    return ace_quick  # the session's QUICK result (tests/conftest.py)


@pytest.fixture
def panel(result, session_cache) -> AcePanel:
    return AcePanel(result=result, cache=session_cache)


def test_alpha_slider_moves_the_marker_and_changes_the_completion(panel):
    assert list(panel.figure.data[2].x) == [0.0, 0.0]
    before = panel.last_completion
    panel.alpha.value = 2.0
    assert list(panel.figure.data[2].x) == [2.0, 2.0]
    assert panel.last_completion != before
    assert panel.last_verdict in ("refusal", "compliance", "incoherent")
    assert panel.last_verdict in panel.completion.value and "α = 2.00" in html.unescape(panel.status.value)
    assert "wb-info" in html.unescape(panel.status.value)


def test_method_and_model_toggles_switch_the_curve(panel, result):
    panel.method.value = "actadd"
    actadd_y = list(panel.figure.data[0].y)
    assert actadd_y == [float(x) for x in result.refusal_rate(result.sweep[0, 1, :, 0])]
    second = result.labels[1]
    panel.model.value = second
    assert list(panel.figure.data[0].y) == [float(x) for x in result.refusal_rate(result.sweep[1, 1, :, 0])]
    assert second in panel.figure.layout.title.text and panel.status.value.count(second) == 1


def test_layer_slider_and_ablation_steer_the_live_completion(panel):
    panel.method.value = "directional_ablation"
    assert list(panel.figure.data[2].x) == [] and panel.alpha.disabled  # no α for an ablation: no marker
    panel.layer.value = 0
    assert "block 0" in panel.status.value and "directional ablation" in html.unescape(panel.status.value)
    texts = {panel.last_completion}
    panel.method.value = "actadd"
    panel.alpha.value = 2.0
    texts.add(panel.last_completion)
    assert len(texts) == 2


def test_midpoint_projection_sits_at_half_and_sites_change_the_edit(panel, result):
    panel.method.value = "midpoint_projection"
    assert list(panel.figure.data[2].x) == [0.5, 0.5] and panel.alpha.disabled
    assert "midpoint projection" in panel.status.value and "binary judge" in panel.completion.value
    panel.method.value = "ace"
    assert not panel.alpha.disabled
    panel.layer.value = "all"
    panel.sites.value = "sublayers"
    assert "every block's sublayers sites" in html.unescape(panel.status.value)
    sub = panel.last_completion
    panel.sites.value = "residual"
    assert panel.sites.value == "residual" and "every block's residual sites" in html.unescape(panel.status.value)
    edits = result.edits(0, "ace", float(panel.alpha.value), "all", sites="sublayers")
    assert len(edits) > len(result.edits(0, "ace", float(panel.alpha.value), "all", sites="residual"))
    assert isinstance(sub, str)


def test_prompt_box_drives_the_completion(panel, result):
    panel.alpha.value = 0.0
    panel.prompt.value = result.prompts[result.labels[0]]["harmless_eval"][0]
    harmless = panel.last_completion
    assert list(panel.figure.data[2].x) == [0.0, 0.0]
    panel.prompt.value = result.prompts[result.labels[0]]["harmful_eval"][1]
    assert panel.last_completion and panel.last_completion in panel.completion.value
    assert harmless != "" and "wb-info" in html.unescape(panel.status.value)
    panel.prompt.value = ""  # empty prompt: an error in the status line, the figure kept
    assert "wb-error" in panel.status.value and "`prompt` must be a non-empty request" in panel.status.value.replace(
        "&#x27;", "'"
    )
    slot = panel._errors[panel._control_list.index(panel.prompt)]
    assert "non-empty request" in slot.value and slot.layout.display is None  # beside the prompt box
    assert "wb-stale" in panel.completion._dom_classes  # the old completion is greyed, not shown as current


def test_the_panel_offers_exactly_the_registry_panel_methods(panel):
    """The method toggles are `PANEL_METHODS` (the registry's entries with a `panel` index, in
    that order), each labelled as its entry."""
    assert panel.method.options == tuple((METHODS[m].label, m) for m in PANEL_METHODS)
    assert {m for m, entry in METHODS.items() if entry.panel is not None} == set(PANEL_METHODS)


def test_the_curve_follows_the_sites_and_layer_and_alpha_greys_with_its_box(panel, result):
    """Sites and layer other than the run's: the panel draws the sweep generated there (its title
    says so) — not the precomputed one; a method without α greys the slider and its typed box."""
    stored = list(panel.figure.data[0].y)
    panel.sites.value, panel.layer.value = "residual", 0
    title = panel.figure.layout.title.text
    assert "generated for the panel on block 0's residual sites" in title
    assert list(panel.figure.data[0].x) == list(result.config.alphas)
    assert panel.shown.layout.title.text == title  # what Export writes
    panel.method.value = "directional_ablation"
    assert panel.alpha.disabled and panel.typed[0].disabled and "no α" in panel.figure.layout.title.text
    panel.method.value = "ace"
    assert not panel.alpha.disabled and not panel.typed[0].disabled
    panel.sites.value, panel.layer.value = result.sites(0), result.config.layer
    assert list(panel.figure.data[0].y) == stored and "precomputed" in panel.figure.layout.title.text

"""The goldilocks panel, headless: set a control, assert on the FigureWidget's data and the status."""

from __future__ import annotations

import pytest
import torch

from widgets import GoldilocksPanel
from workbench.tensor.curvature import eigvals_trace_ratio


@pytest.fixture
def panel(gl_quick) -> GoldilocksPanel:
    return GoldilocksPanel(result=gl_quick)


def test_ratio_slider_moves_the_marker_and_the_spectrum(panel):
    assert panel.ratio.value == pytest.approx(1.0)
    spectrum = list(panel.figure.data[4].y)
    panel.ratio.value = 10.0
    assert list(panel.figure.data[1].x) == pytest.approx([10.0])
    assert list(panel.figure.data[4].y) != spectrum
    # the curves' estimator at 10·r_init: every seed's planes, as the result's curves average
    point = torch.cat([p.spectrum("relu", panel.d.value, 10.0) for p in panel.probes])
    assert point.shape[0] == len(panel.probes) * panel.probe.n_bases
    assert float(panel.figure.data[1].y[0]) == pytest.approx(float(eigvals_trace_ratio(point).mean()), abs=1e-5)
    assert "r = 10·r_init" in panel.status.value and "wb-info" in panel.status.value


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_the_marker_is_the_curves_estimator_at_its_radius(panel, gl_quick, activation):
    """At each of the curve's own ratios the marker (Tr/‖H‖ and positive share) lands on the curve:
    the same planes of every seed, not seed 0's alone; the legend says what each one is."""
    c = gl_quick.config
    panel.activation.value = activation
    for k in (0, 3, len(c.ratios) - 1):
        panel.ratio.value = c.ratios[k]
        curve_tr, curve_pos = panel.figure.data[0].y[k], panel.figure.data[2].y[k]
        assert float(panel.figure.data[1].y[0]) == pytest.approx(curve_tr, rel=2e-3, abs=1e-4)  # float32 saved
        assert float(panel.figure.data[3].y[0]) == pytest.approx(curve_pos, abs=1e-6)
    names = [t.name for t in panel.shown.data if t.showlegend]
    assert names[0] == f"curve: mean of {c.seeds * c.bases} planes ({c.seeds} seeds)"
    assert names[1].startswith("marker at r = ") and "the same planes" in names[1]
    assert "same planes" in panel.status.value


def test_another_d_marks_seed_0s_planes_as_its_live_curve(panel, gl_quick):
    panel.d.value = 5
    panel.ratio.value = gl_quick.config.ratios[2]
    assert float(panel.figure.data[1].y[0]) == pytest.approx(panel.figure.data[0].y[2], abs=1e-4)
    assert "seed 0" in panel.shown.data[0].name


def test_initial_curves_are_the_results_mean(panel, gl_quick):
    assert list(panel.figure.data[0].y) == pytest.approx(gl_quick.trace_ratio()[0].mean((0, 1)).tolist(), abs=1e-5)


def test_activation_toggle_switches_the_curves(panel, gl_quick):
    relu = list(panel.figure.data[0].y)
    panel.activation.value = "tanh"
    assert list(panel.figure.data[0].y) != relu
    assert list(panel.figure.data[0].y) == pytest.approx(gl_quick.trace_ratio()[1].mean((0, 1)).tolist(), abs=1e-5)
    assert panel.figure.layout.title.text.startswith("tanh")


def test_d_slider_sweeps_again_and_resizes_the_spectrum(panel):
    panel.d.value = 5
    assert len(panel.figure.data[4].y) == 5
    assert "swept live" in panel.status.value
    assert float(max(panel.figure.data[0].y)) <= 5 ** 0.5 + 1e-6


def test_a_d_outside_the_range_is_an_error_beside_the_box_not_a_clamp(panel):
    before = list(panel.figure.data[4].y)
    panel.d.value = -3
    slot = panel._errors[panel._control_list.index(panel.d)]
    assert f"`d` must be an integer in [1, {panel.max_d}]" in slot.value.replace("&#x27;", "'")
    assert panel.d.value == -3 and list(panel.figure.data[4].y) == before
    panel.d.value = 4
    assert slot.layout.display == "none" and len(panel.figure.data[4].y) == 4


def test_the_probe_reuses_the_experiments_planes(panel, gl_quick):
    c = gl_quick.config
    eigs = panel.probe.spectrum("relu", c.hessian_dim, c.ratios[3])
    assert torch.allclose(eigs.float(), gl_quick.plane_eigs[0, 0, :, 3], atol=1e-4 * float(eigs.abs().max()))


def test_a_failing_update_shows_in_the_status_line_and_keeps_the_figure(panel, monkeypatch):
    before = list(panel.figure.data[4].y)

    def broken(*_args, **_kwargs):
        raise ValueError("`ratio` must be > 0; got -1")

    monkeypatch.setattr(panel.probe, "spectrum", broken)
    panel.ratio.value = 3.0
    assert "wb-error" in panel.status.value and "`ratio`" in panel.status.value
    assert list(panel.figure.data[4].y) == before

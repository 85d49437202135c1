"""The ACE panel in a real JupyterLab, driven by headless Chromium: run the notebook, drag the α
slider with the mouse, and see the α marker on the curve and the steered completion change."""

from __future__ import annotations

from pathlib import Path

import pytest
from labtools import assert_no_status_error, drag_slider, lab_page, open_and_run_all, slider, stable_trace, trace_data

NOTEBOOK = "ace/02_explore.ipynb"
MARKER = 2  # the panel's traces: harmful curve, harmless curve, the α marker


@pytest.mark.browser
def test_drag_alpha_slider_moves_marker_and_changes_completion(lab_server, tmp_path: Path) -> None:
    with lab_page(lab_server, tmp_path) as (page, diag):
        how = open_and_run_all(page, diag, lab_server, NOTEBOOK, workspace="ace", timeout_s=240)
        alpha = slider(page, "α")
        try:
            alpha.wait_for(state="visible", timeout=30_000)
        except Exception as err:  # noqa: BLE001 - reported with diagnostics
            diag.fail(f"no α slider after Run All Cells (via {how}): {err}")
        marker_before = stable_trace(page, diag, trace=MARKER, key="x")
        # the notebook's last cell sets α = 1; the slider's first sync must keep it
        assert marker_before == "[1,1]", f"marker at {marker_before}, expected [1,1] (set by the last cell)"
        completion = page.locator(".wb-completion").first
        text_before = completion.inner_text()
        readout_before = alpha.locator(".widget-readout").first.inner_text()

        drag_slider(page, diag, alpha, to_fraction=-0.1)  # past the left end: α = −1

        marker_after = diag.wait_for(
            "the α marker to move after the drag",
            lambda: (lambda x: x if x is not None and x != marker_before else None)(
                trace_data(page, trace=MARKER, key="x")), timeout_s=30,
            detail=lambda: (f"slider readout {readout_before!r} -> "
                            f"{alpha.locator('.widget-readout').first.inner_text()!r}, completion {completion.inner_text()!r}"))
        assert marker_after == "[-1,-1]", marker_after
        diag.wait_for("the completion to change", lambda: completion.inner_text() != text_before, timeout_s=30,
                      detail=lambda: f"completion still {text_before!r}")
        assert alpha.locator(".widget-readout").first.inner_text() != readout_before
        assert_no_status_error(page, diag)

        shot = tmp_path / "ace_lab.png"
        page.screenshot(path=shot)
        assert shot.stat().st_size > 0
        print(f"\nα {readout_before} -> {alpha.locator('.widget-readout').first.inner_text()}; marker {marker_before} -> "
              f"{marker_after}; completion {text_before!r} -> {completion.inner_text()!r}; run all via {how}")

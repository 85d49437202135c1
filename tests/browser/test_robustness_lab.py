"""The robustness panel in a real JupyterLab, driven by headless Chromium: run the notebook, drag the
threshold slider with the mouse, and see the filter point (trace 3) and the status line change."""

from __future__ import annotations

from pathlib import Path

import pytest
from labtools import (
    drag_slider,
    export_matches_page,
    finish,
    lab_page,
    open_panel,
    readout,
    slider,
    stable_trace,
    type_value,
    wait_trace_change,
)

NOTEBOOK = "robustness/02_explore.ipynb"
POINT = 3  # the panel's trace of the filter point at the slider's threshold


@pytest.mark.browser
def test_drag_threshold_slider_updates_the_filter_point(lab_server, tmp_path: Path) -> None:
    with lab_page(lab_server, tmp_path) as (page, diag):
        # the kernel computes the QUICK result when no test has yet (the session cache): allow for a loaded CPU
        threshold, how = open_panel(page, diag, lab_server, NOTEBOOK, "threshold", timeout_s=600, visible_s=60)
        before = stable_trace(page, diag, trace=POINT, key="x")
        status = page.locator(".wb-status").first
        readout_before, status_before = readout(threshold), status.inner_text()
        # the notebook's last cell sets the budget to its maximum (2 in QUICK): not lost on first sync
        budget = readout(slider(page, "budget"))
        assert budget == "2", f"the last cell's budget was lost: readout {budget!r}"

        drag_slider(page, diag, threshold, to_fraction=0.15)

        after = wait_trace_change(
            page, diag, before, "the filter point (trace 3) to move after the drag", trace=POINT, key="x", timeout_s=60,
            detail=lambda: f"readout {readout_before!r} -> {readout(threshold)!r}, status {status.inner_text()!r}")
        assert readout(threshold) != readout_before, f"slider readout stayed at {readout_before!r}"
        diag.wait_for("the status line to describe the new threshold", lambda: status.inner_text() != status_before,
                      timeout_s=30, detail=lambda: f"status still {status_before!r}")
        finish(page, diag, tmp_path, "robustness_lab")

        # the round slider dragged with the mouse to its end, then the budget typed out of range: the
        # error shows beside the budget, nothing is applied; Export writes exactly the page's figure
        rounds = slider(page, "round")
        drag_slider(page, diag, rounds, to_fraction=1.1)
        diag.wait_for("the status line to name the last round", lambda: "round 1," in status.inner_text(),
                      timeout_s=60, detail=lambda: f"status {status.inner_text()!r}")
        budget_slider = slider(page, "budget")
        type_value(budget_slider, "99")
        error = budget_slider.locator("xpath=../..").locator(".wb-control-error").first
        diag.wait_for("the error beside the budget", lambda: error.is_visible() and "got 99" in error.inner_text(),
                      timeout_s=20, detail=lambda: f"status {status.inner_text()!r}")
        assert readout(budget_slider) == "99", "the typed text should stay in the box beside its error"
        assert "not applied" in status.inner_text(), f"status {status.inner_text()!r}"
        page.screenshot(path=tmp_path / "robustness_typed_budget.png")
        exported = export_matches_page(page, diag, lab_server.docs / "robustness", status)
        print(f"\nthreshold {readout_before} -> {readout(threshold)}; point x {before} -> {after}; "
              f"status {status_before!r} -> {status.inner_text()!r}; run all via {how}; "
              f"export {exported.name} equals the page")

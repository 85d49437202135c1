"""The ACE panel in a real JupyterLab, driven by headless Chromium: run the notebook, drag the α
slider with the mouse, and see the α marker on the curve and the steered completion change."""

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
    stable_trace,
    trace_data,
    type_value,
    wait_trace_change,
)

NOTEBOOK = "ace/02_explore.ipynb"
MARKER = 2  # the panel's traces: harmful curve, harmless curve, the α marker


@pytest.mark.browser
def test_drag_alpha_slider_moves_marker_and_changes_completion(lab_server, tmp_path: Path) -> None:
    with lab_page(lab_server, tmp_path) as (page, diag):
        alpha, how = open_panel(page, diag, lab_server, NOTEBOOK, "α", timeout_s=240)
        marker_before = stable_trace(page, diag, trace=MARKER, key="x")
        # the notebook's last cell sets α = 1; the slider's first sync must keep it
        assert marker_before == "[1,1]", f"marker at {marker_before}, expected [1,1] (set by the last cell)"
        completion = page.locator(".wb-completion").first
        text_before, readout_before = completion.inner_text(), readout(alpha)

        drag_slider(page, diag, alpha, to_fraction=-0.1)  # past the left end: α = −1

        marker_after = wait_trace_change(
            page,
            diag,
            marker_before,
            "the α marker to move after the drag",
            trace=MARKER,
            key="x",
            detail=lambda: (
                f"slider readout {readout_before!r} -> {readout(alpha)!r}, completion {completion.inner_text()!r}"
            ),
        )
        assert marker_after == "[-1,-1]", marker_after
        diag.wait_for("the completion to change", lambda: completion.inner_text() != text_before, timeout_s=30,
                      detail=lambda: f"completion still {text_before!r}")
        assert readout(alpha) != readout_before
        finish(page, diag, tmp_path, "ace_lab")

        # α typed out of range with the keyboard: the error beside α, nothing applied (the browser
        # used to clamp 5 to 2); then Export writes exactly the page's figure
        status = page.locator(".wb-status").first
        type_value(alpha, "5")
        error = alpha.locator("xpath=../..").locator(".wb-control-error").first
        diag.wait_for("the error beside α", lambda: error.is_visible() and "got 5" in error.inner_text(),
                      timeout_s=20, detail=lambda: f"status {status.inner_text()!r}")
        assert trace_data(page, trace=MARKER, key="x") == marker_after, "an out-of-range α moved the marker"
        exported = export_matches_page(page, diag, lab_server.docs / "ace", status)
        print(f"\nα {readout_before} -> {readout(alpha)}; marker {marker_before} -> {marker_after}; "
              f"completion {text_before!r} -> {completion.inner_text()!r}; run all via {how}; "
              f"export {exported.name} equals the page")

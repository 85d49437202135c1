"""The goldilocks panel in a real JupyterLab, driven by headless Chromium: run the notebook, drag the
log-scale radius slider with the mouse, and see the marker and the spectrum move in the page.
"""

from __future__ import annotations

import json
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

NOTEBOOK = "goldilocks/02_explore.ipynb"
MARKER, SPECTRUM = 1, 4  # the panel's traces: the marker on the Tr/‖H‖ curve, and the spectrum


@pytest.mark.browser
def test_drag_radius_slider_moves_marker_and_spectrum(lab_server, tmp_path: Path) -> None:
    with lab_page(lab_server, tmp_path) as (page, diag):
        radius, how = open_panel(page, diag, lab_server, NOTEBOOK, "r / r_init")
        spectrum_before = stable_trace(page, diag, trace=SPECTRUM)
        marker_before = trace_data(page, trace=MARKER, key="x")
        status = page.locator(".wb-status").first
        readout_before, status_before = readout(radius), status.inner_text()
        # the notebook's last cell sets the radius to 10·r_init; the slider's first sync must keep it
        assert float(readout_before) == 10.0, f"the last cell's radius was lost: readout {readout_before!r}"
        # (the browser's log slider may hand back 10 as 9.999999999999995)
        assert marker_before is not None and abs(json.loads(marker_before)[0] - 10.0) < 1e-6, \
            f"marker at {marker_before}, expected [10]"

        drag_slider(page, diag, radius, to_fraction=0.2)  # down to about 0.4·r_init (log scale)

        marker_after = wait_trace_change(
            page, diag, marker_before, "the marker's x to change after the drag", trace=MARKER, key="x",
            detail=lambda: f"slider readout {readout_before!r} -> {readout(radius)!r}, status {status.inner_text()!r}")
        spectrum_after = stable_trace(page, diag, trace=SPECTRUM)
        assert spectrum_after != spectrum_before, "the spectrum did not change with the radius"
        assert readout(radius) != readout_before, f"slider readout stayed at {readout_before!r}"
        assert json.loads(marker_after)[0] < 9.0
        diag.wait_for("the status line to name the new radius", lambda: status.inner_text() != status_before,
                      timeout_s=10, detail=lambda: f"status still {status_before!r}")
        shot = finish(page, diag, tmp_path, "goldilocks_lab")

        # typed with the keyboard: 1000 is outside the slider's range, so it shows an error beside the
        # slider and is not applied (the browser used to clamp it to 100 silently); 3 is applied
        marker_now = trace_data(page, trace=MARKER, key="x")
        type_value(radius, "1000")
        error = radius.locator("xpath=../..").locator(".wb-control-error").first
        diag.wait_for("the error beside r / r_init", lambda: error.is_visible() and "got 1000" in error.inner_text(),
                      timeout_s=20, detail=lambda: f"status {status.inner_text()!r}")
        assert trace_data(page, trace=MARKER, key="x") == marker_now, "an out-of-range value moved the marker"
        page.screenshot(path=tmp_path / "goldilocks_typed_1000.png")
        type_value(radius, "3")
        typed = wait_trace_change(page, diag, marker_now, "the marker to move to the typed 3", trace=MARKER, key="x")
        # 3 lands on the slider's grid point 10**0.48 in the kernel, so the box, the marker and the
        # export all say 3.02 (the browser would have snapped it there after the plot showed 3)
        assert abs(json.loads(typed)[0] - 10 ** 0.48) < 1e-9 and not error.is_visible()
        assert readout(radius) == "3.02", readout(radius)
        exported = export_matches_page(page, diag, lab_server.docs / "goldilocks", status)
        print(f"\nradius {readout_before} -> {readout(radius)}; marker x {marker_before} -> {marker_after}; "
              f"status {status_before!r} -> {status.inner_text()!r}; run all via {how}; screenshot {shot}; "
              f"typed 3 -> marker {typed}; export {exported.name} equals the page")

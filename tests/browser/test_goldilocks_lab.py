"""The goldilocks panel in a real JupyterLab, driven by headless Chromium: run the notebook, drag the
log-scale radius slider with the mouse, and see the marker and the spectrum move in the page.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from labtools import drag_slider, finish, lab_page, open_panel, readout, stable_trace, trace_data, wait_trace_change

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
        print(f"\nradius {readout_before} -> {readout(radius)}; marker x {marker_before} -> {marker_after}; "
              f"status {status_before!r} -> {status.inner_text()!r}; run all via {how}; screenshot {shot}")

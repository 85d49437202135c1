"""The goldilocks panel in a real JupyterLab, driven by headless Chromium: run the notebook, drag the
log-scale radius slider with the mouse, and see the marker and the spectrum move in the page.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from labtools import (assert_no_status_error, drag_slider, lab_page, open_and_run_all, slider, stable_trace,
                      trace_data)

NOTEBOOK = "goldilocks/02_explore.ipynb"
MARKER, SPECTRUM = 1, 4  # the panel's traces: the marker on the Tr/‖H‖ curve, and the spectrum


@pytest.mark.browser
def test_drag_radius_slider_moves_marker_and_spectrum(lab_server, tmp_path: Path) -> None:
    with lab_page(lab_server, tmp_path) as (page, diag):
        how = open_and_run_all(page, diag, lab_server, NOTEBOOK, workspace="goldilocks")
        radius = slider(page, "r / r_init")
        try:
            radius.wait_for(state="visible", timeout=30_000)
        except Exception as err:  # noqa: BLE001 - reported with diagnostics
            diag.fail(f"no radius slider after Run All Cells (via {how}): {err}")
        spectrum_before = stable_trace(page, diag, trace=SPECTRUM)
        marker_before = trace_data(page, trace=MARKER, key="x")
        readout_before = radius.locator(".widget-readout").first.inner_text()
        status = page.locator(".wb-status").first
        status_before = status.inner_text()
        # the notebook's last cell sets the radius to 10·r_init; the slider's first sync must keep it
        assert "r = 10·r_init" in status_before, f"the last cell's radius was lost: {status_before!r}"
        # (the browser's log slider may hand back 10 as 9.999999999999995)
        assert marker_before is not None and abs(json.loads(marker_before)[0] - 10.0) < 1e-6, \
            f"marker at {marker_before}, expected [10]"

        drag_slider(page, diag, radius, to_fraction=0.2)  # down to about 0.4·r_init (log scale)

        marker_after = diag.wait_for(
            "the marker's x to change after the drag",
            lambda: (lambda x: x if x is not None and x != marker_before else None)(
                trace_data(page, trace=MARKER, key="x")), timeout_s=30,
            detail=lambda: (f"slider readout {readout_before!r} -> "
                            f"{radius.locator('.widget-readout').first.inner_text()!r}, status {status.inner_text()!r}"))
        spectrum_after = stable_trace(page, diag, trace=SPECTRUM)
        assert spectrum_after != spectrum_before, "the spectrum did not change with the radius"
        readout_after = radius.locator(".widget-readout").first.inner_text()
        assert readout_after != readout_before, f"slider readout stayed at {readout_before!r}"
        assert json.loads(marker_after)[0] < 9.0
        diag.wait_for("the status line to name the new radius", lambda: status.inner_text() != status_before,
                      timeout_s=10, detail=lambda: f"status still {status_before!r}")
        assert_no_status_error(page, diag)

        shot = tmp_path / "goldilocks_lab.png"
        page.screenshot(path=shot)
        assert shot.stat().st_size > 0
        print(f"\nradius {readout_before} -> {readout_after}; marker x {marker_before} -> {marker_after}; "
              f"status {status_before!r} -> {status.inner_text()!r}; run all via {how}; screenshot {shot}")

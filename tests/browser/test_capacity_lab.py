"""The capacity panel in a real JupyterLab, driven by headless Chromium: run the notebook, drag the
kurtosis slider with the mouse, and see the plot's data change in the page.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from labtools import (assert_no_status_error, drag_slider, lab_page, open_and_run_all, slider, stable_trace,
                      trace_data)

NOTEBOOK = "capacity/02_explore.ipynb"


@pytest.mark.browser
def test_drag_kurtosis_slider_updates_plot(lab_server, tmp_path: Path) -> None:
    with lab_page(lab_server, tmp_path) as (page, diag):
        how = open_and_run_all(page, diag, lab_server, NOTEBOOK, workspace="capacity")
        kurtosis = slider(page, "kurtosis")
        try:
            kurtosis.wait_for(state="visible", timeout=30_000)
        except Exception as err:  # noqa: BLE001 - reported with diagnostics
            diag.fail(f"no kurtosis slider after Run All Cells (via {how}): {err}")
        before = stable_trace(page, diag)
        readout_before = kurtosis.locator(".widget-readout").first.inner_text()
        status = page.locator(".wb-status").first
        status_before = status.inner_text()
        # the notebook's last cell sets kurtosis to the grid's largest value (30 in QUICK); the
        # browser's first sync of the slider must not overwrite it
        assert "k = 30," in status_before, f"the last cell's kurtosis was lost: {status_before!r}"

        drag_slider(page, diag, kurtosis, to_fraction=-0.1)

        after = diag.wait_for(
            "trace 0's y to change after the drag",
            lambda: (lambda y: y if y is not None and y != before else None)(trace_data(page)), timeout_s=30,
            detail=lambda: (f"slider readout {readout_before!r} -> "
                            f"{kurtosis.locator('.widget-readout').first.inner_text()!r}, "
                            f"status {status.inner_text()!r}"))
        readout_after = kurtosis.locator(".widget-readout").first.inner_text()
        assert readout_after != readout_before, f"slider readout stayed at {readout_before!r}"
        # refresh() sets the status after the figure: it names the new grid cell, and no error
        diag.wait_for("the status line to describe the new grid cell",
                      lambda: status.inner_text() != status_before, timeout_s=10,
                      detail=lambda: f"status still {status_before!r}")
        assert_no_status_error(page, diag)

        shot = tmp_path / "capacity_lab.png"
        page.screenshot(path=shot)
        assert shot.stat().st_size > 0
        print(f"\nkurtosis {readout_before} -> {readout_after}; y {before[:60]}… -> {after[:60]}…; "
              f"status {status_before!r} -> {status.inner_text()!r}; run all via {how}; screenshot {shot}")

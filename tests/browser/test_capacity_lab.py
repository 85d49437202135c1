"""The capacity panel in a real JupyterLab, driven by headless Chromium: run the notebook, drag the
kurtosis slider with the mouse, and see the plot's data change in the page.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from labtools import drag_slider, finish, lab_page, open_panel, readout, stable_trace, wait_trace_change

NOTEBOOK = "capacity/02_explore.ipynb"


@pytest.mark.browser
def test_drag_kurtosis_slider_updates_plot(lab_server, tmp_path: Path) -> None:
    with lab_page(lab_server, tmp_path) as (page, diag):
        kurtosis, how = open_panel(page, diag, lab_server, NOTEBOOK, "kurtosis")
        before = stable_trace(page, diag)
        status = page.locator(".wb-status").first
        readout_before, status_before = readout(kurtosis), status.inner_text()
        # the notebook's last cell sets kurtosis to the grid's largest value (30 in QUICK); the
        # browser's first sync of the slider must not overwrite it
        assert "k = 30," in status_before, f"the last cell's kurtosis was lost: {status_before!r}"

        drag_slider(page, diag, kurtosis, to_fraction=-0.1)

        after = wait_trace_change(
            page, diag, before, "trace 0's y to change after the drag",
            detail=lambda: f"slider readout {readout_before!r} -> {readout(kurtosis)!r}, status {status.inner_text()!r}")
        assert readout(kurtosis) != readout_before, f"slider readout stayed at {readout_before!r}"
        # refresh() sets the status after the figure: it names the new grid cell, and no error
        diag.wait_for("the status line to describe the new grid cell",
                      lambda: status.inner_text() != status_before, timeout_s=10,
                      detail=lambda: f"status still {status_before!r}")
        shot = finish(page, diag, tmp_path, "capacity_lab")
        print(f"\nkurtosis {readout_before} -> {readout(kurtosis)}; y {before[:60]}… -> {after[:60]}…; "
              f"status {status_before!r} -> {status.inner_text()!r}; run all via {how}; screenshot {shot}")

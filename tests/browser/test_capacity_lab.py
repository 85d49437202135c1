"""The capacity panel in a real JupyterLab, driven by headless Chromium: run the notebook, drag the
kurtosis slider with the mouse and see the plot's data change in the page; click Export and find
both files; type an invalid d and see the error beside the box; reload the page and see the figure
the controls say, not the one the panel was built with.
"""

from __future__ import annotations

import re
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
    wait_trace_change,
)
from playwright.sync_api import Locator, Page

NOTEBOOK = "capacity/02_explore.ipynb"


@pytest.mark.browser
def test_drag_export_invalid_value_and_reload(lab_server, tmp_path: Path) -> None:
    with lab_page(lab_server, tmp_path) as (page, diag):
        kurtosis, how = open_panel(page, diag, lab_server, NOTEBOOK, "kurtosis")
        before = stable_trace(page, diag)
        status = page.locator(".wb-status").first
        readout_before, status_before = readout(kurtosis), status.inner_text()
        # the notebook sets kurtosis to the grid's largest value (30 in QUICK); the browser's first
        # sync of the slider must not overwrite it, and the readout is the grid value itself
        assert readout_before == "30", f"the notebook's kurtosis was lost: readout {readout_before!r}"

        drag_slider(page, diag, kurtosis, to_fraction=-0.1)
        after = wait_trace_change(
            page,
            diag,
            before,
            "trace 0's y to change after the drag",
            detail=lambda: (
                f"slider readout {readout_before!r} -> {readout(kurtosis)!r}, status {status.inner_text()!r}"
            ),
        )
        assert readout(kurtosis) == "2", f"slider readout {readout(kurtosis)!r} after a drag past the left end"
        diag.wait_for("the status line to describe the new grid cell", lambda: "k = 2," in status.inner_text(),
                      timeout_s=10, detail=lambda: f"status {status.inner_text()!r}")
        shot = finish(page, diag, tmp_path, "capacity_lab")

        _export(page, diag, lab_server.docs / "capacity", status)
        _invalid_d(page, diag, status)
        _reload_shows_current_figure(page, diag, after)
        print(f"\nkurtosis {readout_before} -> 2; y {before[:60]}… -> {after[:60]}…; "
              f"status {status_before!r}; run all via {how}; screenshot {shot}")


def _export(page: Page, diag, folder: Path, status: Locator) -> None:
    """The Export button writes the PNG and the HTML of the figure as it is now; the status says where."""
    export_matches_page(page, diag, folder, status)  # clicks Export; the HTML's data is the page's
    files = sorted(p.name for p in folder.glob("panel_kurtosis2_*"))
    assert [Path(f).suffix for f in files] == [".html", ".png"], files
    assert "![" in status.inner_text() and "figures/capacity/" in status.inner_text()
    page.screenshot(path=diag.out / "after_export.png")


def _invalid_d(page: Page, diag, status: Locator) -> None:
    """d = −2 is an error beside the d box (not a clamp), the figure greys; d = 4 clears both."""
    box = page.locator(".widget-vbox").filter(has=page.locator(".widget-label", has_text=re.compile(r"^d$"))).last
    field = box.locator("input").first
    field.fill("-2")
    field.press("Enter")
    error = box.locator(".wb-control-error").first
    diag.wait_for("the error beside the d box", lambda: error.is_visible() and "[1, n − 1 = 7]" in error.inner_text(),
                  timeout_s=20, detail=lambda: f"status {status.inner_text()!r}")
    assert page.locator(".wb-stale").count() >= 1, "the stale figure is not greyed out"
    page.screenshot(path=diag.out / "invalid_d.png")
    field.fill("4")
    field.press("Enter")
    diag.wait_for("the error to clear", lambda: not error.is_visible(), timeout_s=20,
                  detail=lambda: f"error {error.inner_text()!r}")


def _reload_shows_current_figure(page: Page, diag, current: str) -> None:
    """A reload on the live kernel draws the figure the controls say (plotly's FigureWidget would
    redraw the one it was built with)."""
    # saved first, as JupyterLab's autosave would have: the reloaded page reads the outputs from the
    # file and renders the widgets from the live kernel's state
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    diag.wait_for("the notebook to be saved", lambda: page.locator(".jp-mod-dirty").count() == 0, timeout_s=30)
    page.reload(wait_until="domcontentloaded")
    diag.wait_for("the plot to be drawn again after the reload", lambda: trace_data(page) is not None, timeout_s=90)
    # the saved output draws first; the live kernel's state follows (later on a loaded machine)
    diag.wait_for("the plot the controls say after the reload", lambda: trace_data(page) == current, timeout_s=60,
                  detail=lambda: f"plot {trace_data(page)!r}, expected {current!r}")
    assert stable_trace(page, diag) == current, "after a reload the plot is not the one the controls say"
    kurtosis = page.locator(".widget-slider").filter(has=page.locator(".widget-label", has_text="kurtosis")).first
    assert readout(kurtosis) == "2"
    page.screenshot(path=diag.out / "after_reload.png")

"""The capacity panel in a real JupyterLab, driven by headless Chromium: run the notebook, drag the
kurtosis slider with the mouse, and see the plot's data change in the page.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
NOTEBOOK = "02_explore.ipynb"

# trace 0 of the panel's figure (capacity bars), serialised so that plain arrays, typed arrays and
# plotly's {dtype, bdata} specs all compare as strings; null while the plot is not there yet
TRACE0_Y = """() => {
    const gd = document.querySelector('.js-plotly-plot');
    if (!gd || !Array.isArray(gd.data) || !gd.data[0]) return null;
    const y = gd.data[0].y;
    if (y === undefined || y === null) return null;
    return JSON.stringify(ArrayBuffer.isView(y) ? Array.from(y) : y);
}"""

# the notebook's kernel status ("idle", "busy", "starting", ...) through window.jupyterapp
KERNEL_STATUS = """() => {
    const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
    return kernel ? kernel.status : null;
}"""

# execution counts of the notebook's code cells, from the model (the notebook may window its DOM):
# null for a cell that has not run; the DOM prompts ("[1]:", "[*]:") only if the model is out of reach
EXECUTION_COUNTS = """() => {
    const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const cells = w && w.content && w.content.model && w.content.model.cells;
    if (cells) return Array.from(cells).filter(c => c.type === 'code').map(c => c.executionCount);
    return Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt'))
        .map(e => (/\\[(\\d+)\\]/.exec(e.textContent) || [null, null])[1]);
}"""


class Diagnostics:
    """Console lines, page errors, a screenshot and the server log, for every failure message."""

    def __init__(self, page: Page, server, out: Path) -> None:
        self.page, self.server, self.out = page, server, out
        self.console: list[str] = []
        page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"[pageerror] {e}"))

    def fail(self, message: str) -> None:
        shot = self.out / "failure.png"
        try:
            self.page.screenshot(path=shot, full_page=True)
        except PlaywrightError as err:
            shot = Path(f"<screenshot failed: {err}>")
        console = "\n".join(self.console[-40:]) or "<none>"
        pytest.fail(f"{message}\nscreenshot: {shot}\n--- browser console (last 40) ---\n{console}\n"
                    f"--- jupyterlab log {self.server.log} (tail) ---\n{self.server.log_tail()}", pytrace=False)

    def wait_for(self, what: str, predicate, timeout_s: float, interval_s: float = 0.2, detail=None):
        """Poll `predicate()` until it returns something truthy; fail diagnosably on timeout
        (with `detail()`, the state worth seeing, in the message)."""
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(interval_s)
        extra = ""
        if detail is not None:
            try:
                extra = f"; {detail()}"
            except PlaywrightError as err:
                extra = f"; <detail failed: {err}>"
        self.fail(f"timed out after {timeout_s:.0f} s waiting for {what} (last value: {last!r}){extra}")


def _run_all_cells(page: Page, diag: Diagnostics) -> str:
    """Run → Run All Cells through the menu bar; the app command if the menu cannot be used."""
    try:
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).first.click(timeout=5_000)
        item = page.locator(".lm-Menu-item:not(.lm-mod-disabled) .lm-Menu-itemLabel").filter(
            has_text=re.compile(r"^Run All Cells$"))
        item.first.click(timeout=5_000)
        return "menu"
    except PlaywrightError as err:
        diag.console.append(f"[test] menu Run → Run All Cells failed ({err}); using the app command")
        page.keyboard.press("Escape")
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        return "command"


def _stable_trace(page: Page, diag: Diagnostics, quiet_s: float = 1.5, timeout_s: float = 30.0) -> str:
    """Trace 0's y once it (and the status line) have not changed for `quiet_s`."""
    deadline = time.monotonic() + timeout_s
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = (page.evaluate(TRACE0_Y), page.locator(".wb-status").first.inner_text())
        if now != last:
            last, since = now, time.monotonic()
        elif now[0] is not None and time.monotonic() - since >= quiet_s:
            return now[0]
        time.sleep(0.1)
    diag.fail(f"the plot did not settle within {timeout_s:.0f} s (last: {last!r})")
    raise AssertionError("unreachable")


@pytest.mark.browser
def test_drag_kurtosis_slider_updates_plot(lab_server, tmp_path: Path) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            diag = Diagnostics(page, lab_server, tmp_path)
            page.set_default_timeout(30_000)

            page.goto(f"{lab_server.url}/lab/tree/{NOTEBOOK}?token={lab_server.token}", wait_until="domcontentloaded")
            try:
                page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(state="visible", timeout=45_000)
            except PlaywrightError as err:
                diag.fail(f"the notebook did not open: {err}")
            diag.wait_for("an idle kernel", lambda: page.evaluate(KERNEL_STATUS) == "idle", timeout_s=45)

            how = _run_all_cells(page, diag)

            # the panel: an ipywidgets slider handle and the plotly graph (anywidget)
            handle = page.locator(".widget-slider .noUi-handle").first
            plot = page.locator(".js-plotly-plot").first
            try:
                handle.wait_for(state="visible", timeout=60_000)
                plot.wait_for(state="visible", timeout=30_000)
            except PlaywrightError as err:
                diag.fail(f"the panel did not render after Run All Cells (via {how}): {err}; "
                          f"execution counts {page.evaluate(EXECUTION_COUNTS)}")
            # every code cell ran (the last one sets kurtosis from a cell) and the kernel is idle again
            diag.wait_for("all code cells to have run",
                          lambda: (lambda n: n if n and all(x is not None for x in n) else None)(
                              page.evaluate(EXECUTION_COUNTS)), timeout_s=60)
            diag.wait_for("an idle kernel after Run All", lambda: page.evaluate(KERNEL_STATUS) == "idle", timeout_s=30)

            slider = page.locator(".widget-slider").first
            label = slider.locator(".widget-label").first.inner_text()
            assert "kurtosis" in label, f"first slider is {label!r}, not the kurtosis slider"
            before = _stable_trace(page, diag)
            readout_before = slider.locator(".widget-readout").first.inner_text()
            status = page.locator(".wb-status").first
            status_before = status.inner_text()
            # the notebook's last cell sets kurtosis to the grid's largest value (30 in QUICK); the
            # browser's first sync of the slider must not overwrite it
            assert "k = 30," in status_before, f"the last cell's kurtosis was lost: {status_before!r}"

            # drag the kurtosis handle with the mouse, far to the left
            handle.scroll_into_view_if_needed()
            hbox = handle.bounding_box()
            track = slider.locator(".noUi-target").first.bounding_box()
            if hbox is None or track is None:
                diag.fail(f"no bounding box for the slider handle ({hbox}) or track ({track})")
            x0, y0 = hbox["x"] + hbox["width"] / 2, hbox["y"] + hbox["height"] / 2
            page.mouse.move(x0, y0)
            page.mouse.down()
            target = track["x"] - 40
            steps = 8
            for i in range(1, steps + 1):
                page.mouse.move(x0 + (target - x0) * i / steps, y0)
                time.sleep(0.03)
            page.mouse.up()

            after = diag.wait_for("trace 0's y to change after the drag",
                                  lambda: (lambda y: y if y is not None and y != before else None)(
                                      page.evaluate(TRACE0_Y)), timeout_s=30,
                                  detail=lambda: (f"slider readout {readout_before!r} -> "
                                                  f"{slider.locator('.widget-readout').first.inner_text()!r}, "
                                                  f"status {status.inner_text()!r}, trace 0 y still {before}, "
                                                  f"kernel {page.evaluate(KERNEL_STATUS)!r}"))
            readout_after = slider.locator(".widget-readout").first.inner_text()
            assert readout_after != readout_before, f"slider readout stayed at {readout_before!r}"
            assert after != before
            # refresh() sets the status after the figure: it names the new grid cell, and no error
            diag.wait_for("the status line to describe the new grid cell",
                          lambda: status.inner_text() != status_before, timeout_s=10,
                          detail=lambda: f"status still {status_before!r}")
            classes = (status.get_attribute("class") or "").split()
            if "wb-error" in classes:
                diag.fail(f"the status line shows an error: {status.inner_text()!r}")
            assert "wb-status" in classes, classes

            shot = tmp_path / "capacity_lab.png"
            page.screenshot(path=shot)
            assert shot.exists() and shot.stat().st_size > 0
            print(f"\nkurtosis {readout_before} -> {readout_after}; y {before[:60]}… -> {after[:60]}…; "
                  f"status {status_before!r} -> {status.inner_text()!r}; run all via {how}; screenshot {shot}")
        finally:
            browser.close()

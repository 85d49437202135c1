"""Shared machinery for the browser tests: open a suite's notebook in the session's JupyterLab, run
every cell, read a plot's data from the page, drag an ipywidgets slider with the mouse, and fail with
a screenshot, the browser console and the server log in the message.

Each test opens its notebook in a workspace of its own (`/lab/workspaces/<name>/tree/...`), so tabs a
previous test left open are not restored next to it, and shuts its kernels down at the end.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# no network: Chromium must not try to reach anything, and Playwright must not fetch a browser
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]

# trace `trace` of the `plot`-th plotly graph of the visible notebook, serialised so that plain
# arrays, typed arrays and plotly's {dtype, bdata} specs all compare as strings; null while absent
TRACE_DATA = """([plot, trace, key]) => {
    const plots = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .js-plotly-plot');
    const gd = plots[plot];
    if (!gd || !Array.isArray(gd.data) || !gd.data[trace]) return null;
    const v = gd.data[trace][key];
    if (v === undefined || v === null) return null;
    return JSON.stringify(ArrayBuffer.isView(v) ? Array.from(v) : v);
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

    def __init__(self, page: Page, server: Any, out: Path) -> None:
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

    def wait_for(self, what: str, predicate: Callable[[], Any], timeout_s: float, interval_s: float = 0.2,
                 detail: Callable[[], str] | None = None) -> Any:
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


@contextmanager
def lab_page(server: Any, out: Path) -> Iterator[tuple[Page, Diagnostics]]:
    """A headless Chromium page on the session's JupyterLab; its kernels are shut down afterwards."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.set_default_timeout(30_000)
            yield page, Diagnostics(page, server, out)
        finally:
            browser.close()
            _shutdown_kernels(server)


def _shutdown_kernels(server: Any) -> None:
    status, body = server.api("/api/kernels")
    if status == 200:
        for kernel in json.loads(body):
            server.api(f"/api/kernels/{kernel['id']}", method="DELETE", timeout=10)


def run_all_cells(page: Page, diag: Diagnostics) -> str:
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


def open_and_run_all(page: Page, diag: Diagnostics, server: Any, notebook: str, workspace: str,
                     timeout_s: float = 180.0) -> str:
    """Open `notebook` (relative to the server's root, e.g. "capacity/02_explore.ipynb") in a fresh
    workspace, run every cell, and wait until every code cell has run and the kernel is idle."""
    page.goto(f"{server.url}/lab/workspaces/{workspace}/tree/{notebook}?token={server.token}",
              wait_until="domcontentloaded")
    try:
        page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(state="visible", timeout=45_000)
    except PlaywrightError as err:
        diag.fail(f"the notebook {notebook} did not open: {err}")
    diag.wait_for("an idle kernel", lambda: page.evaluate(KERNEL_STATUS) == "idle", timeout_s=60)
    how = run_all_cells(page, diag)
    diag.wait_for("all code cells to have run",
                  lambda: (lambda n: n if n and all(x is not None for x in n) else None)(
                      page.evaluate(EXECUTION_COUNTS)), timeout_s=timeout_s,
                  detail=lambda: f"execution counts {page.evaluate(EXECUTION_COUNTS)} (run all via {how})")
    diag.wait_for("an idle kernel after Run All", lambda: page.evaluate(KERNEL_STATUS) == "idle",
                  timeout_s=timeout_s)
    return how


def trace_data(page: Page, plot: int = 0, trace: int = 0, key: str = "y") -> str | None:
    """`key` of trace `trace` of the `plot`-th plotly graph in the visible notebook, as a JSON string."""
    return page.evaluate(TRACE_DATA, [plot, trace, key])


def stable_trace(page: Page, diag: Diagnostics, plot: int = 0, trace: int = 0, key: str = "y",
                 quiet_s: float = 1.5, timeout_s: float = 30.0) -> str:
    """The trace's data once it (and the first status line) have not changed for `quiet_s`."""
    deadline = time.monotonic() + timeout_s
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = (trace_data(page, plot, trace, key), page.locator(".wb-status").first.inner_text())
        if now != last:
            last, since = now, time.monotonic()
        elif now[0] is not None and time.monotonic() - since >= quiet_s:
            return now[0]
        time.sleep(0.1)
    diag.fail(f"the plot did not settle within {timeout_s:.0f} s (last: {last!r})")
    raise AssertionError("unreachable")


def slider(page: Page, label: str) -> Locator:
    """The ipywidgets slider whose description contains `label`."""
    return page.locator(".widget-slider").filter(has=page.locator(".widget-label", has_text=label)).first


def drag_slider(page: Page, diag: Diagnostics, widget: Locator, to_fraction: float) -> None:
    """Drag `widget`'s handle with the mouse to `to_fraction` of its track (<0 or >1 overshoots)."""
    handle = widget.locator(".noUi-handle").first
    handle.scroll_into_view_if_needed()
    hbox, track = handle.bounding_box(), widget.locator(".noUi-target").first.bounding_box()
    if hbox is None or track is None:
        diag.fail(f"no bounding box for the slider handle ({hbox}) or track ({track})")
    x0, y0 = hbox["x"] + hbox["width"] / 2, hbox["y"] + hbox["height"] / 2
    target = track["x"] + to_fraction * track["width"]
    page.mouse.move(x0, y0)
    page.mouse.down()
    steps = 8
    for i in range(1, steps + 1):
        page.mouse.move(x0 + (target - x0) * i / steps, y0)
        time.sleep(0.03)
    page.mouse.up()


def assert_no_status_error(page: Page, diag: Diagnostics) -> None:
    """No status line of the visible panels shows an error."""
    for status in page.locator(".wb-status").all():
        if "wb-error" in (status.get_attribute("class") or "").split():
            diag.fail(f"a status line shows an error: {status.inner_text()!r}")


def open_panel(page: Page, diag: Diagnostics, server: Any, notebook: str, label: str,
               timeout_s: float = 180.0, visible_s: float = 30.0) -> tuple[Locator, str]:
    """Open `notebook` in its own workspace (named after its suite), Run All, and return the slider
    labelled `label` once visible, with how Run All was triggered ("menu" or "command")."""
    how = open_and_run_all(page, diag, server, notebook, workspace=notebook.split("/")[0], timeout_s=timeout_s)
    control = slider(page, label)
    try:
        control.wait_for(state="visible", timeout=visible_s * 1000)
    except PlaywrightError as err:
        diag.fail(f"no {label!r} slider after Run All Cells (via {how}): {err}")
    return control, how


def wait_trace_change(page: Page, diag: Diagnostics, before: str | None, what: str, trace: int = 0,
                      key: str = "y", timeout_s: float = 30.0, detail: Callable[[], str] | None = None) -> str:
    """Trace `trace`'s `key` once it differs from `before` (fails with `what` and `detail` otherwise)."""
    def changed() -> str | None:
        now = trace_data(page, trace=trace, key=key)
        return now if now is not None and now != before else None
    return diag.wait_for(what, changed, timeout_s=timeout_s, detail=detail)


def typed_box(control: Locator) -> Locator:
    """The text box beside a range slider, where its value is shown and typed (widgets.controls)."""
    return control.locator("xpath=..").locator(".wb-typed input").first


def readout(control: Locator) -> str:
    """The slider's displayed value: its typed box beside it, else its own readout (a grid slider)."""
    box = typed_box(control)
    return box.input_value() if box.count() else control.locator(".widget-readout").first.inner_text()


def type_value(control: Locator, text: str) -> None:
    """Type `text` into the slider's box with the keyboard and press Enter, as a user does."""
    box = typed_box(control)
    box.click()
    box.press("Control+a")
    box.type(text)
    box.press("Enter")


def exported_traces(html_file: Path) -> list[dict[str, Any]]:
    """The traces of an exported figure's HTML page (the data of its `Plotly.newPlot` call), with
    plotly's {dtype, bdata} arrays decoded to lists, to compare with `trace_data`."""
    import base64

    import numpy as np

    text = html_file.read_text()
    start = text.index("[", text.index("Plotly.newPlot("))
    data, _ = json.JSONDecoder().raw_decode(text, start)

    def plain(v: Any) -> Any:
        if isinstance(v, dict) and "bdata" in v:
            return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
        return v
    return [{k: plain(v) for k, v in trace.items()} for trace in data]


def finish(page: Page, diag: Diagnostics, out: Path, name: str) -> Path:
    """No status line shows an error; a screenshot of the page is saved as `out/<name>.png`."""
    assert_no_status_error(page, diag)
    shot = out / f"{name}.png"
    page.screenshot(path=shot)
    assert shot.stat().st_size > 0, f"empty screenshot {shot}"
    return shot


def _close(a: Any, b: Any) -> bool:
    """Equal data, floats to 1e-9 relative (the page and the file serialise numbers differently)."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return a == b


def export_matches_page(page: Page, diag: Diagnostics, folder: Path, status: Locator) -> Path:
    """Click Export, then check every trace's x and y in the exported HTML equals the page's plot
    data; returns the HTML file."""
    before = {p: p.stat().st_mtime_ns for p in folder.glob("*.html")} if folder.is_dir() else {}
    page.get_by_role("button", name="Export").first.click()
    diag.wait_for("the status line to report the export", lambda: "exported" in status.inner_text(), timeout_s=60,
                  detail=lambda: f"status {status.inner_text()!r}")
    written = [p for p in folder.glob("*.html") if before.get(p) != p.stat().st_mtime_ns]
    if len(written) != 1:
        diag.fail(f"expected one new HTML export in {folder}, found {written}")
    traces = exported_traces(written[0])
    for i, trace in enumerate(traces):
        for key in ("x", "y"):
            shown = trace_data(page, trace=i, key=key)
            on_page = None if shown is None else json.loads(shown)
            if not _close(on_page, trace.get(key)):
                diag.fail(f"trace {i} {key}: the export has {trace.get(key)!r}, the page {on_page!r}")
    if trace_data(page, trace=len(traces)) is not None:
        diag.fail(f"the page has more traces than the export's {len(traces)}")
    return written[0]

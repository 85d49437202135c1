"""PNG rendering with a deadline: a hung kaleido call is abandoned, its browsers killed, and the
batch tried again; a call that keeps hanging raises instead of blocking forever."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import plotly.graph_objects as go
import plotly.io as pio
import pytest

from workbench.plots import render
from workbench.plots.export import export_figures

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _fig() -> go.Figure:
    return go.Figure(go.Scatter(y=[1, 3, 2])).update_layout(width=300, height=200)


def test_a_hung_render_is_abandoned_and_tried_again(tmp_path, monkeypatch):
    calls, release, killed = [], threading.Event(), []

    def hanging_once(figs, paths, **kwargs):  # kaleido's place: hangs once, then writes the files
        calls.append(time.monotonic())
        if len(calls) == 1:
            release.wait(30)  # until the test ends
            return
        for path in paths:
            path.write_bytes(PNG_SIGNATURE)

    monkeypatch.setattr(pio, "write_images", hanging_once)
    monkeypatch.setattr(render, "kill_child_browsers", lambda: killed.append(1) or [])
    monkeypatch.setattr(render, "FIRST_FIGURE_S", 0.5)
    try:
        written = export_figures({"f": _fig()}, tmp_path, formats=("png",), scale=1.0)
    finally:
        release.set()
    assert len(calls) == 2 and killed == [1]
    assert calls[1] - calls[0] >= 0.5  # the retry came after the deadline, not before
    assert written[0].read_bytes() == PNG_SIGNATURE


def test_a_render_that_keeps_hanging_raises_and_leaves_no_file(tmp_path, monkeypatch):
    release = threading.Event()
    monkeypatch.setattr(pio, "write_images", lambda *a, **k: release.wait(30))
    monkeypatch.setattr(render, "kill_child_browsers", lambda: [])
    monkeypatch.setattr(render, "FIRST_FIGURE_S", 0.2)
    try:
        with pytest.raises(TimeoutError, match=r"within 0 s, 2 tries.*formats=\('html',\)"):
            export_figures({"f": _fig()}, tmp_path, formats=("png", "html"), scale=1.0)
    finally:
        release.set()
    assert list(tmp_path.iterdir()) == []  # no PNG, no temporary, no HTML after the failure


def test_render_errors_reach_the_caller(monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("bad figure")

    monkeypatch.setattr(pio, "write_images", broken)
    with pytest.raises(ValueError, match="bad figure"):
        render.write_pngs([_fig()], ["x.png"], scale=1.0, sizes=[(300, 200)])


def test_the_deadline_grows_with_the_batch():
    assert render.batch_deadline(1) == render.FIRST_FIGURE_S
    assert render.batch_deadline(4) == render.FIRST_FIGURE_S + 3 * render.EACH_FURTHER_S


def test_kill_child_browsers_kills_only_our_chromium_children():
    browser = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "chromium-stand-in"])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.3)  # /proc shows the final command line once the child has exec'd
        assert browser.pid in render.kill_child_browsers()  # (with any browser an earlier test left)
        assert browser.wait(5) == -9
        assert other.poll() is None
    finally:
        for p in (browser, other):
            p.kill()
            p.wait()

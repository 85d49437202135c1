"""PNG rendering through kaleido that cannot hang the caller.

kaleido drives a headless Chromium over a pipe. Its own per-figure timeout (90 s) covers a slow
render, but not a browser that dies or stops answering mid-call: then its event loop waits on the
pipe forever (plotly/Kaleido#134 and its kin; seen once in this project's test run, a panel export
blocked for 20 minutes with no Chromium left). So each batch runs in a daemon thread the caller
waits for with a deadline; past it, the Chromium processes this process started are killed and the
batch is tried again with a fresh browser, and after the last try a `TimeoutError` says so.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Sequence
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio

# a batch's deadline: kaleido's own 90 s for a figure, plus 30 s for each further figure of the batch
# (the docs' largest batch, ACE's four figures, renders in ~10-20 s on the 2 shared cores)
FIRST_FIGURE_S = 90.0
EACH_FURTHER_S = 30.0
TRIES = 2


def batch_deadline(n_figures: int) -> float:
    """Seconds one kaleido call on `n_figures` figures may take before it counts as hung."""
    return FIRST_FIGURE_S + EACH_FURTHER_S * max(n_figures - 1, 0)


def write_pngs(figures: Sequence[go.Figure], paths: Sequence[Path], *, scale: float,
               sizes: Sequence[tuple[int, int]], deadline: float | None = None, tries: int = TRIES) -> None:
    """`pio.write_images` of `figures` to `paths` at `sizes` (width, height) and `scale`, each try
    bounded by `deadline` seconds (default `batch_deadline`); a try past it kills this process's
    Chromium children and the next try starts afresh. Raises the render's own error, or
    `TimeoutError` after `tries` tries past the deadline."""
    limit = batch_deadline(len(figures)) if deadline is None else deadline
    for _ in range(tries):
        done, errors = threading.Event(), []

        def render() -> None:
            try:
                pio.write_images(list(figures), list(paths), format="png", scale=scale,
                                 width=[w for w, _ in sizes], height=[h for _, h in sizes])
            except BaseException as error:  # noqa: BLE001 - handed to the waiting caller
                errors.append(error)
            finally:
                done.set()

        threading.Thread(target=render, name="kaleido-render", daemon=True).start()
        if done.wait(limit):
            if errors:
                raise errors[0]
            return
        kill_child_browsers()
    raise TimeoutError(f"PNG export: kaleido did not finish {len(figures)} figure(s) within {limit:.0f} s, "
                       f"{tries} tries with a fresh browser each; `formats=('html',)` exports without it")


def kill_child_browsers() -> list[int]:
    """SIGKILL every Chromium process whose parent is this process (Linux `/proc`; elsewhere
    nothing); returns their pids."""
    killed = []
    proc = Path("/proc")
    if not proc.is_dir():
        return killed
    me = os.getpid()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or not ours to read
        if ppid == me and "chrom" in command.lower():
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
            except ProcessLookupError:
                pass
    return killed

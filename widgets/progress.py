"""A panel's own progress line: while a panel computes, every progress bar the suites draw (tqdm.auto,
and transformers' bars through it) becomes one line of text in the panel's status line, and nothing
else reaches the notebook.

A panel is displayed only when its cell ends, so while it is being built (`building`, around a
panel's `__init__`) the line is also shown as a plain output of the running cell (an IPython
display handle, text/HTML, no widget): shown the moment the cell starts, updated as the bars move,
emptied when the panel is built. No tqdm or transformers widget is made, so a saved notebook holds
none ("Error displaying widget: model not found" after a reload). After a failed build the line
stays, naming the step it stopped at.

Why the class is patched (not each module's `tqdm` name): the suites, transformers and its GGUF
loader all hold `tqdm.auto.tqdm` itself, some imported only while the run goes; shadowing the
methods that draw (and restoring them after) reaches every one of them and nothing else.
"""

from __future__ import annotations

import functools
import html
import inspect
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import tqdm.auto
from tqdm.std import tqdm as std_tqdm

__all__ = ["ProgressLine", "bar_text", "building", "progress_line", "quiet_bars"]

_MISSING = object()
_PATCHED = ("__init__", "__iter__", "update", "close", "clear", "reset", "display")
_STD = {name: getattr(std_tqdm, name) for name in _PATCHED}
_lock = threading.RLock()
_current: ProgressLine | None = None  # the line bars draw into now (one at a time: the outermost)
BUSY_COLOR = "#8a6d00"


class _Null:
    """A file that swallows what tqdm's text mode would print."""

    def write(self, _text: str) -> None:
        pass

    def flush(self) -> None:
        pass


_NULL = _Null()


def bar_text(bar: std_tqdm) -> str:
    """One bar as short text: `training 40/120` (`training 40` without a total)."""
    d = bar.format_dict
    n, total = d.get("n") or 0, d.get("total")
    count = f"{n:g}/{total:g}" if total else f"{n:g}"
    desc = (bar.desc or "").rstrip(": ")
    return f"{desc} {count}" if desc else count


class ProgressLine:
    """One line of progress text: `write(text)` receives `title — bar · bar (12 s)` while bars move.

    `cell` True: also shown as a plain output of the running cell (inside a Jupyter kernel only),
    emptied on a clean exit. Entered inside another line, it does nothing (the outer one draws)."""

    def __init__(self, write: Callable[[str], None], title: str, cell: bool = False, interval_s: float = 0.2) -> None:
        self.write, self.title, self.cell, self.interval_s = write, title, cell, float(interval_s)
        self.bars: list[std_tqdm] = []
        self.text = ""
        self.handle: Any = None
        self._outer = False
        self._start = self._last = 0.0
        self._saved: dict[str, Any] = {}
        self._hf: tuple[int, bool] | None = None

    # --- entering and leaving -------------------------------------------------------------------
    def __enter__(self) -> ProgressLine:
        global _current
        with _lock:
            if _current is not None:
                return self  # nested: the outer line draws
            _current, self._outer = self, True
        self._start = time.monotonic()
        self._patch()
        self._quiet_transformers()
        if self.cell and _in_kernel():
            from IPython.display import display

            self.handle = display(self._bundle(self.title + " …"), raw=True, display_id=True)
        self.show(self.title + " …")
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, _tb: Any) -> None:
        global _current
        if not self._outer:
            return
        try:
            self._unpatch()
            self._restore_transformers()
            if self.handle is not None:
                if kind is None:
                    self.handle.update({"text/plain": ""}, raw=True)  # nothing left in the saved notebook
                else:
                    self.handle.update(self._bundle(f"{self.title}: stopped at {self.text or 'the start'}"), raw=True)
        finally:
            with _lock:
                _current = None

    # --- drawing ----------------------------------------------------------------------------------
    def show(self, text: str) -> None:
        self.text = text
        self.write(text)
        if self.handle is not None:
            self.handle.update(self._bundle(text), raw=True)

    def changed(self, force: bool = False) -> None:
        """A bar moved: redraw, at most every `interval_s` unless `force`."""
        now = time.monotonic()
        if not force and now - self._last < self.interval_s:
            return
        self._last = now
        with _lock:
            bars = " · ".join(bar_text(b) for b in self.bars)
        self.show(f"{self.title} — {bars or '…'} ({now - self._start:.0f} s)")

    @staticmethod
    def _bundle(text: str) -> dict[str, str]:
        return {"text/plain": text,
                "text/html": f'<span class="wb-progress" style="color:{BUSY_COLOR}">{html.escape(text)}</span>'}

    # --- tqdm, transformers -----------------------------------------------------------------------
    def _patch(self) -> None:
        cls = tqdm.auto.tqdm
        self._saved = {name: cls.__dict__.get(name, _MISSING) for name in _PATCHED}
        for name, method in _METHODS.items():
            setattr(cls, name, method)

    def _unpatch(self) -> None:
        cls = tqdm.auto.tqdm
        for name, method in self._saved.items():
            if method is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, method)

    def _quiet_transformers(self) -> None:
        try:
            from transformers.utils import logging as hf_logging
        except ImportError:  # pragma: no cover - transformers is a dependency
            return
        self._hf = (hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled())
        hf_logging.set_verbosity_error()  # no "Loading weights" / "Writing model shards" bars or notices
        hf_logging.disable_progress_bar()

    def _restore_transformers(self) -> None:
        if self._hf is None:
            return
        from transformers.utils import logging as hf_logging

        verbosity, enabled = self._hf
        hf_logging.set_verbosity(verbosity)
        (hf_logging.enable_progress_bar if enabled else hf_logging.disable_progress_bar)()


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


# --- the methods a tqdm.auto bar has while a line is open: tqdm's text mode, printing nowhere -----
def _init(self: std_tqdm, *args: Any, **kwargs: Any) -> None:
    kwargs.pop("display", None)  # tqdm.notebook's own keyword
    kwargs["file"], kwargs["gui"] = _NULL, False
    kwargs["disable"] = bool(kwargs.get("disable", False))
    _STD["__init__"](self, *args, **kwargs)
    line = _current
    if not self.disable and line is not None:
        with _lock:
            line.bars.append(self)
        line.changed(force=True)


def _display(self: std_tqdm, msg: str | None = None, pos: int | None = None) -> bool:
    line = _current
    if line is not None and self in line.bars:
        line.changed()
    return True


def _close(self: std_tqdm) -> None:
    _STD["close"](self)
    line = _current
    if line is not None and self in line.bars:
        with _lock:
            line.bars.remove(self)
        line.changed()


_METHODS: dict[str, Any] = {**_STD, "__init__": _init, "display": _display, "close": _close}


# --- for panels -----------------------------------------------------------------------------------
def building(init: Callable[..., None]) -> Callable[..., None]:
    """Decorate a panel's `__init__`: while it runs (computing or loading its result, booting a
    model, the first recompute), the suites' bars are the panel's progress line: in its status line
    and, in a notebook, a plain output of the running cell, emptied when the panel is built. The
    panel's `progress` argument False: no line in the cell (bars are off then anyway)."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        cell = bool(bound.arguments.get("progress", True))
        with ProgressLine(lambda text: self.set_status(text, kind="busy"), f"building the {self.suite} panel",
                          cell=cell):
            init(self, *args, **kwargs)

    return wrapper


def progress_line(title: str) -> ProgressLine:
    """For a notebook cell that runs a suite itself (`with progress_line("the run"): result =
    run_cached(...)`): the bars as one line of text in the cell's output, emptied when done."""
    return ProgressLine(lambda _text: None, title, cell=True)


@contextmanager
def quiet_bars(write: Callable[[str], None], title: str) -> Iterator[ProgressLine]:
    """Inside (a recompute): the bars are text in `write` (the status line), never a widget."""
    with ProgressLine(write, title) as line:
        yield line

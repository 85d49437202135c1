"""The shared interactive panel: a row of controls (each with an error line under it), a plotly
FigureWidget, an Export button and a status line.

When a recompute runs:
- A value set from code (`panel.alpha.value = 1.0`) recomputes at once, before the cell's next
  line, so what a cell prints is the state the panel shows. A value the browser sends (a drag) is
  debounced inside a running event loop: a burst within `debounce_s` leads to one recompute.
  Without a loop (a script, a test) every change recomputes at once.
- A recompute builds the whole figure from the panel's state with the suite's `workbench.plots`
  function and `show`s it: the on-screen FigureWidget takes its traces and layout, and the figure
  itself is kept as `shown`, which `export` writes. The widget's Python copy is never read back:
  the front end echoes its own state into it (a drag or a relayout can empty a trace's data there).
- After each recompute the figure's synced state is replaced by the current figure, so a page
  reload or a second `display(panel)` draws what the controls say, not the figure the panel was
  built with (plotly's FigureWidget sends updates as messages that a new view never sees).

While a panel computes (built by its `__init__`, decorated `building`, or a recompute), the suites'
progress bars are one line of text in its status line (`widgets.progress`), never a tqdm or
transformers widget; while it is built, that line is also a plain output of the running cell,
emptied when it is done.

An exception in `recompute` is shown beside the control that caused it (the one its message names
in backticks, else the one last changed) and in the status line; the outputs it left stale are
greyed out until the next good recompute. Nothing is lost in a log.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
from collections.abc import Sequence
from copy import deepcopy
from pathlib import Path
from typing import ClassVar

import ipywidgets as widgets
import plotly.graph_objects as go
from traitlets import TraitError

from widgets.controls import LOG_STEP, RANGE_SLIDERS, log_slider, parse_typed, slider_text, typed_box
from widgets.progress import building, quiet_bars
from workbench.plots.export import FORMATS, export_figures, export_to_docs, markdown_snippet

__all__ = ["LOG_STEP", "Panel", "building", "log_slider"]

STATUS_COLORS = {"info": "#555", "busy": "#8a6d00", "error": "#b00020"}
# one stylesheet per panel: greyed stale outputs, the error line under a control
STYLE = ("<style>.wb-stale{opacity:.35;filter:grayscale(100%);transition:opacity .2s}"
         ".wb-control-error{color:#b00020;font-size:12px;line-height:1.3;max-width:360px;white-space:normal}"
         "</style>")
_NAMED = re.compile(r"`([A-Za-z_][\w ]*)`")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Panel(widgets.VBox):
    """Base class: subclasses build controls and a figure, then implement `recompute()`.

    `suite` names the docs folder exports go to (`docs/figures/<suite>/`)."""

    suite: ClassVar[str] = "panel"

    def __init__(self, controls: Sequence[widgets.Widget], figure: go.Figure, debounce_s: float = 0.15) -> None:
        super().__init__()
        self.figure = go.FigureWidget(figure)
        self.shown = go.Figure(figure)  # what the screen shows, as the plots function built it
        # plotly's anywidget view ignores DOM classes: greying goes on this box around it
        self.figure_box = widgets.Box([self.figure])
        # a subclass that computed before this (`building`) has drawn its progress in it already
        self.status = self.__dict__.get("status") or widgets.HTML()
        self.debounce_s = float(debounce_s)
        self.last_error: Exception | None = None
        self.last_export: list[Path] = []
        self._pending: asyncio.TimerHandle | None = None
        self._last_changed: widgets.Widget | None = None
        self._control_list = list(controls)
        self._errors = [widgets.HTML(layout=widgets.Layout(display="none")) for _ in controls]
        # each control's current error: from the last failed recompute that named it, and from a
        # value typed into its box that was not applied; both stay until that control is fixed
        self._failed: dict[int, str] = {}
        self._typed_errors: dict[int, str] = {}
        self.typed: dict[int, widgets.Text] = {}  # control index -> the box a slider's value is typed in
        rows = []
        for i, (control, error) in enumerate(zip(controls, self._errors)):
            control.observe(self._on_change, names="value")
            error.add_class("wb-control-error")
            if isinstance(control, RANGE_SLIDERS):
                box = self.typed[i] = typed_box(control)
                box.observe(lambda change, i=i: self._on_typed(i, change["new"]), names="value")
                # a greyed slider (a method without α) greys its box too: nothing to type there
                control.observe(lambda change, box=box: setattr(box, "disabled", change["new"]), names="disabled")
                rows.append(widgets.VBox([widgets.HBox([control, box]), error]))
            else:
                rows.append(widgets.VBox([control, error]))
        self.controls = widgets.HBox(rows, layout=widgets.Layout(flex_flow="row wrap"))
        self.export_button = widgets.Button(description="Export", icon="download",
                                            tooltip="write this figure (PNG + HTML) to the docs figures folder",
                                            layout=widgets.Layout(width="100px", flex="0 0 auto"))
        self.export_button.on_click(lambda _button: self._export_clicked())
        self.footer = widgets.HBox([self.export_button, self.status], layout=widgets.Layout(align_items="center"))
        self.children = [widgets.HTML(STYLE), self.controls, self.figure_box, self.footer]
        self.set_status("ready")

    # --- for subclasses ---------------------------------------------------------------------------
    def recompute(self) -> None:
        """Read the controls, build the figure with the suite's plots function and `show` it."""
        raise NotImplementedError

    def show(self, figure: go.Figure) -> None:
        """Put `figure` on screen (every trace and the layout replaced, not merged, so nothing of the
        previous state lingers) and keep it as `shown`, the figure `export` writes."""
        rebuilt = [t.type for t in figure.data] != [t.type for t in self.figure.data]
        if rebuilt:  # other traces: the list is rebuilt from the new figure's own traces
            self.figure.data = ()
            self.figure.add_traces(list(figure.data))
        layout = {k: v for k, v in figure.layout.to_plotly_json().items() if k != "template"}
        with self.figure.batch_update():
            if not rebuilt:
                for trace, new in zip(self.figure.data, figure.data):
                    trace.update(_trace_props(new), overwrite=True)
            self.figure.layout.update(layout, overwrite=True)
        self.shown = go.Figure(figure)

    def describe(self) -> str:
        """One line for the status bar after a successful recompute."""
        return "ready"

    def outputs(self) -> list[widgets.Widget]:
        """The widgets a failed recompute leaves stale (greyed out until the next good one)."""
        return [self.figure_box]

    def layout_children(self, *middle: widgets.Widget) -> None:
        """Put `middle` (e.g. a completion and `figure_box`) between the controls and the footer."""
        self.children = [self.children[0], self.controls, *middle, self.footer]

    # --- running ----------------------------------------------------------------------------------
    def refresh(self) -> bool:
        """Run `recompute` now; return False (and show the error beside its control) if it raised."""
        self._cancel_pending()
        try:
            with quiet_bars(lambda text: self.set_status(text, kind="busy"), "computing"):  # bars: text, no widget
                self.recompute()
        except Exception as err:  # noqa: BLE001 - any failure must reach the user, in the widget
            self.last_error = err
            self._show_error(err)
            return False
        self.last_error = None
        self._clear_errors()
        self._sync_views()
        self.set_status(self.describe())
        return True

    def set_status(self, text: str, kind: str = "info", code: str | None = None) -> None:
        """Show `text` in the status line (kind 'info', 'busy' or 'error'), and `code` after it in
        a selectable monospace box."""
        if "status" not in self.__dict__:  # before `Panel.__init__`: a subclass computing (`building`)
            self.status = widgets.HTML()
        color = STATUS_COLORS.get(kind, STATUS_COLORS["info"])
        snippet = f' <code class="wb-snippet">{html.escape(code)}</code>' if code else ""
        self.status.value = (f'<span class="wb-status wb-{kind}" style="color:{color}">{html.escape(text)}'
                             f"{snippet}</span>")

    def _on_typed(self, index: int, text: str) -> None:
        """A value typed into control `index`'s box: applied when it parses and is in range (the
        control's own validator decides), else the error stays beside the control, unapplied."""
        control = self._control_list[index]
        if text == slider_text(control):
            return  # the box echoing the slider
        try:
            control.value = parse_typed(control, text)
        except (ValueError, TraitError) as err:
            self._typed_errors[index] = f"{err} — not applied"
            self._render_errors()
            self.set_status(f"{err} — not applied; the panel shows {control.description} = {slider_text(control)}",
                            kind="error")
            return
        self.typed[index].value = slider_text(control)  # normalised ("3" -> "3.00")

    def _on_change(self, change: dict) -> None:
        owner = change["owner"]
        self._last_changed = owner
        index = self._control_list.index(owner)
        self._failed.pop(index, None)  # its own earlier error is moot: it has a new value
        if index in self.typed:  # the box shows the slider's value again, so its typed error is gone
            self._typed_errors.pop(index, None)
            self.typed[index].value = slider_text(owner)
        from_browser = change["name"] in getattr(owner, "_property_lock", {})
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if not from_browser or loop is None or self.debounce_s <= 0:
            self.refresh()
            return
        self._cancel_pending()
        self._pending = loop.call_later(self.debounce_s, self.refresh)

    def _cancel_pending(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def _sync_views(self) -> None:
        """Make the figure's synced state the current figure, as plotly does when a FigureWidget is
        displayed (`_repr_mimebundle_`): the state a reloaded page or a new view renders from."""
        fig = self.figure
        fig._widget_layout = deepcopy(fig._layout_obj._props)
        fig._widget_data = deepcopy(fig._data)

    # --- errors -----------------------------------------------------------------------------------
    def culprit(self, err: Exception) -> widgets.Widget | None:
        """The control `err` is about: the first one its message names in backticks (by attribute
        name or description), else the one changed last."""
        names = {m.group(1).strip() for m in _NAMED.finditer(str(err))}
        for name in names:
            for control in self._control_list:
                if getattr(self, name, None) is control or (control.description or "").strip() == name:
                    return control
        return self._last_changed

    def _show_error(self, err: Exception) -> None:
        message = f"{type(err).__name__}: {err}"
        control = self.culprit(err)
        if control in self._control_list:
            self._failed[self._control_list.index(control)] = str(err)
        self._render_errors()
        for output in self.outputs():
            output.add_class("wb-stale")
        self.set_status(message + " — the greyed output is from the last good values", kind="error")

    def _clear_errors(self) -> None:
        """A recompute succeeded: every control's value is valid; only unapplied typed values keep theirs."""
        self._failed.clear()
        self._render_errors()
        for output in self.outputs():
            output.remove_class("wb-stale")

    def _render_errors(self) -> None:
        for i, slot in enumerate(self._errors):
            text = self._typed_errors.get(i) or self._failed.get(i, "")
            slot.value, slot.layout.display = html.escape(text), None if text else "none"

    # --- export -----------------------------------------------------------------------------------
    def export_name(self) -> str:
        """A file name from the panel's numeric and choice controls, e.g. `panel_alpha1_layer2`."""
        parts = []
        for control in self._control_list:
            value = control.value
            if isinstance(value, str) and (len(value) > 24 or " " in value):
                continue  # a prompt or a text: not a name
            attr = next((k for k, v in vars(self).items() if v is control), control.description or "x")
            parts.append(f"{attr}{value:g}" if isinstance(value, float) else f"{attr}{value}")
        return _UNSAFE.sub("-", "_".join(["panel", *parts]))[:120]

    def export(self, name: str | None = None, folder: str | os.PathLike | None = None,
               formats: tuple[str, ...] = FORMATS) -> list[Path]:
        """Write the figure on screen (`shown`: the plots function's figure of the last good state,
        never the widget's synced copy) as PNG at its own size and HTML, `<folder>/<name>.*`, and
        return the paths; `folder` None: the docs figures folder of this suite
        (`$WORKBENCH_DOCS/<suite>` or `<project>/docs/figures/<suite>`), `name` None:
        `export_name()`. The status line shows the paths and a Markdown snippet for a docs page."""
        name = self.export_name() if name is None else _UNSAFE.sub("-", str(name)).strip("-")
        if not name:
            raise ValueError("`name` must contain a letter or digit")
        figures = {name: go.Figure(self.shown)}
        paths = (export_to_docs(figures, self.suite, formats=formats) if folder is None
                 else export_figures(figures, folder, formats=formats))
        self.last_export = paths
        self.set_status(f"exported {', '.join(str(p) for p in paths)} — Markdown:",
                        code=markdown_snippet(paths, None if folder is None else paths[0].parent))
        return paths

    def _export_clicked(self) -> None:
        self.set_status("exporting …", kind="busy")
        try:
            self.export()
        except Exception as err:  # noqa: BLE001 - shown beside the button, not lost in a log
            self.set_status(f"export failed: {type(err).__name__}: {err}", kind="error")


def _trace_props(trace: go.BaseTraceType) -> dict:
    """A trace's properties without its type and uid (a trace keeps both when it is updated)."""
    return {k: v for k, v in trace.to_plotly_json().items() if k not in ("type", "uid")}

"""The ACE panel: α slider, layer slider, method and model toggles, a prompt box -> the steered
completion, its verdict, and the refusal-vs-α curve with a marker at the current α.

The curve comes from the precomputed `AceResult` (its layer); the completion is generated live
from the booted model at the slider's layer, so dragging α or the layer changes the text at once.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from workbench.ace import AceConfig, AceResult, ModelSession, open_session
from workbench.ace.config import SWEEP_METHODS
from workbench.plots.ace import METHOD_NAMES, SETS, VERDICT_COLORS, panel_curve, sweep_curve
from workbench.suite import CacheLike, as_cache, run_cached
from widgets.base import Panel
from widgets.controls import FloatSlider, IntSlider

PANEL_METHODS = ("ace", "actadd", "directional_ablation", "affine_ablation")


class AcePanel(Panel):
    """Attributes: `alpha`, `layer` (sliders), `method`, `model` (toggles), `prompt` (text box),
    `completion` (HTML: text and verdict), `figure`, `status`, `result`, `last_completion`,
    `last_verdict`. `progress`: bars while a missing result trains and sweeps.

    The prompt box generates on Enter (or when it loses focus), not on every keystroke: each
    completion is a model call."""

    suite = "ace"

    def __init__(self, result: AceResult | None = None, config: AceConfig | None = None,
                 cache: CacheLike = None, prompt: str | None = None, debounce_s: float = 0.15,
                 progress: bool = True) -> None:
        self.cache = cache
        self.result = result if result is not None else run_cached("ace", config or AceConfig.quick(), cache=cache, progress=progress)
        r = self.result
        self._sessions: dict[int, ModelSession] = {}
        L = int(r.direction.shape[1])
        self.alpha = FloatSlider(value=0.0, min=min(-1.0, *r.config.alphas), max=max(2.0, *r.config.alphas),
                                         step=0.05, description="α", readout_format=".2f", continuous_update=True)
        self.layer = IntSlider(value=r.layer, min=0, max=L - 1, description="layer", continuous_update=True)
        self.method = widgets.ToggleButtons(options=[(METHOD_NAMES.get(m, m.replace("_", " ")), m) for m in PANEL_METHODS],
                                            value="ace", description="method")
        self.model = widgets.ToggleButtons(options=list(r.labels), value=r.labels[0], description="model")
        self.prompt = widgets.Text(value=prompt or r.prompts["harmful_eval"][0], description="prompt ⏎",
                                   placeholder="type a request, then press Enter", continuous_update=False,
                                   tooltip="press Enter to generate", layout=widgets.Layout(width="640px"))
        self.completion = widgets.HTML()
        self.last_completion, self.last_verdict = "", ""
        super().__init__([self.alpha, self.layer, self.method, self.model, self.prompt],
                         panel_curve(r, 0, "ace", 0.0), debounce_s)
        self.layout_children(self.completion, self.figure_box)
        self.refresh()

    def outputs(self) -> list[widgets.Widget]:
        return [self.completion, self.figure_box]

    def session(self, index: int) -> ModelSession:
        if index not in self._sessions:
            self.set_status(f"loading {self.result.labels[index]} …", kind="busy")
            root = as_cache(self.cache).root
            self._sessions[index] = open_session(self.result.config, index, root, progress=False)
        return self._sessions[index]

    def recompute(self) -> None:
        r = self.result
        m = r.model_index(self.model.value)
        method, alpha, layer = self.method.value, float(self.alpha.value), int(self.layer.value)
        if not self.prompt.value.strip():
            raise ValueError("`prompt` must be a non-empty request")
        session = self.session(m)
        edits = r.edits(m, method, alpha, layer)
        text = session.complete([self.prompt.value], edits, r.config.positions, r.config.max_new_tokens)[0]
        verdict = session.judge([self.prompt.value], [text])[0]
        curve_method = method if method in SWEEP_METHODS else "ace"
        marker = alpha if method in SWEEP_METHODS else 0.0
        with self.figure.batch_update():
            for trace, prompt_set in zip(self.figure.data, SETS):
                trace.x, trace.y = sweep_curve(r, m, curve_method, prompt_set)
            self.figure.data[2].x = [marker, marker]
            self.figure.layout.title.text = (f"{r.labels[m]}: {METHOD_NAMES[curve_method]} refusal vs α "
                                             f"(precomputed at layer {r.layer})")
        self.last_completion, self.last_verdict = text, verdict
        color = VERDICT_COLORS[verdict]
        self.completion.value = (f'<div class="wb-completion"><b>completion:</b> {html.escape(text) or "<i>(empty)</i>"}'
                                 f' &nbsp; <b style="color:{color}" class="wb-verdict">{verdict}</b></div>')

    def describe(self) -> str:
        method = self.method.value
        alpha = f", α = {self.alpha.value:.2f}" if method in ("ace", "actadd") else ""
        return f"{self.model.value}: {method.replace('_', ' ')}{alpha} at layer {self.layer.value} → {self.last_verdict}"

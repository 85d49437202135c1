"""The ACE panel: α slider, layer and sites choices, method and model toggles, a prompt box -> the
steered completion, its verdict (and the binary refusal-anywhere judge), and the refusal-vs-α curve
with a marker at the current α.

The curve comes from the precomputed `AceResult` (its configured layer and sites); the completion
is generated live from the booted model at the panel's layer and sites, so every control changes the
text at once. Methods without α (the projections and ablations) grey the α slider out; a method
with a fixed place on ACE's α axis (midpoint projection: ACE at α = ½) is marked there. The panel
reads its controls, asks `workbench.ace.live.AceLive` and renders; the suite does the rest.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from widgets.base import Panel, building
from widgets.controls import FloatSlider
from workbench.ace import AceConfig, AceResult, ModelSession
from workbench.ace.config import ALL_LAYERS, PANEL_METHODS, SITES
from workbench.ace.live import AceLive
from workbench.ace.methods import METHODS
from workbench.plots.ace import VERDICT_COLORS, panel_curve
from workbench.runner import CacheLike, as_cache, run_cached


def layer_options(n_layers: int) -> list[tuple[str, int | str]]:
    """The layer slider's stops: every block of a model of `n_layers` blocks, and "all"."""
    return [(ALL_LAYERS, ALL_LAYERS), *[(str(i), i) for i in range(n_layers)]]


class AcePanel(Panel):
    """Attributes: `alpha` (slider), `layer` ("all" or a block), `sites`, `method`, `model`
    (toggles), `prompt` (text box),
    `completion` (HTML: text and verdict), `figure`, `status`, `result`, `last_completion`,
    `last_verdict`. `progress`: a progress line while a missing result trains and sweeps.

    The prompt box generates on Enter (or when it loses focus), not on every keystroke: each
    completion is a model call."""

    suite = "ace"

    @building
    def __init__(self, result: AceResult | None = None, config: AceConfig | None = None,
                 cache: CacheLike = None, prompt: str | None = None, debounce_s: float = 0.15,
                 progress: bool = True) -> None:
        self.cache = cache
        self.result = (
            result
            if result is not None
            else run_cached("ace", config or AceConfig.quick(), cache=cache, progress=progress)
        )
        r = self.result
        self.live: AceLive | None = None  # made on the first completion (it needs the cache's root then)
        first = r.labels[0]  # the panel opens on the first model (the chat model, in the default config)
        self.alpha = FloatSlider(value=0.0, min=min(-1.0, *r.config.alphas), max=max(2.0, *r.config.alphas),
                                 step=0.05, description="α", readout_format=".2f", continuous_update=True)
        layer = r.config.layer if r.config.layer == ALL_LAYERS else r.layer[first]
        self.layer = widgets.SelectionSlider(options=layer_options(r.n_layers(first)), value=layer,
                                             description="layer", continuous_update=True)
        self.sites = widgets.ToggleButtons(options=list(SITES), value=r.sites(first), description="sites",
                                           style={"button_width": "auto"})
        self.method = widgets.ToggleButtons(options=[(METHODS[m].label, m) for m in PANEL_METHODS],
                                            value="ace", description="method", style={"button_width": "auto"})
        self.model = widgets.ToggleButtons(options=list(r.labels), value=r.labels[0], description="model",
                                           style={"button_width": "auto"})
        self.prompt = widgets.Text(value=prompt or r.prompts[first]["harmful_eval"][0], description="prompt ⏎",
                                   placeholder="type a request, then press Enter", continuous_update=False,
                                   tooltip="press Enter to generate", layout=widgets.Layout(width="640px"))
        self.completion = widgets.HTML()
        self.last_completion, self.last_verdict = "", ""
        super().__init__([self.alpha, self.layer, self.sites, self.method, self.model, self.prompt],
                         panel_curve(r, 0, "ace", 0.0), debounce_s)
        self.layout_children(self.completion, self.figure_box)
        self.refresh()

    def outputs(self) -> list[widgets.Widget]:
        return [self.completion, self.figure_box]

    def session(self, index: int) -> ModelSession:
        """Model `index`'s booted session (the live object's; the status line says while it boots)."""
        if self.live is None:
            self.live = AceLive(self.result, as_cache(self.cache).root)
        if not self.live.is_booted(index):
            self.set_status(f"loading {self.result.labels[index]} …", kind="busy")
        return self.live.session(index)

    def recompute(self) -> None:
        r = self.result
        m = r.model_index(self.model.value)
        method, alpha = self.method.value, float(self.alpha.value)
        if not self.prompt.value.strip():
            raise ValueError("`prompt` must be a non-empty request")
        self.alpha.disabled = not METHODS[method].reads_alpha  # the projections and ablations have no α
        options = layer_options(r.n_layers(m))
        if list(self.layer.options) != options:  # another model, another depth: keep "all", else clamp
            value = self.layer.value
            self.layer.options = options
            self.layer.value = value if value == ALL_LAYERS else min(int(value), len(options) - 2)
        self.session(m)
        done = self.live.complete(self.prompt.value, m, method, alpha, self.layer.value, self.sites.value)
        curve = self.live.curve(m, method, alpha, self.sites.value, self.layer.value, on_compute=self._computing)
        self.show(panel_curve(r, m, method, alpha, curve))
        self.last_completion, self.last_verdict = done.text, done.verdict
        color = VERDICT_COLORS[done.verdict]
        binary = "refusal anywhere" if done.refuses else "no refusal"
        self.completion.value = (f'<div class="wb-completion"><b>completion:</b> '
                                 f'{html.escape(done.text) or "<i>(empty)</i>"}'
                                 f' &nbsp; <b style="color:{color}" class="wb-verdict">{done.verdict}</b>'
                                 f' <span class="wb-binary">(binary judge: {binary})</span></div>')

    def _computing(self, where: str) -> None:
        self.set_status(f"generating the α sweep on {where} ({len(self.result.config.alphas)} α values × the "
                        "held-out prompts; kept for the next time) …", kind="busy")

    def describe(self) -> str:
        method = self.method.value
        alpha = f", α = {self.alpha.value:.2f}" if METHODS[method].reads_alpha else ""
        where = "every block" if self.layer.value == ALL_LAYERS else f"block {self.layer.value}"
        return (f"{self.model.value}: {METHODS[method].label}{alpha} on {where}'s {self.sites.value} sites "
                f"→ {self.last_verdict}")

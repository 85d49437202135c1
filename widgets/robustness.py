"""The robustness panel: a threshold slider (the filter's curves, the current point and the test
confusion counts), an attack-budget slider (success rate), a round slider (before/after adversarial
training) and a text box: the tool (saliency-coloured tokens, best swaps per token, live score).

The panel only reads its controls, asks a `workbench.robustness.live.FilterProbe` and renders. The
threshold point (×) is a real filter sample at the slider's value, by the estimator of the curves
it sits on: as many prompts as each point of the result's sweep, the same seed (so at a threshold
of the sweep it is that point); a zero reads "0". Everything else is read from the cached result,
so dragging is instant. The tool runs the round's classifier
(one gradient and one batched forward pass per edit).
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from widgets.base import Panel, building
from widgets.controls import IntSlider, log_slider
from workbench.plots.robustness import example_text, panel_figure, tool_background
from workbench.robustness import ATTACKS, RobustnessConfig, RobustnessResult
from workbench.robustness.attacks import Saliency
from workbench.robustness.classifier import Classifier
from workbench.robustness.live import POINT_SAMPLES, FilterProbe, TokenCount
from workbench.runner import CacheLike, run_cached

__all__ = ["POINT_SAMPLES", "RobustnessPanel", "sweep_samples"]


class RobustnessPanel(Panel):
    """Attributes: `threshold` (log slider), `budget`, `round` (int sliders), `text` (the tool's
    input), `tool` (HTML: coloured tokens and suggestions), `figure`, `status`, `result`, `probe`
    (the `FilterProbe` every number comes from; its `samples` are the sweep's per point), `point` and
    `counts` (its last `ThresholdPoint`'s filter sample and test counts). `progress`: a progress line
    while a missing result trains."""

    suite = "robustness"

    @building
    def __init__(self, result: RobustnessResult | None = None, config: RobustnessConfig | None = None,
                 cache: CacheLike = None, debounce_s: float = 0.15, progress: bool = True) -> None:
        self.result = result if result is not None else run_cached(
            "robustness", config or RobustnessConfig.quick(), cache=cache, progress=progress)
        c = self.result.config
        self.probe = FilterProbe(self.result, samples=sweep_samples(self.result))
        self.threshold = log_slider(float(self.result.thresholds[0]), -4, 0, "threshold")
        self.budget = IntSlider(value=min(1, c.max_budget), min=0, max=c.max_budget, description="budget")
        self.round = IntSlider(value=0, min=0, max=c.rounds, description="round")
        self.text = widgets.Text(value=example_text(self.result), description="tool text",
                                 continuous_update=True, layout=widgets.Layout(width="640px"))
        self.tool = widgets.HTML()
        self.point: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self._read_point()
        figure = panel_figure(self.result, 0, self.threshold.value, self.budget.value, self._sal(), self.point)
        super().__init__([self.threshold, self.budget, self.round, self.text], figure, debounce_s)
        self.layout_children(self.figure_box, self.tool)
        self._render_tool()
        self.set_status(self.describe())

    # --- reading the probe ------------------------------------------------------------------------
    def classifier(self, r: int) -> Classifier:
        return self.probe.classifier(r)

    def _sal(self) -> Saliency:
        return self.probe.saliency(self.round.value, self.text.value)

    def _read_point(self) -> None:
        point = self.probe.point(self.round.value, self.threshold.value)
        self.point, self.counts = point.filter, point.counts

    def _render_tool(self) -> None:
        sal, t = self._sal(), self.threshold.value
        self.tool.value = tool_html(sal, t, self.probe.token_count(self.round.value, self.text.value))

    # --- Panel ------------------------------------------------------------------------------------
    def outputs(self) -> list[widgets.Widget]:
        return [self.figure_box, self.tool]

    def recompute(self) -> None:
        self._read_point()
        self.show(panel_figure(self.result, self.round.value, self.threshold.value, self.budget.value, self._sal(),
                               self.point))
        self._render_tool()

    def describe(self) -> str:
        p, c, r, b = self.point, self.counts, self.round.value, self.budget.value
        success = ", ".join(f"{a} {self.probe.success(r, a, b):.0%}" for a in ATTACKS)
        return (f"round {r}, t = {self.threshold.value:.3g}: unsafe after filter {p['unsafe']}/{p['accepted']} "
                f"(≤ {p['upper']:.2g}), safe lost {p['safe_lost']:.1%}; test TP {c['tp']} FP {c['fp']} FN {c['fn']} "
                f"TN {c['tn']}; attack success at budget {b}: {success}")


def sweep_samples(result: RobustnessResult) -> int:
    """Prompts per point of the result's threshold sweep (the curves the panel's × sits on)."""
    return int(result.rounds_info[0]["sweep"][0]["n"])


def tool_html(sal: Saliency, threshold: float, count: TokenCount) -> str:
    """The tool's HTML: the live score and verdict at `threshold`, a note when the text is cut, the
    tokens coloured by saliency (their best swaps in the hover) and the five best swaps overall."""
    spans = "".join(
        f'<span title="{html.escape(" | ".join(f"{s.replacement} −{s.drop:.3f}" for s in sug))}" '
        f'style="background: {tool_background(v)}; padding: 1px 2px; margin: 1px">{html.escape(tok)}</span>'
        for tok, v, sug in zip(sal.tokens, sal.saliency, sal.suggestions))
    best = sorted(((s.drop, s.position, s.replacement) for sug in sal.suggestions for s in sug), reverse=True)[:5]
    rows = "".join(f"<li>{html.escape(sal.tokens[p])} → <b>{html.escape(w)}</b>: score −{d:.3f}</li>"
                   for d, p, w in best)
    verdict = "flagged" if sal.prob >= threshold else "passes the filter"
    cut = (f'<div class="wb-truncated" style="color:#8a6d00">the classifier reads the first {count.max_length} '
           f"tokens; this text has {count.tokens}: the rest is not scored</div>" if count.truncated else "")
    return (f'<div class="wb-tool"><div>live score p(injurious) = <b class="wb-score">{sal.prob:.4f}</b> '
            f"({verdict} at t = {threshold:.3g})</div>{cut}<div>{spans}</div>"
            f"<div>best swaps:</div><ol>{rows}</ol></div>")

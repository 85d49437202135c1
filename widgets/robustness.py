"""The robustness panel: a threshold slider (the filter's curves, the current point and the test
confusion counts), an attack-budget slider (success rate), a round slider (before/after adversarial
training) and a text box: the tool (saliency-coloured tokens, best swaps per token, live score).

The threshold point is a real filter sample (100,000 prompts) at the slider's value; everything
else is read from the cached result, so dragging is instant. The tool runs the round's classifier
(one gradient and one batched forward pass per edit).
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import torch

from workbench.plots.robustness import example_text, panel_figure, panel_updates, tool_background
from workbench.robustness import ATTACKS, RobustnessConfig, RobustnessResult
from workbench.robustness.attacks import Saliency, saliency_tool, whole_word_mask
from workbench.robustness.filtering import confusion, group_weights, sweep_point
from workbench.runner import CacheLike, run_cached
from widgets.base import Panel
from widgets.controls import IntSlider, log_slider

POINT_SAMPLES = 100_000


class RobustnessPanel(Panel):
    """Attributes: `threshold` (log slider), `budget`, `round` (int sliders), `text` (the tool's
    input), `tool` (HTML: coloured tokens and suggestions), `figure`, `status`, `result`.
    `progress`: bars while a missing result trains."""

    suite = "robustness"

    def __init__(self, result: RobustnessResult | None = None, config: RobustnessConfig | None = None,
                 cache: CacheLike = None, debounce_s: float = 0.15, progress: bool = True) -> None:
        self.result = result if result is not None else run_cached("robustness", config or RobustnessConfig.quick(), cache=cache, progress=progress)
        c = self.result.config
        self._W = group_weights(self.result.gen_weight, self.result.group)
        self._clfs: dict[int, object] = {}
        self._vocab_ok: torch.Tensor | None = None
        self._saliency: dict[tuple[int, str], Saliency] = {}
        self.threshold = log_slider(float(self.result.thresholds[0]), -4, 0, "threshold")
        self.budget = IntSlider(value=min(1, c.max_budget), min=0, max=c.max_budget, description="budget")
        self.round = IntSlider(value=0, min=0, max=c.rounds, description="round")
        self.text = widgets.Text(value=example_text(self.result), description="tool text",
                                 continuous_update=True, layout=widgets.Layout(width="640px"))
        self.tool = widgets.HTML()
        self.point: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self._compute_point()
        figure = panel_figure(self.result, 0, self.threshold.value, self.budget.value, self._sal(), self.point)
        super().__init__([self.threshold, self.budget, self.round, self.text], figure, debounce_s)
        self.layout_children(self.figure_box, self.tool)
        self._render_tool()
        self.set_status(self.describe())

    # --- pieces ---------------------------------------------------------------------------------
    def classifier(self, r: int):
        if r not in self._clfs:
            self._clfs[r] = self.result.classifier(r)
        return self._clfs[r]

    def _sal(self) -> Saliency:
        key = (self.round.value, self.text.value)
        if key not in self._saliency:
            clf = self.classifier(self.round.value)
            if self._vocab_ok is None:
                self._vocab_ok = whole_word_mask(clf)
            self._saliency[key] = saliency_tool(clf, self.text.value, per_token=3, vocab_ok=self._vocab_ok)
        return self._saliency[key]

    def _compute_point(self) -> None:
        r, t, c = self.round.value, float(self.threshold.value), self.result.config
        s = self.result.scores[r]
        self.point = sweep_point(self._W, s, self.result.labels, t, POINT_SAMPLES, c.max_resamples, c.seed)
        test = self.result.mask("test")
        self.counts = confusion(s[test], self.result.labels[test], t)

    def _render_tool(self) -> None:
        sal = self._sal()
        spans = "".join(
            f'<span title="{html.escape(" | ".join(f"{s.replacement} −{s.drop:.3f}" for s in sug))}" '
            f'style="background: {tool_background(v)}; padding: 1px 2px; margin: 1px">{html.escape(tok)}</span>'
            for tok, v, sug in zip(sal.tokens, sal.saliency, sal.suggestions))
        best = sorted(((s.drop, s.position, s.replacement) for sug in sal.suggestions for s in sug), reverse=True)[:5]
        rows = "".join(f"<li>{html.escape(sal.tokens[p])} → <b>{html.escape(w)}</b>: score −{d:.3f}</li>" for d, p, w in best)
        verdict = "flagged" if sal.prob >= self.threshold.value else "passes the filter"
        clf = self.classifier(self.round.value)
        n_tokens = len(clf.tokenizer(self.text.value)["input_ids"])
        cut = (f'<div class="wb-truncated" style="color:#8a6d00">the classifier reads the first {clf.max_length} '
               f"tokens; this text has {n_tokens}: the rest is not scored</div>" if n_tokens > clf.max_length else "")
        self.tool.value = (f'<div class="wb-tool"><div>live score p(injurious) = <b class="wb-score">{sal.prob:.4f}</b> '
                           f"({verdict} at t = {self.threshold.value:.3g})</div>{cut}<div>{spans}</div>"
                           f"<div>best swaps:</div><ol>{rows}</ol></div>")

    # --- Panel ------------------------------------------------------------------------------------
    def outputs(self) -> list[widgets.Widget]:
        return [self.figure_box, self.tool]

    def recompute(self) -> None:
        self._compute_point()
        updates = panel_updates(self.result, self.round.value, self.threshold.value, self.budget.value, self._sal(),
                                self.point)
        with self.figure.batch_update():
            for trace, update in zip(self.figure.data, updates, strict=True):
                trace.update(update)
        self._render_tool()

    def describe(self) -> str:
        p, c = self.point, self.counts
        success = ", ".join(f"{a} {float(self.result.success_curve(self.round.value, a)[self.budget.value]):.0%}"
                            for a in ATTACKS)
        return (f"round {self.round.value}, t = {self.threshold.value:.3g}: unsafe after filter {p['unsafe']}/{p['accepted']} "
                f"(≤ {p['upper']:.2g}), safe lost {p['safe_lost']:.1%}; test TP {c['tp']} FP {c['fp']} FN {c['fn']} "
                f"TN {c['tn']}; attack success at budget {self.budget.value}: {success}")

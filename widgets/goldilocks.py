"""The Goldilocks panel: a log-scale r/r_init slider, an activation toggle and a d box ->
Tr(H_d)/‖H_d‖_F and the positive share over r/r_init (a marker at the slider's ratio) and the
spectrum of H_d at the radius r = ratio·r_init.

The marker and the spectrum are computed live at the exact ratio (B·d HVPs, one vmapped call).
The curves come from the saved result at the experiment's d (mean over every seed and plane);
another d or activation sweeps the ratios once for seed 0's direction and keeps the curves. All of
it is `workbench.goldilocks.probe.Probe`'s; the panel reads its controls and draws.
"""

from __future__ import annotations

import math

import ipywidgets as widgets
from torch import Tensor

from widgets.base import Panel
from widgets.controls import log_slider
from workbench.goldilocks import GoldilocksConfig, GoldilocksResult
from workbench.goldilocks.probe import Probe
from workbench.plots.goldilocks import panel_figure
from workbench.runner import CacheLike, run_cached


class GoldilocksPanel(Panel):
    """Attributes: `ratio` (r/r_init, log slider), `activation` (toggle), `d` (box), `figure`,
    `status`, `result`, `probe`. `progress`: bars while a missing result computes.

    `d` is a box, checked on recompute against [1, min(max_d, parameters − 1)] (an error beside it,
    not a clamp); `max_d` bounds the live sweep's cost (d restricted Hessians of size d)."""

    suite = "goldilocks"

    def __init__(
        self,
        result: GoldilocksResult | None = None,
        config: GoldilocksConfig | None = None,
        cache: CacheLike = None,
        max_d: int = 64,
        debounce_s: float = 0.15,
        progress: bool = True,
    ) -> None:
        self.result = result if result is not None else run_cached("goldilocks", config or GoldilocksConfig.quick(),
                                                                   cache=cache, progress=progress)
        c = self.result.config
        self.probe = Probe(c, seed=0, result=self.result)
        lo, hi = math.log10(min(c.ratios)), math.log10(max(c.ratios))
        self.ratio = log_slider(1.0, lo, hi, "r / r_init")  # start at the initialisation's radius
        self.activation = widgets.ToggleButtons(options=list(c.activations), value=c.activations[0],
                                                description="activation")
        self.max_d = min(int(max_d), c.n_params - 1)
        self.d = widgets.IntText(value=c.hessian_dim, description="d", layout=widgets.Layout(width="150px"))
        act, d, ratio = self.activation.value, self.d.value, self.ratio.value
        point = self.probe.spectrum(act, d, ratio)
        super().__init__([self.ratio, self.activation, self.d],
                         panel_figure(list(c.ratios), self.curves(act, d), ratio, point, act), debounce_s)
        self._state = (act, d, ratio)
        self.set_status(self.describe())

    def curves(self, activation: str, d: int) -> Tensor:
        """[planes, R, d] spectra over the ratios r/r_init for (activation, d): saved, or swept now."""
        if not self.probe.has_curves(activation, d):
            n = len(self.result.config.ratios)
            self.set_status(f"sweeping {n} radii for {activation}, d = {d} …", kind="busy")
        return self.probe.curves(activation, d)[0]

    def recompute(self) -> None:
        act, d, ratio = self.activation.value, int(self.d.value), float(self.ratio.value)
        if not 1 <= d <= self.max_d:
            raise ValueError(f"`d` must be an integer in [1, {self.max_d}] (the panel's max_d, at most the "
                             f"network's parameters − 1); got {d}")
        sweep = self.curves(act, d)
        point = self.probe.spectrum(act, d, ratio)
        self.show(panel_figure(list(self.result.config.ratios), sweep, ratio, point, act))
        self._state = (act, d, ratio)

    def describe(self) -> str:
        act, d, ratio = self._state
        return (f"{act}, d = {d}, r = {ratio:.3g}·r_init (r_init = {self.probe.r_init:.3g}); marker and spectrum "
                f"at this radius on seed 0's {self.probe.n_bases} planes; curves: {self.probe.curves(act, d)[1]}")

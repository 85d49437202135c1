"""The Goldilocks panel: a log-scale r/r_init slider, an activation toggle and a d box ->
Tr(H_d)/‖H_d‖_F and the positive share over r/r_init (a marker at the slider's ratio) and the
spectrum of H_d at the radius r = ratio·r_init.

The marker and the spectrum are computed live at the exact ratio, on the same planes as the curves
(so the marker is the curve's estimator there, and sits on the curve at each of its ratios). The
curves come from the saved result at the experiment's d (mean over every seed and plane): the
marker is then computed on every seed's direction and planes (one `Probe` per seed, B·d HVPs
each). Another d sweeps the ratios once for seed 0's direction and keeps the curves; the marker is
then seed 0's planes too. All of it is `workbench.goldilocks.probe.Probe`'s; the panel reads its
controls and draws.
"""

from __future__ import annotations

import math
import threading

import ipywidgets as widgets
import plotly.graph_objects as go
import torch
from torch import Tensor

from widgets.base import Panel, building
from widgets.controls import log_slider
from workbench.goldilocks import GoldilocksConfig, GoldilocksResult
from workbench.goldilocks.probe import Probe
from workbench.plots.goldilocks_panel import panel_figure
from workbench.runner import CacheLike, run_cached


class GoldilocksPanel(Panel):
    """Attributes: `ratio` (r/r_init, log slider), `activation` (toggle), `d` (box), `figure`,
    `status`, `result`, `probe` (seed 0's), `probes` (one per seed: the marker at the result's d).
    `progress`: a progress line while a missing result computes.

    `d` is a box, checked on recompute against [1, min(max_d, parameters − 1)] (an error beside it,
    not a clamp); `max_d` bounds the live sweep's cost (d restricted Hessians of size d)."""

    suite = "goldilocks"

    @building
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
        self.probes = [self.probe, *(Probe(c, seed=s, result=self.result) for s in range(1, c.seeds))]
        # forward-AD levels are process-global (`Probe`): one computation at a time over all the probes
        self._lock = threading.RLock()
        lo, hi = math.log10(min(c.ratios)), math.log10(max(c.ratios))
        self.ratio = log_slider(1.0, lo, hi, "r / r_init")  # start at the initialisation's radius
        self.activation = widgets.ToggleButtons(options=list(c.activations), value=c.activations[0],
                                                description="activation")
        self.max_d = min(int(max_d), c.n_params - 1)
        self.d = widgets.IntText(value=c.hessian_dim, description="d", layout=widgets.Layout(width="150px"))
        act, d, ratio = self.activation.value, self.d.value, self.ratio.value
        super().__init__([self.ratio, self.activation, self.d], self.build(act, d, ratio), debounce_s)
        self._state = (act, d, ratio)
        self.set_status(self.describe())

    def curves(self, activation: str, d: int) -> Tensor:
        """[planes, R, d] spectra over the ratios r/r_init for (activation, d): saved, or swept now."""
        if not self.probe.has_curves(activation, d):
            n = len(self.result.config.ratios)
            self.set_status(f"sweeping {n} radii for {activation}, d = {d} …", kind="busy")
        return self.probe.curves(activation, d)[0]

    def point(self, activation: str, d: int, ratio: float) -> Tensor:
        """[P, d] spectra at the ratio `ratio` on the planes the curves of (activation, d) average: every
        seed's at the result's d, else seed 0's (the live sweep's)."""
        probes = self.probes if d == self.result.config.hessian_dim else self.probes[:1]
        with self._lock:
            return torch.cat([p.spectrum(activation, d, ratio) for p in probes])

    def build(self, activation: str, d: int, ratio: float) -> go.Figure:
        """The panel's figure at these values: the curves and, on their planes, the marker and spectrum."""
        with self._lock:
            sweep = self.curves(activation, d)
            point = self.point(activation, d, ratio)
        planes = self.probe.curves(activation, d)[1]
        return panel_figure(list(self.result.config.ratios), sweep, ratio, point, activation, planes)

    def recompute(self) -> None:
        act, d, ratio = self.activation.value, int(self.d.value), float(self.ratio.value)
        if not 1 <= d <= self.max_d:
            raise ValueError(f"`d` must be an integer in [1, {self.max_d}] (the panel's max_d, at most the "
                             f"network's parameters − 1); got {d}")
        self.show(self.build(act, d, ratio))
        self._state = (act, d, ratio)

    def describe(self) -> str:
        act, d, ratio = self._state
        return (f"{act}, d = {d}, r = {ratio:.3g}·r_init (r_init = {self.probe.r_init:.3g}); curves, marker and "
                f"spectrum on the same planes: {self.probe.curves(act, d)[1]}")

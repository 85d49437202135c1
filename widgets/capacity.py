"""The capacity panel: kurtosis and importance-decay sliders, n and d boxes -> capacity bars and
the block-sorted Gram matrix.

Sliders pick the nearest cell of a precomputed (kurtosis × decay) grid, so dragging is instant;
changing n or d retrains that grid through the artifact cache (a progress line in the status).
"""

from __future__ import annotations

import math

import ipywidgets as widgets

from workbench.capacity import CapacityConfig, CapacityResult
from workbench.plots.capacity import panel_figure, panel_updates
from workbench.suite import CacheLike, run_cached
from widgets.base import Panel, log_slider


class CapacityPanel(Panel):
    """Attributes: `kurtosis`, `decay` (sliders), `n`, `d` (int boxes), `figure`, `status`, `result`."""

    def __init__(
        self,
        result: CapacityResult | None = None,
        config: CapacityConfig | None = None,
        cache: CacheLike = None,
        debounce_s: float = 0.15,
    ) -> None:
        self.cache = cache
        self.result = result if result is not None else run_cached("capacity", config or CapacityConfig.quick(), cache=cache, progress=False)
        c = self.result.config
        ki, li = len(c.kurtosis) // 2, len(c.decay) // 2
        self.kurtosis = log_slider(c.kurtosis[ki], math.log10(min(c.kurtosis)), math.log10(max(c.kurtosis)),
                                   "kurtosis k")
        self.decay = widgets.FloatSlider(
            value=c.decay[li], min=min(c.decay), max=max(c.decay), step=0.01,
            description="decay λ", readout_format=".2f", continuous_update=True,
        )
        self.n = widgets.BoundedIntText(value=c.n, min=2, max=512, description="n", layout=widgets.Layout(width="150px"))
        self.d = widgets.BoundedIntText(value=c.d, min=1, max=511, description="d", layout=widgets.Layout(width="150px"))
        self._cell = (ki, li)
        super().__init__([self.kurtosis, self.decay, self.n, self.d], panel_figure(self.result, ki, li), debounce_s)
        self.set_status(self.describe())

    def recompute(self) -> None:
        c = self.result.config
        if (self.n.value, self.d.value) != (c.n, c.d):
            config = c.grid_only(n=self.n.value, d=self.d.value)  # raises on d >= n, named
            self.set_status(f"training n={config.n}, d={config.d} …", kind="busy")
            self.result = run_cached("capacity", config, cache=self.cache, progress=False, on_step=self._progress)
        ki, li = self.result.nearest(self.kurtosis.value, self.decay.value)
        updates, title = panel_updates(self.result, ki, li)
        with self.figure.batch_update():
            for trace, update in zip(self.figure.data, updates):
                trace.update(update)
            self.figure.layout.title.text = title
        self._cell = (ki, li)

    def describe(self) -> str:
        c = self.result.config
        ki, li = self._cell
        k = c.kurtosis[ki]
        density = f", sparse-Gaussian density p = 3/k = {3 / k:.3g}" if k >= 3 else ""
        return (f"grid cell k = {k:g}, λ = {c.decay[li]:g} (nearest to the sliders){density}; "
                f"n = {c.n}, d = {c.d}, best of {c.seeds} seeds")

    def _progress(self, step: int, steps: int) -> None:
        if step == steps or step % max(1, steps // 20) == 0:
            self.set_status(f"training n={self.n.value}, d={self.d.value}: step {step}/{steps}", kind="busy")

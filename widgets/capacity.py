"""The capacity panel: kurtosis and importance-decay sliders, n and d boxes -> capacity bars and
the block-sorted Gram matrix.

The sliders step through the precomputed (kurtosis × decay) grid itself, so dragging is instant and
the readout is the cell the plot shows; changing n or d retrains that grid through the artifact
cache (the status line counts the training steps). A d outside [1, n − 1] is an error beside the
box, not a clamp.
"""

from __future__ import annotations

import ipywidgets as widgets

from widgets.base import Panel, building
from widgets.controls import grid_slider
from workbench.capacity import CapacityConfig, CapacityResult
from workbench.plots.capacity import panel_figure
from workbench.runner import CacheLike, run_cached


class CapacityPanel(Panel):
    """Attributes: `kurtosis`, `decay` (sliders over the result's grid), `n`, `d` (int boxes),
    `figure`, `status`, `result`. `progress`: a progress line while a missing result trains."""

    suite = "capacity"

    @building
    def __init__(
        self,
        result: CapacityResult | None = None,
        config: CapacityConfig | None = None,
        cache: CacheLike = None,
        debounce_s: float = 0.15,
        progress: bool = True,
    ) -> None:
        self.cache = cache
        self.result = (
            result
            if result is not None
            else run_cached("capacity", config or CapacityConfig.quick(), cache=cache, progress=progress)
        )
        c = self.result.config
        ki, li = len(c.kurtosis) // 2, len(c.decay) // 2
        self.kurtosis = grid_slider(c.kurtosis, c.kurtosis[ki], "kurtosis k")
        self.decay = grid_slider(c.decay, c.decay[li], "decay λ")
        # plain int boxes, validated by the config on recompute: a bounded box would clamp silently
        self.n = widgets.IntText(value=c.n, description="n", layout=widgets.Layout(width="150px"))
        self.d = widgets.IntText(value=c.d, description="d", layout=widgets.Layout(width="150px"))
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
        self.show(panel_figure(self.result, ki, li))
        self._cell = (ki, li)

    def describe(self) -> str:
        c = self.result.config
        ki, li = self._cell
        k = c.kurtosis[ki]
        density = f", sparse-Gaussian density p = 3/k = {3 / k:.3g}" if k >= 3 else ""
        return (f"grid cell k = {k:g}, λ = {c.decay[li]:g}{density}; "
                f"n = {c.n}, d = {c.d}, best of {c.seeds} seeds")

    def _progress(self, step: int, steps: int) -> None:
        if step == steps or step % max(1, steps // 20) == 0:
            self.set_status(f"training n={self.n.value}, d={self.d.value}: step {step}/{steps}", kind="busy")

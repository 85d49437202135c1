"""A live curvature probe: the spectrum of H_d at any radius, activation and d, on demand.

The widget (and a notebook cell) asks for one point at a time; a `Probe` keeps the data subset,
the init direction and one set of random bases per d, so moving the ratio r/r_init re-uses them and
only the HVPs at the new point are computed (B·d of them, one vmapped call). It also keeps the curves over
the config's ratios per (activation, d): a saved result's at its d, the rest swept once on demand.
"""

from __future__ import annotations

import threading

import torch
from jaxtyping import Float
from torch import Tensor

from workbench.core.validation import check_int
from workbench.goldilocks.config import GoldilocksConfig, check_ratio
from workbench.goldilocks.data import Dataset, load_dataset
from workbench.goldilocks.experiment import directions, hessian_bases
from workbench.goldilocks.model import check_activation
from workbench.goldilocks.result import GoldilocksResult
from workbench.goldilocks.sweep import points_at_ratios, radius_sweep
from workbench.tensor.curvature import resolve_dtype, restricted_eigvals


class Probe:
    """Spectra of Mᵀ∇²L(r·u)M for the config's net and data, seed `seed`'s direction u, at radii
    r = ratio·r_init. `result` (a result of `config`) supplies the curves at its d (`curves`)."""

    def __init__(self, config: GoldilocksConfig, data: Dataset | None = None, seed: int = 0, bases: int | None = None,
                 result: GoldilocksResult | None = None) -> None:
        if result is not None and result.config != config:
            raise ValueError("`result` must be a result of `config` (its config differs)")
        self.config = config
        check_int("seed", seed, low=0, high=config.seeds - 1)
        self.n_bases = check_int("bases", bases if bases is not None else config.bases, low=1, high=config.bases)
        data = data if data is not None else load_dataset(config.dataset, config.data_path, seed=config.seed)
        self.dtype = resolve_dtype(config.dtype, torch.float32)
        x, self.y = data.subset(config.hessian_batch, seed=config.seed)
        self.x = x.to(self.dtype)
        self.u = directions(config)[seed].to(self.dtype)
        self.r_init = config.spec(config.activations[0]).r_init(config.init)
        self.seed = seed
        self._bases: dict[int, Tensor] = {}
        # (activation, d) -> ([planes, R, d] plane spectra over config.ratios, where they come from)
        self._curves: dict[tuple[str, int], tuple[Tensor, str]] = {}
        for a, act in enumerate(config.activations if result is not None else ()):
            eigs = result.plane_eigs[a].reshape(-1, len(config.ratios), config.hessian_dim)
            self._curves[(act, config.hessian_dim)] = (eigs, f"mean of {eigs.shape[0]} planes ({config.seeds} seeds)")
        # torch.func's forward-AD levels are process-global: two threads inside jvp at once corrupt
        # them ("invalid forward AD level"). A kernel may deliver widget events on another thread
        # than the one running cells, so every computation holds this lock.
        self._lock = threading.RLock()

    def bases(self, d: int) -> Float[Tensor, "B D d"]:
        d = check_int("d", d, low=1, high=self.config.n_params)
        if d not in self._bases:  # the experiment's own planes (the same ones at d = hessian_dim)
            self._bases[d] = hessian_bases(self.config, d)[self.seed, : self.n_bases].to(self.dtype)
        return self._bases[d]

    def spectrum(self, activation: str, d: int, ratio: float) -> Float[Tensor, "B d"]:
        """Eigenvalues at the radius r = ratio·r_init (`ratio` is r/r_init) on each of the B random d-planes."""
        check_activation(activation)
        theta = points_at_ratios(self.u, [check_ratio("ratio", ratio)], self.r_init)  # [1, D]
        with self._lock:
            return restricted_eigvals(self.config.spec(activation).loss_fn(self.x, self.y), theta, self.bases(d))[0]

    def sweep(self, activation: str, d: int) -> Float[Tensor, "B R d"]:
        """Plane spectra over the config's `ratios` r/r_init (what the curves show)."""
        check_activation(activation)
        with self._lock:
            return radius_sweep(self.config.spec(activation), self.x, self.y, self.u, self.config.ratios, self.r_init,
                                self.bases(d), sphere=False, dtype=self.dtype).plane_eigs

    def has_curves(self, activation: str, d: int) -> bool:
        """Whether `curves(activation, d)` is at hand (False: it sweeps the ratios first)."""
        return (activation, d) in self._curves

    def curves(self, activation: str, d: int) -> tuple[Float[Tensor, "P R d"], str]:
        """[planes, R, d] plane spectra over the config's `ratios` r/r_init, and where they come from:
        the result's (every seed and plane) at its d, else `sweep` on this probe's seed, kept for next time."""
        key = (activation, d)
        with self._lock:
            if key not in self._curves:
                self._curves[key] = (self.sweep(activation, d), f"seed {self.seed}, {self.n_bases} planes (swept live)")
            return self._curves[key]

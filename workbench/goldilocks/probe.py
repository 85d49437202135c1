"""A live curvature probe: the spectrum of H_d at any radius, activation and d, on demand.

The widget (and a notebook cell) asks for one point at a time; a `Probe` keeps the data subset,
the init direction and one set of random bases per d, so moving the radius re-uses them and only
the HVPs at the new point are computed (B·d of them, one vmapped call).
"""

from __future__ import annotations

import threading

import torch
from jaxtyping import Float
from torch import Tensor

from workbench.goldilocks.config import GoldilocksConfig, check_radius
from workbench.goldilocks.data import Dataset, load_dataset
from workbench.goldilocks.experiment import directions, hessian_bases
from workbench.goldilocks.model import check_activation
from workbench.goldilocks.sweep import points_at_ratios, radius_sweep
from workbench.tensor.curvature import resolve_dtype, restricted_eigvals
from workbench.core.validation import check_int


class Probe:
    """Spectra of Mᵀ∇²L(r·u)M for the config's net and data, seed `seed`'s direction u."""

    def __init__(self, config: GoldilocksConfig, data: Dataset | None = None, seed: int = 0, bases: int | None = None) -> None:
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
        """Eigenvalues at r = ratio·r_init on each of the B random d-planes."""
        check_activation(activation)
        theta = points_at_ratios(self.u, [check_radius("radius", ratio)], self.r_init)  # [1, D]
        with self._lock:
            return restricted_eigvals(self.config.spec(activation).loss_fn(self.x, self.y), theta, self.bases(d))[0]

    def sweep(self, activation: str, d: int) -> Float[Tensor, "B R d"]:
        """Plane spectra over the config's radii (what the curves show)."""
        check_activation(activation)
        with self._lock:
            return radius_sweep(self.config.spec(activation), self.x, self.y, self.u, self.config.radii, self.r_init,
                                self.bases(d), sphere=False, dtype=self.dtype).plane_eigs

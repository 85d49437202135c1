"""`CapacityResult`: every trained embedding of one `CapacityConfig`, saved as safetensors + JSON."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from jaxtyping import Float
from torch import Tensor

from workbench.capacity.analysis import best_over_seeds, exact_capacities, optimal_gaps
from workbench.capacity.capacity import capacity
from workbench.capacity.config import CapacityConfig
from workbench.capacity.train import importances
from workbench.core.result import Result, expect_shape
from workbench.core.validation import check_range


@dataclass(frozen=True)
class CapacityResult(Result):
    """Trained embeddings. Axes: K kurtosis, L decay, S seeds, D d_sweep, Q sweep_kurtosis,
    P relu_feature_prob.

    W [K, L, S, d, n], loss [K, L, S]: the main grid.
    sweep_W [D, Q, S, max(d_sweep), n] (rows ≥ d_sweep[i] are zero), sweep_loss [D, Q, S].
    relu_W [P, S, d, n], relu_b [P, S, n], relu_loss [P, S]: ReLU-output models.
    paired_W [P, S, d, n], paired_loss [P, S]: quadratic models at kurtosis 3/p.
    train_seconds: wall time of `run`.
    """

    kind: ClassVar[str] = "CapacityResult"
    value_sources: ClassVar[dict[str, str]] = dict.fromkeys(
        ("W", "loss", "sweep_W", "sweep_loss", "relu_W", "relu_b", "relu_loss", "paired_W", "paired_loss"),
        "`lr` and `steps` (a step size the optimizer cannot take diverges)")

    config: CapacityConfig
    W: Float[Tensor, "K L S d n"]
    loss: Float[Tensor, "K L S"]
    sweep_W: Float[Tensor, "D Q S dmax n"]
    sweep_loss: Float[Tensor, "D Q S"]
    relu_W: Float[Tensor, "P S d n"]
    relu_b: Float[Tensor, "P S n"]
    relu_loss: Float[Tensor, "P S"]
    paired_W: Float[Tensor, "P S d n"]
    paired_loss: Float[Tensor, "P S"]
    train_seconds: float

    @staticmethod
    def shapes(config: CapacityConfig) -> dict[str, tuple[int, ...]]:
        """{tensor field: its shape} for a result of `config` (the axes of the class docstring)."""
        c = config
        K, L, S, D, Q, P = (len(c.kurtosis), len(c.decay), c.seeds, len(c.d_sweep), len(c.sweep_kurtosis),
                            len(c.relu_feature_prob))
        return {"W": (K, L, S, c.d, c.n), "loss": (K, L, S), "sweep_W": (D, Q, S, max(c.d_sweep, default=1), c.n),
                "sweep_loss": (D, Q, S), "relu_W": (P, S, c.d, c.n), "relu_b": (P, S, c.n), "relu_loss": (P, S),
                "paired_W": (P, S, c.d, c.n), "paired_loss": (P, S)}

    def validate(self) -> None:
        for name, shape in self.shapes(self.config).items():
            expect_shape(name, getattr(self, name), shape)

    # --- views used by figures, widgets and docs -------------------------------------------
    def importances(self, decay_index: int) -> Float[Tensor, " n"]:
        return importances(self.config.n, self.config.decay[decay_index])

    def best_W(self) -> Float[Tensor, "K L d n"]:
        """The lowest-loss seed's embedding per (kurtosis, decay) cell."""
        return best_over_seeds(self.W, self.loss)

    def capacities(self) -> Float[Tensor, "K L n"]:
        """Capacity of every feature at each cell's optimum."""
        return capacity(self.best_W())

    def exact_capacities(self, decay_index: int) -> Float[Tensor, "K n"]:
        """The exact optimum's capacities (`optimal_allocation`) per kurtosis at one decay."""
        return exact_capacities(self.importances(decay_index), self.config.kurtosis, self.config.d)

    def optimal_gaps(self) -> Float[Tensor, "K L S"]:
        """Each trained model's loss above the exact minimum, relative: (L − L*) / L*."""
        c = self.config
        return torch.stack([torch.stack([optimal_gaps(self.loss[ki, li], self.importances(li), k, c.d)
                                         for li in range(len(c.decay))]) for ki, k in enumerate(c.kurtosis)])

    def sweep_total_capacity(self) -> Float[Tensor, "D Q"]:
        """Σ_i C_i at the optimum for each (d, kurtosis) of the d sweep."""
        return capacity(best_over_seeds(self.sweep_W, self.sweep_loss)).sum(-1)

    def sweep_decay_index(self) -> int:
        """Index of the grid decay closest to `sweep_decay`: the one setting shared by the per-k
        figures, the side studies and the docs' numbers."""
        decays = self.config.decay
        return min(range(len(decays)), key=lambda i: abs(decays[i] - self.config.sweep_decay))

    def nearest(self, kurtosis: float, decay: float) -> tuple[int, int]:
        """Grid indices of the cell nearest to (kurtosis, decay); kurtosis compared in log space."""
        k = check_range("kurtosis", kurtosis, low=1.0, why="E[x⁴] ≥ 1")
        lam = check_range("decay", decay, 0.0, 1.0, low_open=True)
        ki = min(range(len(self.config.kurtosis)), key=lambda i: abs(math.log(self.config.kurtosis[i] / k)))
        li = min(range(len(self.config.decay)), key=lambda i: abs(self.config.decay[i] - lam))
        return ki, li

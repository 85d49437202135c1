"""Fully connected nets as functions of ONE flat parameter vector θ ∈ R^D.

A hand-written MLP that reads its weights out of θ (views, no copies) makes every experiment a
function of θ: the loss L(θ), the plane θ = P + Mφ, and `vmap` over a batch of θ's (seeds ×
bases × radii trained or differentiated at once).

Layout of θ: for each layer ℓ (fan_in → fan_out), W_ℓ row-major then b_ℓ. Biases start at 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

from workbench.core.validation import check_choice, check_int
from workbench.tensor.mlp_curvature import MLPCrossEntropy, mlp_forward

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": torch.relu, "tanh": torch.tanh}
# Weight variance of each named init scheme (biases 0): Var W = gain / fan_in or 2 / (fan_in + fan_out).
INIT_SCHEMES = ("xavier", "he", "lecun")


def check_activation(activation: str, name: str = "activation") -> str:
    return check_choice(name, activation, ACTIVATIONS)


def check_init(init: str) -> str:
    if init not in INIT_SCHEMES:
        raise ValueError(f"`init` must be one of {list(INIT_SCHEMES)}; got {init!r}")
    return init


@dataclass(frozen=True)
class MLPSpec:
    """in_dim → widths… → out_dim with `activation` between layers (none after the last)."""

    in_dim: int
    widths: tuple[int, ...]
    out_dim: int
    activation: str = "relu"

    def __post_init__(self) -> None:
        check_int("in_dim", self.in_dim, low=1)
        check_int("out_dim", self.out_dim, low=1)
        for i, w in enumerate(self.widths):
            check_int(f"widths[{i}]", w, low=1)
        check_activation(self.activation)
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))

    @property
    def layers(self) -> list[tuple[int, int]]:
        """(fan_in, fan_out) of every layer."""
        dims = [self.in_dim, *self.widths, self.out_dim]
        return list(zip(dims[:-1], dims[1:]))

    @property
    def n_params(self) -> int:
        """D = Σ_ℓ fan_out·(fan_in + 1)."""
        return sum(o * (i + 1) for i, o in self.layers)

    def weight_std(self, init: str) -> list[float]:
        """Per-layer weight standard deviation of the named scheme."""
        check_init(init)
        gain = {"he": 2.0, "lecun": 1.0}
        return [math.sqrt(2.0 / (i + o)) if init == "xavier" else math.sqrt(gain[init] / i) for i, o in self.layers]

    def init(
        self, init: str, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32
    ) -> Float[Tensor, " D"]:
        """A sampled initialisation as a flat θ (Gaussian weights of the scheme's variance, zero biases)."""
        parts = []
        for (i, o), std in zip(self.layers, self.weight_std(init)):
            parts.append(torch.randn(o * i, generator=generator, dtype=torch.float64) * std)
            parts.append(torch.zeros(o, dtype=torch.float64))
        return torch.cat(parts).to(dtype)

    def r_init(self, init: str) -> float:
        """√E‖θ‖² of the scheme: √(Σ_ℓ fan_in·fan_out·σ_ℓ²). A sampled init's norm concentrates
        around it (relative spread ~ 1/√D)."""
        return math.sqrt(sum(i * o * s**2 for (i, o), s in zip(self.layers, self.weight_std(init))))

    def unflatten(self, theta: Float[Tensor, " D"]) -> list[tuple[Tensor, Tensor]]:
        """[(W_ℓ [fan_out, fan_in], b_ℓ [fan_out])] as views into θ."""
        if theta.shape[-1] != self.n_params:
            raise ValueError(f"`theta` must have {self.n_params} entries for this net; got {theta.shape[-1]}")
        out, at = [], 0
        for i, o in self.layers:
            W = theta[at: at + o * i].reshape(o, i)
            at += o * i
            out.append((W, theta[at: at + o]))
            at += o
        return out

    def forward(self, theta: Float[Tensor, " D"], x: Float[Tensor, "n in"]) -> Float[Tensor, "n out"]:
        """Logits of the net with parameters θ (vmappable over θ)."""
        return mlp_forward(self.unflatten(theta), x, ACTIVATIONS[self.activation])

    def loss(self, theta: Float[Tensor, " D"], x: Float[Tensor, "n in"], y: Int[Tensor, " n"]) -> Float[Tensor, ""]:
        """Mean cross-entropy of the logits on (x, y)."""
        return F.cross_entropy(self.forward(theta, x), y)

    def loss_fn(self, x: Float[Tensor, "n in"], y: Int[Tensor, " n"]) -> MLPCrossEntropy:
        """θ ↦ L(θ) on fixed data: the `f` the curvature functions take (it also carries the net's
        exact structured restricted Hessians, `workbench.tensor.mlp_curvature`)."""
        return MLPCrossEntropy(self.unflatten, ACTIVATIONS[self.activation], x, y)

    def accuracy(self, theta: Float[Tensor, " D"], x: Float[Tensor, "n in"], y: Int[Tensor, " n"]) -> Float[Tensor, ""]:
        return (self.forward(theta, x).argmax(-1) == y).to(theta.dtype).mean()

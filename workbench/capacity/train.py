"""Training ensembles of toy models: the quadratic model on its closed-form loss, and the
ReLU-output model (Anthropic's "toy models of superposition") on sampled features."""

from __future__ import annotations

from collections.abc import Callable

import einops
import torch
from jaxtyping import Float
from torch import Tensor

from workbench.capacity.loss import closed_form_loss, per_feature_loss
from workbench.core.validation import check_range
from workbench.tensor.ensemble import check_converged, train_ensemble

StepCallback = Callable[[int, int], None]


def importances(n: int, decay: float | Float[Tensor, " E"]) -> Float[Tensor, "*E n"]:
    """v_i = decay**i for i = 0 … n−1 (the most important feature first)."""
    decay = torch.as_tensor(decay, dtype=torch.float32)
    return decay[..., None] ** torch.arange(n, dtype=torch.float32, device=decay.device)


def train_quadratic(
    kurtosis: Float[Tensor, " E"],
    importance: Float[Tensor, "E n"],
    d: int,
    *,
    steps: int,
    lr: float,
    seed: int,
    row_mask: Float[Tensor, "E d"] | None = None,
    init: Float[Tensor, "E d n"] | None = None,
    progress: bool = True,
    on_step: StepCallback | None = None,
) -> tuple[Float[Tensor, "E d n"], Float[Tensor, " E"]]:
    """Minimise the closed-form loss of E quadratic models at once; return (W, final loss).

    `row_mask` zeroes embedding rows per member, so members of different widths d_e ≤ d share
    one stacked tensor (the Σ C_i vs d sweep). Init: `init` when given (a slice of a larger grid's
    init, so that a grid split into cells trains exactly as one ensemble), else W ~ N(0, 1/d) from
    `seed`. Runs on the device of `kurtosis`.
    """
    E, n = importance.shape
    device = kurtosis.device
    W = quadratic_init(E, d, n, seed, device) if init is None else init.to(device).clone()
    mask = torch.ones(E, d, 1, device=device) if row_mask is None else row_mask[..., None]
    W.mul_(mask)
    closed_form_loss(W, importance, kurtosis)  # validates the inputs once, outside the hot loop

    def loss(_: int) -> Tensor:  # no host sync per step: it matters on a GPU
        return per_feature_loss(W * mask, importance, kurtosis).sum(-1)

    train_ensemble([W], loss, steps, lr, progress=progress, description="capacity: quadratic models", on_step=on_step)
    check_converged([W], lr, steps)
    W = (W * mask).detach()
    return W, closed_form_loss(W, importance, kurtosis)


def quadratic_init(E: int, d: int, n: int, seed: int, device: str | torch.device = "cpu") -> Float[Tensor, "E d n"]:
    """W ~ N(0, 1/d) for E members, from `seed`."""
    generator = torch.Generator(device=device).manual_seed(seed)
    return torch.randn(E, d, n, generator=generator, device=device) / d**0.5


def relu_output(W: Float[Tensor, "E d n"], b: Float[Tensor, "E n"], x: Float[Tensor, "E batch n"]) -> Tensor:
    """x̂ = ReLU(WᵀW x + b): embed with W, read out with Wᵀ, per member."""
    h = einops.einsum(W, x, "e d n, e b n -> e b d")
    return torch.relu(einops.einsum(W, h, "e d n, e b d -> e b n") + b[:, None, :])


def sample_relu_features(
    feature_prob: Float[Tensor, " E"], batch: int, n: int, generator: torch.Generator
) -> Float[Tensor, "E batch n"]:
    """Features of the ReLU-output model: U[0, 1] when active, active with probability p."""
    shape = (feature_prob.shape[0], batch, n)
    device = feature_prob.device
    active = torch.rand(shape, generator=generator, device=device) < feature_prob[:, None, None]
    return torch.rand(shape, generator=generator, device=device) * active


def train_relu_output(
    feature_prob: Float[Tensor, " E"],
    importance: Float[Tensor, "E n"],
    d: int,
    *,
    steps: int,
    lr: float,
    batch: int,
    seed: int,
    progress: bool = True,
) -> tuple[Float[Tensor, "E d n"], Float[Tensor, "E n"], Float[Tensor, " E"]]:
    """Train E ReLU-output models on fresh samples each step; loss = E_x Σ_i v_i (x_i − x̂_i)².

    Returns (W, b, loss), the loss a mean over the last 10 % of steps (it is a noisy estimate).
    """
    for i, p in enumerate(feature_prob.tolist()):
        check_range(f"feature_prob[{i}]", p, 0.0, 1.0, low_open=True)
    E, n = importance.shape
    device = feature_prob.device
    generator = torch.Generator(device=device).manual_seed(seed)
    W = torch.randn(E, d, n, generator=generator, device=device) / d**0.5
    b = torch.zeros(E, n, device=device)

    def loss(_: int) -> Tensor:
        x = sample_relu_features(feature_prob, batch, n, generator)
        return (importance[:, None, :] * (x - relu_output(W, b, x)) ** 2).sum(-1).mean(-1)

    history = train_ensemble([W, b], loss, steps, lr, progress=progress, description="capacity: ReLU-output models")
    check_converged([W, b], lr, steps)
    tail = max(1, steps // 10)
    return W.detach(), b.detach(), history[-tail:].mean(0)

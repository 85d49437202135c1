"""Training on random hyperplanes: only φ ∈ R^d moves, θ = P + Mφ with φ₀ = 0 (Li et al. 2018's
intrinsic-dimension setting, started at radius r as in Fort & Scherlis).

Every member of an ensemble has its own point P_e and basis M_e; the loss of all members is one
vmapped call over θ_e = P_e + M_e φ_e, and one Adam optimizer steps all φ_e (independent members:
Adam is elementwise).
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor
from torch.func import vmap

from workbench.core.validation import check_int
from workbench.goldilocks.model import MLPSpec
from workbench.tensor.ensemble import train_ensemble


def ensemble_loss(
    spec: MLPSpec, thetas: Float[Tensor, "E D"], x: Float[Tensor, "n in"], y: Int[Tensor, " n"]
) -> Float[Tensor, " E"]:
    """Cross-entropy of every member on the same batch (one vmapped forward)."""
    return vmap(spec.loss, in_dims=(0, None, None))(thetas, x, y)


def ensemble_accuracy(
    spec: MLPSpec, thetas: Float[Tensor, "E D"], x: Float[Tensor, "n in"], y: Int[Tensor, " n"]
) -> Float[Tensor, " E"]:
    with torch.no_grad():
        return vmap(spec.accuracy, in_dims=(0, None, None))(thetas, x, y)


def train_on_hyperplanes(
    spec: MLPSpec,
    points: Float[Tensor, "E D"],
    bases: Float[Tensor, "E D d"],
    x_train: Float[Tensor, "n in"],
    y_train: Int[Tensor, " n"],
    steps: int,
    lr: float,
    batch: int,
    seed: int = 0,
    progress: bool = True,
) -> Float[Tensor, "E d"]:
    """Adam (cosine decay) on φ only, minibatches of `batch` shared by all members; returns φ."""
    check_int("steps", steps, low=1)
    batch = check_int("batch", batch, low=1)
    E, D, d = bases.shape
    if points.shape != (E, D):
        raise ValueError(f"`points` must have shape [{E}, {D}] to match `bases`; got {tuple(points.shape)}")
    phi = torch.zeros(E, d, device=points.device, dtype=points.dtype)
    gen = torch.Generator().manual_seed(seed)
    n = len(y_train)

    def loss_fn(_step: int) -> Tensor:
        idx = torch.randint(0, n, (min(batch, n),), generator=gen).to(x_train.device)
        thetas = points + torch.einsum("eDd,ed->eD", bases, phi)
        return ensemble_loss(spec, thetas, x_train[idx], y_train[idx])

    train_ensemble([phi], loss_fn, steps, lr, progress=progress, description=f"{spec.activation} d={d} hyperplanes")
    return phi.detach()

"""Training on random low-dimensional hyperplanes and ORIGIN-CENTRED hyperspheres, and the
intrinsic dimension d₉₀ (Li et al. 2018) per radius.

From a point P = r·u/‖u‖ and a D×d basis M (orthonormal columns) only φ ∈ R^d is trained (φ₀ = 0):

    plane:   θ(φ) = P + Mφ                                 ‖θ‖ = √(r² + ‖φ‖²) for M ⊥ P: the radius drifts
    sphere:  θ(φ) = r · (P/r + Mφ/r_init)/‖P/r + Mφ/r_init‖   ‖θ‖ = r exactly, at every step

The sphere is the origin-centred d-sphere through P in span(P, M): the same point, basis,
optimizer, learning rate and batches as the plane, so the two arms differ in whether the radius
may change. φ is measured in units of r_init on the unit sphere, so a step turns θ by the same
angle at every radius — the angle the plane's step turns it by at r = r_init (where the sphere's
points are the plane's projected radially). With φ in absolute units instead, the angular step
would grow as 1/r, and the small radii would be a different learning rate, not a different
radius. This separates "the Goldilocks zone helps" from "any small radius helps" (a plane started
below the zone crosses it; a sphere cannot). The CS229 reproduction's θ = M w with ‖w‖ = r is the
case where P lies in span(M); ours keeps the structured init direction u at φ = 0.

d₉₀(r): the smallest d of the grid whose mean test accuracy reaches 90 % of the full-space
accuracy (a net of the same shape trained on all D parameters from r_init), Li et al.'s
intrinsic dimension read per radius.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor

from workbench.core.validation import check_choice, check_int, check_range
from workbench.goldilocks.hyperplane import ensemble_loss
from workbench.goldilocks.model import MLPSpec
from workbench.tensor.ensemble import train_ensemble

SURFACES = ("plane", "sphere")


def surface_points(points: Float[Tensor, "S Q D"], bases: Float[Tensor, "S D d"], phi: Float[Tensor, "S Q d"],
                   surface: str, r_init: float = 1.0) -> Float[Tensor, "S Q D"]:
    """θ = P + Mφ ('plane') or r·(P/r + Mφ/r_init)/‖P/r + Mφ/r_init‖ with r = ‖P‖ ('sphere'); one
    basis per S, shared by its Q points (one batched matmul, not Q copies of M)."""
    check_choice("surface", surface, SURFACES)
    step = torch.bmm(phi, bases.transpose(1, 2))
    if surface == "plane":
        return points + step
    r = points.norm(dim=-1, keepdim=True)
    theta = points / r + step / check_range("r_init", r_init, low=0.0, low_open=True)
    return theta * (r / theta.norm(dim=-1, keepdim=True))


def train_on_surfaces(
    spec: MLPSpec,
    points: Float[Tensor, "S Q D"],
    bases: Float[Tensor, "S D d"],
    x_train: Float[Tensor, "n in"],
    y_train: Int[Tensor, " n"],
    steps: int,
    lr: float,
    batch: int,
    surface: str = "plane",
    r_init: float = 1.0,
    seed: int = 0,
    progress: bool = True,
) -> Float[Tensor, "S Q d"]:
    """Adam (cosine decay) on φ only for all S·Q members at once (one vmapped loss, minibatches of
    `batch` shared by every member); returns φ. Members are independent (Adam is elementwise)."""
    check_int("steps", steps, low=1)
    batch = check_int("batch", batch, low=1)
    check_choice("surface", surface, SURFACES)
    S, Q, D = points.shape
    if bases.shape[:2] != (S, D):
        raise ValueError(f"`bases` must have shape [{S}, {D}, d] to match `points`; got {tuple(bases.shape)}")
    phi = torch.zeros(S, Q, bases.shape[2], device=points.device, dtype=points.dtype)
    gen = torch.Generator().manual_seed(seed)
    n = len(y_train)

    def loss_fn(_step: int) -> Tensor:
        idx = torch.randint(0, n, (min(batch, n),), generator=gen).to(x_train.device)
        thetas = surface_points(points, bases, phi, surface, r_init).reshape(S * Q, D)
        return ensemble_loss(spec, thetas, x_train[idx], y_train[idx])

    train_ensemble([phi], loss_fn, steps, lr, progress=progress,
                   description=f"{spec.activation} d={bases.shape[2]} {surface}s")
    return phi.detach()


def train_full(spec: MLPSpec, thetas: Float[Tensor, "E D"], x_train: Float[Tensor, "n in"], y_train: Int[Tensor, " n"],
               steps: int, lr: float, batch: int, seed: int = 0, progress: bool = True) -> Float[Tensor, "E D"]:
    """Adam (cosine decay) on all D parameters of every member: the full-space reference of d₉₀."""
    theta = thetas.detach().clone()
    gen = torch.Generator().manual_seed(seed)
    n = len(y_train)

    def loss_fn(_step: int) -> Tensor:
        idx = torch.randint(0, n, (min(batch, n),), generator=gen).to(x_train.device)
        return ensemble_loss(spec, theta, x_train[idx], y_train[idx])

    train_ensemble([theta], loss_fn, steps, lr, progress=progress, description=f"{spec.activation} full space")
    return theta.detach()


def intrinsic_dimension(accuracy: Float[Tensor, "... T"], dims: Sequence[int], reference: float | Tensor,
                        fraction: float = 0.9) -> Float[Tensor, "..."]:
    """d₉₀: the smallest d in `dims` (ascending) with accuracy ≥ fraction·reference, per row;
    NaN where no d of the grid reaches it (d₉₀ > max(dims)).

    `accuracy[..., t]` is the (mean) accuracy at d = dims[t]; `reference` the full-space accuracy
    (a number, or a tensor broadcasting against accuracy[..., 0])."""
    check_range("fraction", fraction, low=0.0, high=1.0, low_open=True)
    dims = [check_int(f"dims[{i}]", d, low=1) for i, d in enumerate(dims)]
    if list(dims) != sorted(set(dims)):
        raise ValueError(f"`dims` must be strictly increasing; got {dims}")
    if accuracy.shape[-1] != len(dims):
        raise ValueError(
            f"`accuracy` must have {len(dims)} entries on its last axis (one per d); got {accuracy.shape[-1]}"
        )
    target = fraction * torch.as_tensor(reference, dtype=torch.float64)
    hit = accuracy.double() >= target[..., None] if target.ndim else accuracy.double() >= target
    first = hit.double().argmax(-1)
    d = torch.tensor(dims, dtype=torch.float64)[first]
    return torch.where(hit.any(-1), d, torch.full_like(d, math.nan))

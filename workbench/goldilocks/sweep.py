"""The radius sweep: restricted-Hessian spectra at P = r·u on random hyperplanes and hyperspheres.

For a point P and an orthonormal basis M (D×d), H_d = Mᵀ∇²L(P)M. Its eigenvalues λ give both
measures of the paper:

    Tr(H_d)/‖H_d‖_F = Σλ / √Σλ²          positive fraction = #{λ > 0} / d

On the sphere ‖θ‖ = r the basis is M with the radial direction removed (`sphere_basis`), and the
sphere's own Hessian adds the geodesic term −(∇L·P)/r² to every eigenvalue (stored separately as
the `shift`, so both readings are available).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor
from torch.func import grad
from tqdm.auto import tqdm

from workbench.goldilocks.model import MLPSpec
from workbench.tensor.curvature import batched_hvp, resolve_dtype
from workbench.tensor.subspaces import random_orthonormal_basis, sparse_projection, sphere_basis, sphere_correction


def trace_ratio_from_eigs(eigs: Float[Tensor, "... d"]) -> Float[Tensor, "..."]:
    """Tr(H)/‖H‖_F = Σλ/√Σλ² (0 for a zero matrix)."""
    norm = eigs.pow(2).sum(-1).sqrt()
    return torch.where(norm > 0, eigs.sum(-1) / norm.clamp_min(1e-300), torch.zeros_like(norm))


def positive_fraction_from_eigs(eigs: Float[Tensor, "... d"]) -> Float[Tensor, "..."]:
    return (eigs > 0).to(eigs.dtype).mean(-1)


BASIS_KINDS = ("orthonormal", "sparse")


def random_bases(D: int, d: int, count: int, generator: torch.Generator, dtype: torch.dtype = torch.float32,
                 kind: str = "orthonormal") -> Float[Tensor, "count D d"]:
    """`count` independent random D×d bases: 'orthonormal' (QR of a Gaussian) or 'sparse' (Li et al.'s
    sparse ±1 projection, unit columns, orthogonal in expectation; densified here, since the HVP
    tangents are dense anyway)."""
    if kind not in BASIS_KINDS:
        raise ValueError(f"`basis` must be one of {list(BASIS_KINDS)}; got {kind!r}")
    if kind == "sparse":
        return torch.stack([sparse_projection(D, d, generator=generator, dtype=dtype).to_dense() for _ in range(count)])
    return torch.stack([random_orthonormal_basis(D, d, generator, dtype) for _ in range(count)])


def spectra(f, theta: Float[Tensor, "D"], bases: Float[Tensor, "B D d"]) -> Float[Tensor, "B d"]:
    """Eigenvalues (ascending) of M_bᵀ∇²f(θ)M_b for every basis: all B·d HVPs in ONE vmapped call."""
    B, D, d = bases.shape
    cols = bases.permute(0, 2, 1).reshape(B * d, D)        # every basis column, side by side
    HM = batched_hvp(f, theta, cols).reshape(B, d, D)      # row (b, j): H m_bj
    H = torch.einsum("bjD,bDk->bjk", HM, bases)
    H = (H + H.transpose(-1, -2)) / 2
    return torch.linalg.eigvalsh(H.double())


@dataclass(frozen=True)
class Sweep:
    """One direction's sweep. plane/sphere eigenvalues [B, R, d]; shift, loss [R]."""

    plane_eigs: Tensor
    sphere_eigs: Tensor
    shift: Tensor
    loss: Tensor


def radius_sweep(
    spec: MLPSpec,
    x: Float[Tensor, "n in"],
    y: Tensor,
    direction: Float[Tensor, "D"],
    radii: Float[Tensor, "R"],
    bases: Float[Tensor, "B D d"],
    sphere: bool = True,
    dtype: str | torch.dtype | None = None,
    progress: bool = False,
) -> Sweep:
    """Spectra of the restricted Hessian at P = r·u/‖u‖ for every absolute radius r in `radii`.

    `bases` are hyperplane bases; with `sphere` each is also turned into a tangent basis of the
    sphere through P (the radial direction is u/‖u‖ at every radius, so once per basis).
    """
    dt = resolve_dtype(dtype, direction.dtype)
    u = (direction / direction.norm()).to(dt)
    bases = bases.to(dt)
    x = x.to(dt)
    f = spec.loss_fn(x, y)
    tangent = torch.stack([sphere_basis(M, u) for M in bases]) if sphere else None
    plane, sph, shift, loss = [], [], [], []
    for r in tqdm(radii.tolist(), desc=f"{spec.activation} radii", disable=not progress, leave=False):
        theta = u * r
        plane.append(spectra(f, theta, bases))
        loss.append(f(theta).detach())
        if tangent is not None:
            sph.append(spectra(f, theta, tangent))
            shift.append(sphere_correction(grad(f)(theta), theta).detach())
    B, d = bases.shape[0], bases.shape[2]
    stack = lambda xs, shape: torch.stack(xs, -2 if len(shape) == 3 else 0) if xs else torch.zeros(shape)  # noqa: E731
    return Sweep(
        plane_eigs=stack(plane, (B, 0, d)),
        sphere_eigs=stack(sph, (B, 0, d)),
        shift=torch.stack(shift).double() if shift else torch.zeros(0, dtype=torch.float64),
        loss=torch.stack(loss).double(),
    )

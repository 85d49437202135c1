"""The radius sweep: restricted-Hessian spectra at P = r·u on random hyperplanes and hyperspheres.

For a point P and an orthonormal basis M (D×d), H_d = Mᵀ∇²L(P)M. Its eigenvalues λ give both
measures of the paper (`workbench.tensor.curvature`, the one implementation of each):

    Tr(H_d)/‖H_d‖_F = Σλ / √Σλ²          positive fraction = #{λ > 0} / d

On the sphere ‖θ‖ = r the basis is M with the radial direction removed (`sphere_basis`), and the
sphere's own Hessian adds the geodesic term −(∇L·P)/r² to every eigenvalue (stored separately as
the `shift`, so both readings are available). Radii are ratios r/r_init throughout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor
from torch.func import grad
from tqdm.auto import tqdm

from workbench.goldilocks.model import MLPSpec
from workbench.tensor.curvature import plane_and_sphere_eigvals, resolve_dtype, restricted_eigvals
from workbench.tensor.subspaces import (
    points_at_radii,
    random_orthonormal_basis,
    sparse_projection,
    sphere_correction,
)
from workbench.tensor.validation import check_range


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


@dataclass(frozen=True)
class Sweep:
    """One direction's sweep. plane/sphere eigenvalues [B, R, d]; shift, loss [R]."""

    plane_eigs: Tensor
    sphere_eigs: Tensor
    shift: Tensor
    loss: Tensor


def points_at_ratios(
    u: Float[Tensor, "*S D"], radii: Sequence[float] | Float[Tensor, "R"], r_init: float
) -> Float[Tensor, "*S R D"]:
    """P = (ratio·r_init)·u/‖u‖ for every ratio r/r_init in `radii` (each > 0) and r_init > 0: the
    one place goldilocks turns its ratios into points (`points_at_radii` takes the distances)."""
    r_init = check_range("r_init", r_init, low=0.0, low_open=True)
    return points_at_radii(u, torch.as_tensor(radii, dtype=torch.float64) * r_init)


def radius_sweep(
    spec: MLPSpec,
    x: Float[Tensor, "n in"],
    y: Tensor,
    direction: Float[Tensor, "D"],
    radii: Sequence[float] | Float[Tensor, "R"],
    r_init: float,
    bases: Float[Tensor, "B D d"],
    sphere: bool = True,
    dtype: str | torch.dtype | None = None,
    progress: bool = False,
) -> Sweep:
    """Spectra of the restricted Hessian at P = (ratio·r_init)·u/‖u‖ for every ratio r/r_init in `radii`.

    `bases` are hyperplane bases; with `sphere` each is also turned into a tangent basis of the
    sphere through P (the radial direction is u/‖u‖ at every radius, so once per basis). All radii,
    plane and tangent bases are one curvature call.
    """
    dt = resolve_dtype(dtype, direction.dtype)
    thetas = points_at_ratios(direction.to(dt), radii, r_init)  # [R, D]
    bases = bases.to(dt)
    f = spec.loss_fn(x.to(dt), y)
    B = bases.shape[0]
    # Every radius in one call (the net's structured Hessian shares the θ-free first-layer tangents
    # across points); with `sphere`, each plane's tangent plane comes from the same call on [M | θ̂].
    if sphere:
        plane_eigs, sphere_eigs = plane_and_sphere_eigvals(f, thetas, bases)             # [R, B, d] each
    else:
        plane_eigs = restricted_eigvals(f, thetas, bases)
        sphere_eigs = plane_eigs.new_zeros(0, B, bases.shape[2])
    loss, shift = [], []
    for theta in tqdm(thetas, desc=f"{spec.activation} radii", disable=not progress, leave=False):
        loss.append(f(theta).detach())
        if sphere:
            shift.append(sphere_correction(grad(f)(theta), theta).detach())
    return Sweep(plane_eigs=plane_eigs.transpose(0, 1), sphere_eigs=sphere_eigs.transpose(0, 1),
                 shift=torch.stack(shift).double() if shift else torch.zeros(0, dtype=torch.float64),
                 loss=torch.stack(loss).double())

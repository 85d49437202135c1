"""The radius sweep: restricted-Hessian spectra at P = r·u on random hyperplanes and hyperspheres.

For a point P and an orthonormal basis M (D×d), H_d = Mᵀ∇²L(P)M. Its eigenvalues λ give both
measures of the paper (`workbench.tensor.curvature`, the one implementation of each):

    Tr(H_d)/‖H_d‖_F = Σλ / √Σλ²          positive fraction = #{λ > 0} / d

On the sphere ‖θ‖ = r the basis is M with the radial direction removed (`sphere_basis`), and the
sphere's own Hessian adds the geodesic term −(∇L·P)/r² to every eigenvalue (stored separately as
the `shift`, so both readings are available). Every `ratios` here is r/r_init (a radius in units of
r_init); a radius r = ratio·r_init is a distance in parameter space.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor
from torch.func import grad
from tqdm.auto import tqdm

from workbench.core.validation import check_range
from workbench.goldilocks.model import MLPSpec
from workbench.tensor.curvature import (
    eigvals_positive_fraction,
    eigvals_trace_ratio,
    plane_and_sphere_eigvals,
    resolve_dtype,
    restricted_eigvals,
    restricted_hessians,
)
from workbench.tensor.subspaces import (
    points_at_radii,
    random_orthonormal_basis,
    sparse_projection,
    sphere_correction,
)

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


def hvp_chunk(n: int, width: int) -> int:
    """HVPs per vmapped call such that one activation tensor (chunk × n examples × width floats)
    stays near 8 MB. Larger blocks are served by mmap and unmapped on free, so every call faults
    them in again: unchunked at 1,437 digits, system time was 55 % of the sweep's CPU time;
    at 24 HVPs per call it vanished and one restricted Hessian ran 2.2× faster (measured here)."""
    return max(1, (2 << 20) // max(1, n * width))


@dataclass(frozen=True)
class Sweep:
    """One direction's sweep. plane/sphere eigenvalues [B, R, d]; shift, loss [R]."""

    plane_eigs: Tensor
    sphere_eigs: Tensor
    shift: Tensor
    loss: Tensor


def points_at_ratios(
    u: Float[Tensor, "*S D"], ratios: Sequence[float] | Float[Tensor, " R"], r_init: float
) -> Float[Tensor, "*S R D"]:
    """P = (ratio·r_init)·u/‖u‖ for every ratio r/r_init in `ratios` (each > 0) and the radius r_init > 0:
    the one place goldilocks turns its ratios into points (`points_at_radii` takes the radii, distances)."""
    r_init = check_range("r_init", r_init, low=0.0, low_open=True)
    return points_at_radii(u, torch.as_tensor(ratios, dtype=torch.float64) * r_init)


def radius_sweep(
    spec: MLPSpec,
    x: Float[Tensor, "n in"],
    y: Tensor,
    direction: Float[Tensor, " D"],
    ratios: Sequence[float] | Float[Tensor, " R"],
    r_init: float,
    bases: Float[Tensor, "B D d"],
    sphere: bool = True,
    dtype: str | torch.dtype | None = None,
    float64_from: float | None = None,
    progress: bool = False,
) -> Sweep:
    """Spectra of the restricted Hessian at P = (ratio·r_init)·u/‖u‖ for every ratio r/r_init in `ratios`
    (r_init: the radius, a distance, that ratio 1 stands for).

    `bases` are hyperplane bases; with `sphere` each is also turned into a tangent basis of the
    sphere through P (the radial direction is u/‖u‖ at every radius, so once per basis). Ratios below
    `float64_from` (a ratio too) are one curvature call, the rest (in float64, whatever `dtype` says: far out the
    softmax saturates and float32 round-off of the tiny curvature decides the measures) another;
    with `sphere`, each plane's tangent plane comes from the same call on [M | θ̂].
    """
    dt = resolve_dtype(dtype, direction.dtype)
    far = far_flags(ratios, float64_from)
    groups = {False: [i for i, f in enumerate(far) if not f], True: [i for i, f in enumerate(far) if f]}
    R, (B, _, d) = len(far), bases.shape
    plane_eigs = torch.zeros(R, B, d, dtype=torch.float64)
    sphere_eigs = torch.zeros(R if sphere else 0, B, d, dtype=torch.float64)
    loss = torch.zeros(R, dtype=torch.float64)
    shift = torch.zeros(R if sphere else 0, dtype=torch.float64)
    for wide, index in groups.items():
        if not index:
            continue
        gdt = torch.float64 if wide else dt
        f = spec.loss_fn(x.to(gdt), y)
        points = points_at_ratios(direction.to(gdt), [float(ratios[i]) for i in index], r_init)  # [r, D]
        # the net's structured Hessian shares the θ-free first-layer tangents across the points
        if sphere:
            plane, tangent = plane_and_sphere_eigvals(f, points, bases.to(gdt))            # [r, B, d] each
            sphere_eigs[index] = tangent.double()
        else:
            plane = restricted_eigvals(f, points, bases.to(gdt))
        plane_eigs[index] = plane.double()
        for j, theta in tqdm(list(zip(index, points)), desc=f"{spec.activation} radii", disable=not progress,
                             leave=False):
            loss[j] = f(theta).detach().double()
            if sphere:
                shift[j] = sphere_correction(grad(f)(theta), theta).detach().double()
    return Sweep(plane_eigs=plane_eigs.transpose(0, 1), sphere_eigs=sphere_eigs.transpose(0, 1), shift=shift, loss=loss)


def far_flags(ratios: Sequence[float] | Tensor, float64_from: float | None) -> list[bool]:
    """Which ratios r/r_init are computed in float64 (those ≥ the ratio `float64_from`; none when it is None)."""
    return [float64_from is not None and float(ratio) >= float64_from for ratio in ratios]


def nested_dim_measures(
    spec: MLPSpec,
    x: Float[Tensor, "n in"],
    y: Tensor,
    direction: Float[Tensor, " D"],
    ratios: Sequence[float],
    r_init: float,
    bases: Float[Tensor, "B D dmax"],
    dims: Sequence[int],
    float64_from: float | None = None,
) -> tuple[Float[Tensor, "K B R"], Float[Tensor, "K B R"]]:
    """Tr(H_k)/(√k‖H_k‖_F) and the positive share for every k in `dims`, on nested planes: H_k is
    the leading k×k block of H_dmax = Mᵀ∇²L M (the first k columns of a Haar-random frame are a
    Haar-random k-frame), so one d_max-plane serves every k. The √k makes the measure comparable
    across d: 1 for a round bowl, ≈ 0 for a random symmetric matrix, whatever d. At P = (ratio·r_init)·u/‖u‖
    for every ratio r/r_init in `ratios`; [K, B, R] each."""
    dmax = bases.shape[2]
    if max(dims) > dmax:
        raise ValueError(f"`dims` must not exceed the bases' {dmax} columns; got {max(dims)}")
    B, D, _ = bases.shape
    far = far_flags(ratios, float64_from)
    normalized, pos = [], []  # Tr/(√k‖H_k‖_F) and the positive share, per ratio
    for i, ratio in enumerate(ratios):
        dt = torch.float64 if far[i] else bases.dtype
        theta = points_at_ratios(direction.to(dt), [ratio], r_init)  # [1, D]
        M = bases.to(dt).permute(1, 0, 2).reshape(D, B * dmax)
        chunk = hvp_chunk(len(y), max(spec.widths, default=spec.out_dim))
        H = restricted_hessians(spec.loss_fn(x.to(dt), y), theta, M, blocks=B, chunk=chunk)[0].double()  # [B, d, d]
        eigs = [torch.linalg.eigvalsh(H[:, :k, :k]) for k in dims]
        normalized.append(torch.stack([eigvals_trace_ratio(e) / math.sqrt(k) for e, k in zip(eigs, dims)]))
        pos.append(torch.stack([eigvals_positive_fraction(e) for e in eigs]))
    return torch.stack(normalized, -1), torch.stack(pos, -1)

"""One affine activation edit and its named special cases (Marshall, Scherlis, Belrose, ACE).

For an activation v ∈ R^d, a direction r (unnormalised, r̂ = r/‖r‖) and a reference point μ:

    edit(v) = v − [project]·r̂ r̂ᵀ(v − μ) + α r

    activation_addition   (ActAdd/CAA)   project = False:             v + α r
    directional_ablation  (linear)       project, μ = 0, α = 0:       v − r̂ r̂ᵀ v
    affine_ablation       (standardise)  project, μ = μ⁻, α = 0:      v − r̂ r̂ᵀ (v − μ⁻)
    ace                                  project, μ = μ⁻, any α:      v − r̂ r̂ᵀ (v − μ⁻) + α r

With `project`, the component of edit(v) along r̂ is r̂·μ + α‖r‖ whatever v was: ACE with
μ = μ⁻ and r = μ⁺ − μ⁻ puts every activation at the harmless mean's coordinate (α = 0) or the
harmful mean's (α = 1) — the paper's α convention, kept here.

The reference code (EleutherAI/steering-llama3, `--leace orth`, through concept-erasure's
LeaceEraser "orth") uses the midpoint μ = (μ⁺ + μ⁻)/2 as reference, so its multiplier is
α_code = α_paper − 1/2: α_code = −0.5 is our α = 0. `reference_code_alpha` converts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from jaxtyping import Float
from torch import Tensor

from workbench.core.validation import check_finite_tensor, check_number

METHODS = ("none", "actadd", "directional_ablation", "affine_ablation", "ace")


def _check_pair(v: Tensor, direction: Tensor) -> None:
    if not isinstance(v, Tensor) or not isinstance(direction, Tensor):
        raise ValueError("`v` and `direction` must be torch.Tensors")
    if direction.ndim != 1 or direction.shape[0] != v.shape[-1]:
        raise ValueError(
            f"`direction` must be a vector of width d_model={v.shape[-1]} (v's last dim); "
            f"got shape {tuple(direction.shape)}"
        )


def unit(direction: Float[Tensor, " d"]) -> Float[Tensor, " d"]:
    """r̂ = r/‖r‖; raises on a zero or non-finite direction."""
    check_finite_tensor("direction", direction, min_ndim=1)
    norm = direction.norm()
    if float(norm) == 0.0:
        raise ValueError("`direction` must be non-zero")
    return direction / norm


def affine_edit(
    v: Float[Tensor, "*batch d"],
    direction: Float[Tensor, " d"],
    reference: Float[Tensor, " d"] | None = None,
    alpha: float = 0.0,
    project: bool = True,
) -> Float[Tensor, "*batch d"]:
    """The one operator: v − [project]·r̂ r̂ᵀ(v − reference) + α r (reference None means 0)."""
    _check_pair(v, direction)
    a = check_number("alpha", alpha)
    if reference is not None and (reference.ndim != 1 or reference.shape[0] != v.shape[-1]):
        raise ValueError(f"`reference` must be a vector of width {v.shape[-1]}; got shape {tuple(reference.shape)}")
    return SteeringEdit(direction, reference, a, project).apply(v)


def activation_addition(v: Float[Tensor, "*batch d"], direction: Float[Tensor, " d"], alpha: float) -> Tensor:
    """ActAdd / CAA: v + α r."""
    return affine_edit(v, direction, None, alpha, project=False)


def directional_ablation(v: Float[Tensor, "*batch d"], direction: Float[Tensor, " d"]) -> Tensor:
    """Linear ablation through the origin: v − r̂ r̂ᵀ v."""
    return affine_edit(v, direction, None, 0.0, project=True)


def affine_ablation(
    v: Float[Tensor, "*batch d"], direction: Float[Tensor, " d"], reference: Float[Tensor, " d"]
) -> Tensor:
    """Affine ablation: v − r̂ r̂ᵀ(v − μ); the component along r̂ becomes that of μ."""
    return affine_edit(v, direction, reference, 0.0, project=True)


def ace(
    v: Float[Tensor, "*batch d"], direction: Float[Tensor, " d"], reference: Float[Tensor, " d"], alpha: float
) -> Tensor:
    """Affine concept editing: v − r̂ r̂ᵀ(v − μ⁻) + α r; component along r̂ = r̂·(μ⁻ + α r)."""
    return affine_edit(v, direction, reference, alpha, project=True)


def reference_code_alpha(alpha: float) -> float:
    """The EleutherAI reference code's multiplier for our (paper's) α: α − 1/2 (midpoint reference)."""
    return check_number("alpha", alpha) - 0.5


def difference_of_means(
    positive: Float[Tensor, "n_pos *layers d"], negative: Float[Tensor, "n_neg *layers d"]
) -> tuple[Float[Tensor, "*layers d"], Float[Tensor, "*layers d"]]:
    """(r, μ⁻) with r = μ⁺ − μ⁻: means over the first axis (one pair per layer when stacked)."""
    check_finite_tensor("positive", positive, min_ndim=2)
    check_finite_tensor("negative", negative, min_ndim=2)
    if positive.shape[1:] != negative.shape[1:]:
        raise ValueError(
            f"`positive` and `negative` must agree past the first axis; "
            f"got {tuple(positive.shape)} and {tuple(negative.shape)}"
        )
    mu_neg = negative.mean(0)
    return positive.mean(0) - mu_neg, mu_neg


@dataclass(frozen=True, eq=False)
class SteeringEdit:
    """One affine edit, prepared for fast repeated application (r̂, r̂·μ and α r precomputed).

    apply(v) = v + (r̂·μ − r̂·v) r̂ + α r   when `project`,   v + α r   otherwise.
    """

    direction: Float[Tensor, " d"]
    reference: Float[Tensor, " d"] | None = None
    alpha: float = 0.0
    project: bool = True
    _parts: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_finite_tensor("direction", self.direction, min_ndim=1)
        if self.direction.ndim != 1:
            raise ValueError(f"`direction` must be a vector; got shape {tuple(self.direction.shape)}")
        if self.reference is not None:
            check_finite_tensor("reference", self.reference, min_ndim=1)
            if self.reference.shape != self.direction.shape:
                raise ValueError(
                    f"`reference` must have `direction`'s shape {tuple(self.direction.shape)}; "
                    f"got {tuple(self.reference.shape)}"
                )
        object.__setattr__(self, "alpha", check_number("alpha", self.alpha))
        if self.project:
            unit(self.direction)  # raises on a zero direction

    @property
    def width(self) -> int:
        return int(self.direction.shape[0])

    @property
    def is_identity(self) -> bool:
        """Whether apply(v) = v exactly: no projection and α = 0 (ActAdd at α = 0)."""
        return not self.project and self.alpha == 0.0

    def parts(self, like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(r̂, r̂·μ, α r) in `like`'s dtype and device, computed once per (dtype, device)."""
        key = (like.dtype, like.device)
        if key not in self._parts:
            work = torch.promote_types(like.dtype, torch.float32)  # bf16/fp16 activations: compute in fp32
            r = self.direction.to(device=like.device, dtype=work)
            rhat = r / r.norm() if self.project else torch.zeros_like(r)
            ref = (
                self.reference.to(device=like.device, dtype=work) if self.reference is not None else torch.zeros_like(r)
            )
            self._parts[key] = (rhat.to(like.dtype), (rhat @ ref).to(like.dtype), (self.alpha * r).to(like.dtype))
        return self._parts[key]

    def apply(self, v: Float[Tensor, "*batch d"]) -> Float[Tensor, "*batch d"]:
        if v.shape[-1] != self.width:
            raise ValueError(f"`direction` has width {self.width} but the activation has width {v.shape[-1]}")
        rhat, offset, shift = self.parts(v)
        if not self.project:
            return v + shift
        coef = offset - v @ rhat
        return torch.addcmul(v + shift, coef.unsqueeze(-1), rhat)


def make_edit(
    method: str, direction: Float[Tensor, " d"], reference: Float[Tensor, " d"] | None = None, alpha: float = 0.0
) -> SteeringEdit | None:
    """The named case of the one operator: 'none' (None), 'actadd', 'directional_ablation',
    'affine_ablation' or 'ace'. `reference` is required by the affine ones; `alpha` is used by
    'actadd' and 'ace' only."""
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}; got {method!r}")
    a = check_number("alpha", alpha)
    if method == "none":
        return None
    if method in ("affine_ablation", "ace") and reference is None:
        raise ValueError(f"`reference` is required for method {method!r}")
    if method == "actadd":
        return SteeringEdit(direction, None, a, project=False)
    if method == "directional_ablation":
        return SteeringEdit(direction, None, 0.0, project=True)
    if method == "affine_ablation":
        return SteeringEdit(direction, reference, 0.0, project=True)
    return SteeringEdit(direction, reference, a, project=True)

"""How well a direction separates two sets of activations: the AUC of the projection r̂·v.

    AUC(r) = P(r̂·v⁺ > r̂·v⁻) + ½ P(r̂·v⁺ = r̂·v⁻),   v⁺ from the positive set, v⁻ from the negative

over all (v⁺, v⁻) pairs: the Mann–Whitney U statistic divided by n⁺ n⁻. 1 when every positive
projects above every negative, ½ when the projection says nothing, 0 when the order is reversed.
Since r̂ = r/‖r‖ only rescales, r̂·v and r·v give the same AUC; a zero direction gives ½.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

from workbench.core.validation import check_finite_tensor


def auc(positive: Float[Tensor, "*sites n_pos"], negative: Float[Tensor, "*sites n_neg"]) -> Float[Tensor, "*sites"]:
    """AUC of scores: the share of (positive, negative) pairs ordered positive > negative, ties
    counting ½, per leading index (float64)."""
    check_finite_tensor("positive", positive, min_ndim=1)
    check_finite_tensor("negative", negative, min_ndim=1)
    if positive.shape[:-1] != negative.shape[:-1] or positive.shape[-1] == 0 or negative.shape[-1] == 0:
        raise ValueError(
            "`positive` and `negative` must agree on every axis but the last and hold at least one score each; "
            f"got {tuple(positive.shape)} and {tuple(negative.shape)}"
        )
    diff = positive.double().unsqueeze(-1) - negative.double().unsqueeze(-2)  # [*sites, n_pos, n_neg]
    return ((diff > 0).double() + 0.5 * (diff == 0).double()).mean((-2, -1))


def separation_auc(
    direction: Float[Tensor, "sites d"],
    positive: Float[Tensor, "n_pos sites d"],
    negative: Float[Tensor, "n_neg sites d"],
) -> Float[Tensor, " sites"]:
    """Per site s: the AUC of r̂_s·v over the positive vs the negative activations at s."""
    check_finite_tensor("direction", direction, min_ndim=2)
    for name, acts in (("positive", positive), ("negative", negative)):
        check_finite_tensor(name, acts, min_ndim=3)
        if acts.shape[1:] != direction.shape:
            raise ValueError(
                f"`{name}` must be [n, sites, d] with (sites, d) = {tuple(direction.shape)}; got {tuple(acts.shape)}"
            )
    r = direction.double()
    pos = torch.einsum("nsd,sd->sn", positive.double(), r)
    neg = torch.einsum("nsd,sd->sn", negative.double(), r)
    return auc(pos, neg)

"""Reading trained embeddings: best seed, regimes, Gram blocks, and the L_i(C_i) derivation check."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from workbench.capacity.capacity import capacity, regimes
from workbench.capacity.loss import gram, optimal_feature_loss, per_feature_loss
from workbench.capacity.optimum import allocation_grid, optimal_loss


def best_over_seeds(W: Float[Tensor, "*grid S d n"], loss: Float[Tensor, "*grid S"]) -> Float[Tensor, "*grid d n"]:
    """The lowest-loss seed's embedding in every grid cell."""
    idx = loss.argmin(-1)
    index = idx[..., None, None, None].expand(*idx.shape, 1, *W.shape[-2:])
    return torch.gather(W, -3, index).squeeze(-3)


def polysemantic_share(C: Float[Tensor, "*batch n"], tol: float = 0.02) -> Float[Tensor, "*batch"]:
    """Share of features with tol ≤ C_i ≤ 1 − tol."""
    return (regimes(C, tol) == 1).float().mean(-1)


@dataclass(frozen=True)
class Blocks:
    """Features grouped into blocks of the Gram matrix (connected components of |G_ij| > tol·max G_ii).

    order: a feature permutation that puts each block's members together (blocks by their most
    important member; ignored features, ‖w_i‖ ≈ 0, last). sizes: features per block (non-ignored).
    dims: Σ C_i per block ≈ the neuron dimensions the block uses (a semi-orthogonal block of rank
    r has Σ C_i = r).
    """

    order: list[int]
    sizes: list[int]
    dims: list[float]
    ignored: list[int]


def gram_blocks(W: Float[Tensor, "d n"], tol: float = 1e-2) -> Blocks:
    """Find the block structure of WᵀW for one embedding."""
    G = gram(W.double())
    n = G.shape[0]
    scale = float(torch.diagonal(G).max().clamp_min(1e-30))
    linked = (G.abs() > tol * scale).cpu()
    active = [i for i in range(n) if bool(linked[i, i])]
    ignored = [i for i in range(n) if not bool(linked[i, i])]
    C = capacity(W.double())
    seen: set[int] = set()
    order: list[int] = []
    sizes: list[int] = []
    dims: list[float] = []
    for start in active:
        if start in seen:
            continue
        block, frontier = [], [start]
        seen.add(start)
        while frontier:
            i = frontier.pop()
            block.append(i)
            for j in active:
                if j not in seen and bool(linked[i, j]):
                    seen.add(j)
                    frontier.append(j)
        block.sort()
        order.extend(block)
        sizes.append(len(block))
        dims.append(float(C[block].sum()))
    return Blocks(order=order + ignored, sizes=sizes, dims=dims, ignored=ignored)


def block_regimes(W: Float[Tensor, "d n"], tol: float = 1e-2) -> Tensor:
    """Each feature's regime from the Gram blocks, not a capacity cut: 0 ignored (‖w_i‖ ≈ 0),
    2 monosemantic (alone in its block), 1 polysemantic (sharing a block). A cut at C = 0.98 calls
    a feature monosemantic that the exact optimum gives C = 0.989 inside a block (k = 50)."""
    blocks = gram_blocks(W, tol)
    out = torch.zeros(W.shape[-1], dtype=torch.long)
    start = 0
    for size in blocks.sizes:
        members = blocks.order[start:start + size]
        out[members] = 2 if size == 1 else 1
        start += size
    return out


def exact_regimes(C: Float[Tensor, " n"], eps: float = 1e-9) -> Tensor:
    """Regimes of an exact allocation: 2 at C = 1, 0 at C = 0, 1 strictly between."""
    out = torch.ones_like(C, dtype=torch.long)
    out[C >= 1 - eps] = 2
    out[C <= eps] = 0
    return out


def exact_capacities(importance: Float[Tensor, " n"], kurtoses: tuple[float, ...], d: int) -> Float[Tensor, "K n"]:
    """`optimal_allocation` for each kurtosis of a grid (one batched solve)."""
    v = importance.double()
    return allocation_grid(v.expand(len(kurtoses), -1), torch.tensor(kurtoses, dtype=torch.float64), d)


def optimal_gaps(loss: Float[Tensor, "*grid S"], importance: Float[Tensor, " n"], kurtosis: float,
                 d: int) -> Float[Tensor, "*grid S"]:
    """(L_trained − L*) / L* per trained model, L* = `optimal_loss`: ≥ 0 up to round-off; the
    certificate that a trained solution is the optimum (or how far it stopped short)."""
    best = optimal_loss(importance, kurtosis, d)
    return (loss.double() - best) / max(best, 1e-300)


@dataclass(frozen=True)
class DerivationCheck:
    """Per-feature loss of a trained W next to the derived minimum L_i(C_i) at the same C_i.

    measured ≥ predicted always (the formula minimises over G_ii); equality means the trained
    norms sit where the derivation says they should.
    """

    measured: Tensor
    predicted: Tensor

    @property
    def max_relative_gap(self) -> float:
        """max_i (measured_i − predicted_i) / max(measured); 0 when the derivation is exact."""
        scale = float(self.measured.abs().max().clamp_min(1e-12))
        return float((self.measured - self.predicted).max()) / scale


def derivation_check(W: Float[Tensor, "d n"], importance: Float[Tensor, " n"], kurtosis: float) -> DerivationCheck:
    """Compare L_i = (k−1)(G_ii−v_i)² + 2Σ_{j≠i}G_ij² with 2(k−1)v_i²(1−C_i)/((k−3)C_i+2)."""
    W, v = W.double(), importance.double()
    C = capacity(W)
    return DerivationCheck(
        measured=per_feature_loss(W, v, kurtosis), predicted=optimal_feature_loss(C, v, kurtosis)
    )

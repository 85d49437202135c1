"""Exact restricted Hessians of a fully connected net's cross-entropy: forward tangents + one backward.

A net z_ℓ = a_{ℓ-1}W_ℓᵀ + b_ℓ, a_ℓ = σ(z_ℓ) (ℓ < L), a_0 = x, loss L = mean_n CE(z_L,n, y_n), read
out of one flat θ by `unflatten`. A direction m of parameter space is a set of layer increments
(ΔW_ℓ, Δb_ℓ). The function is bilinear in (W_ℓ, a_{ℓ-1}), so the second derivative along m_i, m_j
has only three sources, each written with quantities of ONE forward and ONE backward pass:

    forward tangents  ż_ℓⁱ = a_{ℓ-1}ΔW_ℓⁱᵀ + Δb_ℓⁱ + ȧ_{ℓ-1}ⁱW_ℓᵀ,  ȧ_ℓⁱ = σ'(z_ℓ)⊙ż_ℓⁱ,  ȧ_0 = 0
    backward          δ_L = (softmax(z_L) − onehot(y))/N,  ε_ℓ = δ_{ℓ+1}W_{ℓ+1},  δ_ℓ = σ'(z_ℓ)⊙ε_ℓ

    m_iᵀ∇²L m_j = (1/N) Σ_n Σ_c p_nc (ż_Lⁱ − p_nᵀż_Lⁱ)_c (ż_Lʲ − p_nᵀż_Lʲ)_c      softmax curvature
                + Σ_{ℓ≥2} Σ_n [δ_ℓᵀΔW_ℓⁱȧ_{ℓ-1}ʲ + δ_ℓᵀΔW_ℓʲȧ_{ℓ-1}ⁱ]              weight × activation
                + Σ_{ℓ<L} Σ_n (ε_ℓ⊙σ''(z_ℓ))ᵀ(ż_ℓⁱ⊙ż_ℓʲ)                            activation curvature

(the second-order tangent z̈_ℓ = ΔW_ℓⁱȧʲ + ΔW_ℓʲȧⁱ + W_ℓä_{ℓ-1} telescopes through δ, so it is never
formed). Per direction this costs the tangent forward (two products per layer) and one product
G_ℓʲ = δ_ℓᵀȧ_{ℓ-1}ʲ per layer, read against every ΔW_ℓⁱ of its plane: about a third of the
multiply-adds of a forward-over-reverse HVP, which also pushes the tangent back through every layer
and forms the D-long H·m before projecting it. The first layer's tangent x·ΔW_1ᵀ + Δb_1 does not
depend on θ and is shared by every point of a call. σ' and σ'' come from forward-mode AD of the
elementwise activation itself, so any σ works.

`MLPCrossEntropy` is such a loss as a callable θ ↦ L(θ) (usable wherever an `f` is) that also
carries `restricted_hessians`; `workbench.tensor.curvature.restricted_hessians` uses it when present.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor
from torch.func import jvp, vmap

# Floats of one tangent tile [examples, directions, width]: 2^18 (1 MiB in float32) stays in a
# core's L2; larger tiles made the batched products memory-bound on a shared 2-core machine.
TILE_FLOATS = 2**18
Layers = Sequence[tuple[Tensor, Tensor]]  # [(W_ℓ [fan_out, fan_in], b_ℓ [fan_out])]


def mlp_forward(
    layers: Layers, x: Float[Tensor, "n in"], activation: Callable[[Tensor], Tensor]
) -> Float[Tensor, "n out"]:
    """Logits of a fully connected net: h ← hWᵀ + b, with `activation` between layers (none after
    the last). x is cast to the weights' dtype. Vmappable over the weights."""
    h = x.to(layers[0][0].dtype)
    for k, (W, b) in enumerate(layers):
        h = h @ W.T + b
        if k < len(layers) - 1:
            h = activation(h)
    return h


def _add_product(out: Float[Tensor, "r o"], a: Float[Tensor, "r i"], W: Float[Tensor, "o i"]) -> Float[Tensor, "r o"]:
    """out + aWᵀ, in place. A narrow product (few outputs, e.g. the logits) is formed as (W aᵀ)ᵀ:
    BLAS runs a tall, 10-column product several times slower than its transpose."""
    if W.shape[0] >= 32:
        return out.addmm_(a, W.T)
    return out.add_((W @ a.T).T)


def activation_derivatives(activation: Callable[[Tensor], Tensor], z: Tensor) -> tuple[Tensor, Tensor]:
    """(σ'(z), σ''(z)) of an elementwise σ, by forward-mode AD with a unit tangent (exact; for
    ReLU σ'(0) = 0 as autograd has it, and σ'' ≡ 0)."""
    ones = torch.ones_like(z)

    def first(u: Tensor) -> Tensor:
        return jvp(activation, (u,), (ones,))[1]

    d1, d2 = jvp(first, (z,), (ones,))
    return d1, d2


@dataclass(frozen=True, eq=False)
class MLPCrossEntropy:
    """θ ↦ mean cross-entropy of `mlp_forward(unflatten(θ), x, activation)` on fixed (x, y), with an
    exact structured `restricted_hessians` (the module docstring has the math).

    `unflatten` maps a flat θ [D] to its layers [(W, b)] (vmappable: it is also applied to the
    directions); `activation` is elementwise."""

    unflatten: Callable[[Tensor], Layers]
    activation: Callable[[Tensor], Tensor]
    x: Float[Tensor, "n in"]
    y: Int[Tensor, " n"]

    def __call__(self, theta: Float[Tensor, " D"]) -> Float[Tensor, ""]:
        return F.cross_entropy(mlp_forward(self.unflatten(theta), self.x, self.activation), self.y)

    def restricted_hessians(
        self, thetas: Float[Tensor, "P D"], M: Float[Tensor, "D n"], blocks: int, chunk: int | None = None
    ) -> Float[Tensor, "P blocks k k"]:
        """out[p, b] = M_bᵀ∇²L(θ_p)M_b for the `blocks` bases side by side in M ([D, blocks·k]);
        `chunk` bounds the directions pushed through at once (whole blocks; default all). The
        caller validates shapes and dtypes (`curvature.restricted_hessians`)."""
        k = M.shape[1] // blocks
        per = blocks if chunk is None else max(1, min(blocks, chunk // k))
        x = self.x.to(thetas.dtype)
        primals = [self._primal(theta) for theta in thetas]
        out = []
        for start in range(0, blocks, per):
            cols = M[:, start * k:(start + per) * k]
            # each layer's increments as GEMM operands: ΔW stacked [fan_in, n·fan_out], ΔW [n, o·i], Δb [n·o]
            dirs = [(dW.permute(2, 0, 1).reshape(dW.shape[2], -1), dW.reshape(dW.shape[0], -1), db.reshape(-1))
                    for dW, db in vmap(self.unflatten)(cols.T)]
            first = torch.addmm(dirs[0][2], x, dirs[0][0])  # ż_1 [N, n·o]: θ-free, shared by all points
            out.append(torch.stack([self._blocks_at(primal, dirs, first, k) for primal in primals]))
        return torch.cat(out, 1)

    def _primal(self, theta: Float[Tensor, " D"]) -> dict[str, list[Tensor] | Tensor]:
        """One forward and one backward pass at θ: weights, activations a_ℓ, (σ', σ'') at every hidden
        z_ℓ, δ_ℓ = ∂L/∂z_ℓ, ε_ℓ = ∂L/∂a_ℓ and the softmax p."""
        layers, x = self.unflatten(theta), self.x.to(theta.dtype)
        L, N = len(layers), x.shape[0]
        acts, zs = [x], []
        for ell, (W, b) in enumerate(layers):
            zs.append(acts[-1] @ W.T + b)
            if ell < L - 1:
                acts.append(self.activation(zs[-1]))
        derivs = [activation_derivatives(self.activation, z) for z in zs[:-1]]
        p = torch.softmax(zs[-1], -1)
        deltas, epss = [(p - F.one_hot(self.y, p.shape[-1]).to(p.dtype)) / N], []
        for ell in range(L - 2, -1, -1):
            epss.insert(0, deltas[0] @ layers[ell + 1][0])
            deltas.insert(0, derivs[ell][0] * epss[0])
        return {"W": [W for W, _ in layers], "acts": acts, "derivs": derivs, "deltas": deltas, "epss": epss, "p": p}

    @staticmethod
    def _blocks_at(primal: dict, dirs: list[tuple[Tensor, Tensor, Tensor]], first: Float[Tensor, "N no"],
                   k: int) -> Float[Tensor, "B k k"]:
        """The B = n/k restricted Hessians of one point (its `_primal`) for n directions (`dirs` per
        layer: ΔW as [fan_in, n·fan_out] and as [n, o·i], Δb [n·o]; `first` the first layer's
        tangent). The Hessian is a sum over examples, so the tangents run over tiles of examples
        small enough to stay in cache ([T, n, ·], every product one GEMM); δ_ℓᵀȧ_{ℓ-1} accumulates
        over the tiles and meets the ΔW_ℓ once at the end."""
        Ws, acts, derivs, deltas, epss, p = (primal[key] for key in ("W", "acts", "derivs", "deltas", "epss", "p"))
        L, N, n = len(Ws), p.shape[0], dirs[0][1].shape[0]
        B = n // k
        T = max(1, min(N, TILE_FLOATS // (n * max(W.shape[0] for W in Ws))))
        curv = [epss[ell] * d2 for ell, (_, d2) in enumerate(derivs)]        # ε_ℓ⊙σ''(z_ℓ); 0 for ReLU
        curv = [w if bool(w.any()) else None for w in curv]
        Gs = [p.new_zeros(W.shape[0], n * W.shape[1]) for W in Ws]         # Σ_n δ_ℓᵀȧ_{ℓ-1} [o, n·i] at index ℓ-1

        def gram(U: Tensor, V: Tensor) -> Tensor:  # Σ_{t,c} U[t,b,i,c]·V[t,b,j,c] -> [B, k, k]
            t, _, c = U.shape
            U, V = (A.view(t, B, k, c).permute(1, 2, 0, 3).reshape(B, k, t * c) for A in (U, V))
            return torch.bmm(U, V.transpose(1, 2))

        H = p.new_zeros(B, k, k)
        for r in range(0, N, T):
            rows = slice(r, min(r + T, N))
            zt = first[rows].view(-1, n, first.shape[1] // n)                # ż_1
            for ell in range(1, L + 1):
                if ell > 1:
                    dWcat, _, db = dirs[ell - 1]
                    at = derivs[ell - 2][0][rows, None, :] * zt              # ȧ_{ℓ-1} [t, n, i]
                    Gs[ell - 1].addmm_(deltas[ell - 1][rows].T, at.view(at.shape[0], -1))
                    zt = torch.addmm(db, acts[ell - 1][rows], dWcat).view(-1, Ws[ell - 1].shape[0])
                    zt = _add_product(zt, at.view(-1, at.shape[-1]), Ws[ell - 1]).view(at.shape[0], n, -1)
                if ell < L and curv[ell - 1] is not None:
                    H += gram(zt * curv[ell - 1][rows, None, :], zt)
            pr = p[rows]
            centred = zt - torch.einsum("tnc,tc->tn", zt, pr)[..., None]    # ż_L − pᵀż_L
            H += gram(centred * pr[:, None, :], centred) / N
        for ell in range(2, L + 1):                                          # Σ_n δ_ℓᵀΔW_ℓⁱȧ_{ℓ-1}ʲ
            o, i = Ws[ell - 1].shape
            G = Gs[ell - 1].view(o, n, i).transpose(0, 1).reshape(B, k, o * i)       # per direction, as ΔW
            cross = torch.bmm(dirs[ell - 1][1].view(B, k, -1), G.transpose(1, 2))
            H += cross + cross.transpose(1, 2)
        return H

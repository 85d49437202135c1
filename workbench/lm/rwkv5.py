"""RWKV v5.2 ("Eagle") causal LM in plain PyTorch, with BlinkDL's parameter names.

`Rwkv5(spec).state_dict()` has exactly the keys and shapes that BlinkDL's `rwkv` package
(`rwkv.model.RWKV`, which detects "v5.2" from them) loads, so `torch.save(model.state_dict(), p)`
runs in the reference forward (tests/unit/test_rwkv5.py compares the logits). With C = d_model,
H heads of N = C/H, F = d_mlp, V = d_vocab, block i computes, for its input x_t:

    x_t ← LN0(x_t)                                          (block 0 only, after hook_resid_pre)
    a_t = LN1(x_t),   a'_t = μ ⊙ a_t + (1 − μ) ⊙ a_{t−1}      token shift, one μ (time_mix_*) per input
    r, k, v = W_r a'_r, W_k a'_k, W_v a'_v,   g = SiLU(W_g a'_g)          split into H heads of N
    y_t = r_tᵀ (diag(u) k_t v_tᵀ + S_t),   S_{t+1} = diag(w) S_t + k_t v_tᵀ     per head, S ∈ ℝ^{N×N}
          w = exp(−exp(time_decay)), u = time_faaaa (the "bonus" of the current token)
    x_t ← x_t + W_o (GroupNorm_H(y_t) ⊙ g_t)                GroupNorm over the H heads, eps 64e-5
    b_t = LN2(x_t), shifted as above with time_mix_k, time_mix_r of the channel mix
    x_t ← x_t + σ(W_r b'_r) ⊙ W_v ReLU(W_k b'_k)²
    logits = head(LN_out(x))

The GroupNorm's eps is the package's: 64e-5 on the un-scaled wkv output. (BlinkDL's training code,
RWKV-LM, applies GroupNorm(eps = 1e-5 · 8²) to the output divided by head_size_divisor = 8, i.e.
eps 64 · 64e-5 on the un-scaled output; the two agree wherever a head's variance ≫ 0.04.) The state is
(previous LN1 output, S, previous LN2 output) per block, zeros at the start. The wkv recurrence is
evaluated in closed form per chunk of positions (`wkv`), so a whole sequence costs a few batched
matmuls, and one-token steps are the same function with T = 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from jaxtyping import Float, Int
from torch import Tensor, nn
from transformer_lens.hook_points import HookPoint

from workbench.core.validation import check_int

LN_X_EPS = 64e-5  # rwkv.model's group_norm eps for v5.x (its inference form: no head_size_divisor)
CHUNK = 16  # positions per closed-form wkv chunk: factors reach w^{±CHUNK/2}, finite in float64 (see _wkv_chunk)
LOG_W_FLOOR = 40.0

State = list[Tensor]  # [att shift [b, L, C], wkv [b, L, H, N, N], ffn shift [b, L, C]]


@dataclass(frozen=True)
class Rwkv5Spec:
    """Shape of an RWKV v5.2 model (field names as TransformerLens's `cfg`: d_vocab, d_model,
    n_layers, n_heads; d_mlp is the channel mix's width F)."""

    d_vocab: int
    d_model: int
    n_layers: int
    n_heads: int
    d_mlp: int

    def __post_init__(self) -> None:
        check_int("d_vocab", self.d_vocab, low=1)
        check_int("d_model", self.d_model, low=1)
        check_int("n_layers", self.n_layers, low=1)
        check_int("n_heads", self.n_heads, low=1)
        check_int("d_mlp", self.d_mlp, low=1)
        if self.d_model % self.n_heads:
            raise ValueError(f"`n_heads` must divide d_model={self.d_model}; got {self.n_heads}")

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads


def token_shift(x: Float[Tensor, "b t c"], last: Float[Tensor, "b c"]) -> Float[Tensor, "b t c"]:
    """x_{t−1} at every position, `last` (the state's previous token) before the first."""
    return torch.cat([last[:, None], x[:, :-1]], 1)


def _wkv_chunk(r: Float[Tensor, "b h t n"], k: Float[Tensor, "b h t n"], v: Float[Tensor, "b h t n"],
               log_w: Float[Tensor, "h n"], u: Float[Tensor, "h n"], s0: Float[Tensor, "b h n n"]
               ) -> tuple[Float[Tensor, "b h t n"], Float[Tensor, "b h n n"]]:
    """The recurrence y_t = r_tᵀ(diag(u) k_t v_tᵀ + S_t), S_{t+1} = diag(w) S_t + k_t v_tᵀ unrolled:

        S_t = diag(w^t) S_0 + Σ_{s<t} diag(w^{t−1−s}) k_s v_sᵀ
        y_t = Σ_{s<t} (Σ_i r_ti w_i^{t−m} · k_si w_i^{m−1−s}) v_s + (Σ_i r_ti u_i k_ti) v_t + (r_t ⊙ w^t)ᵀ S_0

    The pair scores factor around the chunk's middle m into one matmul (float64: the factors
    reach w^{±T/2}); log w is floored at −`LOG_W_FLOOR` there so they stay finite for any decay
    (w < e^−40 ≈ 4e-18 changes a score by less than that times |r||k|: below float32's
    resolution). Every other power has a non-negative exponent of w ≤ 1. Returns (y, S_T)."""
    T = r.shape[2]
    t = torch.arange(T, device=r.device)
    lw = log_w.clamp(min=-LOG_W_FLOOR).double()[:, None]  # [h, 1, n]
    mid = T // 2
    left = r.double() * torch.exp(lw * (t - mid)[:, None])  # r_t ⊙ w^{t−m}
    right = k.double() * torch.exp(lw * (mid - 1 - t)[:, None])  # k_s ⊙ w^{m−1−s}
    scores = (left @ right.transpose(-1, -2)).tril(-1).to(r.dtype)  # s < t only
    bonus = (r * u[:, None] * k).sum(-1, keepdim=True)  # r_tᵀ diag(u) k_t
    powers = torch.exp(log_w[:, None] * t[:, None])  # [h, t, n]: w^t
    y = scores @ v + bonus * v + (r * powers) @ s0
    to_end = torch.exp(log_w[:, None] * (T - 1 - t)[:, None])  # [h, s, n]: w^{T−1−s}
    s_end = torch.exp(log_w * T)[..., None] * s0 + (k * to_end).transpose(-1, -2) @ v
    return y, s_end


def wkv(r: Float[Tensor, "b h t n"], k: Float[Tensor, "b h t n"], v: Float[Tensor, "b h t n"],
        log_w: Float[Tensor, "h n"], u: Float[Tensor, "h n"], s0: Float[Tensor, "b h n n"], chunk: int = CHUNK
        ) -> tuple[Float[Tensor, "b h t n"], Float[Tensor, "b h n n"]]:
    """`_wkv_chunk` over consecutive chunks of `chunk` ≤ `CHUNK` positions, the state carried
    between them (memory and time linear in T)."""
    check_int("chunk", chunk, low=1, high=CHUNK)
    ys, s = [], s0
    for start in range(0, r.shape[2], chunk):
        part = slice(start, start + chunk)
        y, s = _wkv_chunk(r[:, :, part], k[:, :, part], v[:, :, part], log_w, u, s)
        ys.append(y)
    return torch.cat(ys, 2), s


class TimeMix(nn.Module):
    """RWKV v5.2 time mixing ("att" in BlinkDL's names): multi-head linear attention with a
    per-channel decay, a bonus for the current token, a SiLU gate and a GroupNorm over heads."""

    def __init__(self, spec: Rwkv5Spec) -> None:
        super().__init__()
        C, H, N = spec.d_model, spec.n_heads, spec.d_head
        self.n_heads = H
        for name in ("time_mix_k", "time_mix_v", "time_mix_r", "time_mix_g"):
            setattr(self, name, nn.Parameter(torch.zeros(1, 1, C)))
        self.time_decay = nn.Parameter(torch.zeros(H, N))
        self.time_faaaa = nn.Parameter(torch.zeros(H, N))
        self.receptance, self.key, self.value, self.gate, self.output = (nn.Linear(C, C, bias=False) for _ in range(5))
        self.ln_x = nn.GroupNorm(H, C, eps=LN_X_EPS)

    def forward(self, x: Float[Tensor, "b t c"], shift: Float[Tensor, "b c"], s: Float[Tensor, "b h n n"]
                ) -> tuple[Float[Tensor, "b t c"], Float[Tensor, "b c"], Float[Tensor, "b h n n"]]:
        """(output before the residual add, new shift state = last x, new wkv state)."""
        prev = token_shift(x, shift)

        def mixed(mu: Tensor) -> Tensor:
            return x * mu + prev * (1 - mu)

        heads = "b t (h n) -> b h t n"
        r = rearrange(self.receptance(mixed(self.time_mix_r)), heads, h=self.n_heads)
        k = rearrange(self.key(mixed(self.time_mix_k)), heads, h=self.n_heads)
        v = rearrange(self.value(mixed(self.time_mix_v)), heads, h=self.n_heads)
        g = F.silu(self.gate(mixed(self.time_mix_g)))
        y, s = wkv(
            r.float(), k.float(), v.float(), -torch.exp(self.time_decay.float()), self.time_faaaa.float(), s.float()
        )
        y = rearrange(y, "b h t n -> b t (h n)")
        # in float32 whatever the model's dtype, as the package does (its eps is below bfloat16's resolution)
        ln = self.ln_x
        y = (
            F.group_norm(y.flatten(0, 1), ln.num_groups, ln.weight.float(), ln.bias.float(), ln.eps)
            .view_as(y)
            .to(x.dtype)
        )
        return self.output(y * g), x[:, -1], s


class ChannelMix(nn.Module):
    """RWKV channel mixing ("ffn"): σ(W_r x'_r) ⊙ W_v ReLU(W_k x'_k)² with token-shifted inputs."""

    def __init__(self, spec: Rwkv5Spec) -> None:
        super().__init__()
        C, F_ = spec.d_model, spec.d_mlp
        self.time_mix_k = nn.Parameter(torch.zeros(1, 1, C))
        self.time_mix_r = nn.Parameter(torch.zeros(1, 1, C))
        self.key = nn.Linear(C, F_, bias=False)
        self.receptance = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(F_, C, bias=False)

    def forward(self, x: Float[Tensor, "b t c"], shift: Float[Tensor, "b c"]
                ) -> tuple[Float[Tensor, "b t c"], Float[Tensor, "b c"]]:
        prev = token_shift(x, shift)
        k = self.key(x * self.time_mix_k + prev * (1 - self.time_mix_k))
        r = self.receptance(x * self.time_mix_r + prev * (1 - self.time_mix_r))
        return torch.sigmoid(r) * self.value(torch.relu(k) ** 2), x[:, -1]


class Block(nn.Module):
    """One residual block; hook points named as TransformerLens's RWKV bridge names them."""

    def __init__(self, spec: Rwkv5Spec, layer: int) -> None:
        super().__init__()
        if layer == 0:
            self.ln0 = nn.LayerNorm(spec.d_model)
        self.ln1 = nn.LayerNorm(spec.d_model)
        self.ln2 = nn.LayerNorm(spec.d_model)
        self.att = TimeMix(spec)
        self.ffn = ChannelMix(spec)
        for name in ("resid_pre", "time_mix_in", "time_mix_out", "resid_mid", "channel_mix_in", "channel_mix_out",
                     "resid_post"):
            setattr(self, f"hook_{name}", HookPoint())

    def forward(self, x: Float[Tensor, "b t c"], att_shift: Float[Tensor, "b c"], s: Float[Tensor, "b h n n"],
                ffn_shift: Float[Tensor, "b c"]) -> tuple[Float[Tensor, "b t c"], Tensor, Tensor, Tensor]:
        """(block output, new att shift, new wkv state, new ffn shift)."""
        x = self.hook_resid_pre(x)
        if hasattr(self, "ln0"):
            x = self.ln0(x)
        a, att_shift, s = self.att(self.hook_time_mix_in(self.ln1(x)), att_shift, s)
        x = self.hook_resid_mid(x + self.hook_time_mix_out(a))
        f, ffn_shift = self.ffn(self.hook_channel_mix_in(self.ln2(x)), ffn_shift)
        return self.hook_resid_post(x + self.hook_channel_mix_out(f)), att_shift, s, ffn_shift


class Rwkv5(nn.Module):
    """RWKV v5.2 causal LM: `forward(ids, state)` → (logits, state); see the module docstring."""

    def __init__(self, spec: Rwkv5Spec) -> None:
        super().__init__()
        self.spec = spec
        self.emb = nn.Embedding(spec.d_vocab, spec.d_model)
        self.blocks = nn.ModuleList(Block(spec, i) for i in range(spec.n_layers))
        self.ln_out = nn.LayerNorm(spec.d_model)
        self.head = nn.Linear(spec.d_model, spec.d_vocab, bias=False)

    @property
    def hook_dict(self) -> dict[str, HookPoint]:
        """{name: hook point}, e.g. ``blocks.0.hook_resid_pre`` (TransformerLens's naming)."""
        return {name: m for name, m in self.named_modules() if isinstance(m, HookPoint)}

    def initial_state(self, batch: int, device: torch.device | None = None) -> State:
        """The all-zero state of `batch` rows (the start of every sequence)."""
        spec, device = self.spec, device or self.emb.weight.device
        L, C, H, N = spec.n_layers, spec.d_model, spec.n_heads, spec.d_head
        dtype = self.emb.weight.dtype
        return [torch.zeros(batch, L, C, device=device, dtype=dtype),
                torch.zeros(batch, L, H, N, N, device=device, dtype=torch.float32),
                torch.zeros(batch, L, C, device=device, dtype=dtype)]

    def hidden(self, ids: Int[Tensor, "b t"], state: State | None = None) -> tuple[Float[Tensor, "b t c"], State]:
        """The final residual stream (before ln_out) and the state after the last position."""
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError(f"`input_ids` must be [batch, pos] with pos ≥ 1; got shape {tuple(ids.shape)}")
        state = state if state is not None else self.initial_state(ids.shape[0], ids.device)
        att_shift, wkv_state, ffn_shift = state
        x = self.emb(ids)
        new: list[list[Tensor]] = [[], [], []]
        for i, block in enumerate(self.blocks):
            x, a, s, f = block(x, att_shift[:, i], wkv_state[:, i], ffn_shift[:, i])
            for part, value in zip(new, (a, s, f)):
                part.append(value)
        return x, [torch.stack(part, 1) for part in new]

    def forward(self, ids: Int[Tensor, "b t"], state: State | None = None
                ) -> tuple[Float[Tensor, "b t vocab"], State]:
        x, state = self.hidden(ids, state)
        return self.head(self.ln_out(x)), state


@torch.no_grad()
def init_weights(model: Rwkv5) -> Rwkv5:
    """BlinkDL's RWKV-5 initialisation (RWKV-LM's `RWKV_TimeMix_RWKV5` / `RWKV_ChannelMix`), in
    place, from torch's global generator: with ρ = i/(L−1), ρ' = 1 − i/L for block i and
    d_c = c/C, token-shift mixes μ_k = d^ρ', μ_v = d^ρ' + 0.3ρ, μ_r = μ_g = d^{ρ'/2}; decay
    speeds −6 + 5 (c/(C−1))^{0.7+1.3ρ}; bonus ρ(1 − c/(C−1)) + 0.1((c+1) mod 3 − 1); the output
    projections (att.output, ffn.value) zero, so every block starts as the identity; the
    embedding ±1e-4 (ln0 normalises it); other matrices torch's default."""
    spec = model.spec
    C, L = spec.d_model, spec.n_layers
    channel = torch.arange(C, dtype=torch.float32)
    d = (channel / C).view(1, 1, C)
    for i, block in enumerate(model.blocks):
        rho, rho_down = i / max(1, L - 1), 1.0 - i / L
        att, ffn = block.att, block.ffn
        att.time_mix_k.copy_(d ** rho_down)
        att.time_mix_v.copy_(d ** rho_down + 0.3 * rho)
        att.time_mix_r.copy_(d ** (0.5 * rho_down))
        att.time_mix_g.copy_(d ** (0.5 * rho_down))
        ffn.time_mix_k.copy_(d ** rho_down)
        ffn.time_mix_r.copy_(d ** rho_down)
        ramp = channel / max(1, C - 1)
        att.time_decay.copy_((-6 + 5 * ramp ** (0.7 + 1.3 * rho)).view_as(att.time_decay))
        att.time_faaaa.copy_((rho * (1 - ramp) + ((channel + 1) % 3 - 1) * 0.1).view_as(att.time_faaaa))
        att.output.weight.zero_()
        ffn.value.weight.zero_()
    model.emb.weight.uniform_(-1e-4, 1e-4)
    return model


@torch.no_grad()
def randomize(model: Rwkv5, seed: int) -> Rwkv5:
    """Every parameter random (seeded), in ranges where each term matters: mixes in [0, 1],
    decays w = exp(−exp(time_decay)) spread over (0, 1), bonuses and norms around their
    defaults, matrices N(0, 1/fan_in). For parity tests and random folders, not for training."""
    g = torch.Generator().manual_seed(seed)

    def rand(t: Tensor, low: float, high: float) -> None:
        t.copy_(low + (high - low) * torch.rand(t.shape, generator=g))

    for name, p in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if "time_mix" in leaf:
            rand(p, 0.0, 1.0)
        elif leaf == "time_decay":
            rand(p, -3.0, 1.0)
        elif leaf == "time_faaaa":
            rand(p, -1.0, 1.0)
        elif leaf == "bias":
            rand(p, -0.2, 0.2)
        elif p.ndim == 1:  # norm weights
            rand(p, 0.6, 1.4)
        else:
            p.copy_(torch.randn(p.shape, generator=g) / p.shape[-1] ** 0.5)
    return model

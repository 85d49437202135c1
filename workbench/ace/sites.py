"""Where ACE steers and how a method becomes `edits` ({hook name: SteeringEdit}).

Sites. Each block i has one residual site (``blocks.{i}.hook_{hook}``) and two sublayer sites,
the outputs of its attention and MLP (RWKV: time-mix and channel-mix) — the reference code's
`--residual` hooks every `self_attn` and `mlp` output. Their names differ per architecture, so
they are looked up on the model: the first pair of `SUBLAYER_HOOKS` that every block has (the
RWKV-4 bridge and the project's RWKV v5.2 model share one pair). A new architecture's names are one
more pair there. Every site has its
own direction r = μ⁺ − μ⁻ and its own μ⁻ (last prompt token, as for the residual one).

Layer. One block (its residual site, or its two sublayer sites), or "all": every block, each site
with its own direction (the reference's `--layer all`). Sites whose direction is zero (block 0's
resid_pre: every prompt ends in the same header token) are left out of an "all" edit.

Methods (`workbench.ace.methods.METHODS`, where their math is written): each entry's `placement`
says where its edits go — nowhere (the unsteered model), every steered site with that site's r
and μ⁻, or ONE direction (the focus block's residual one) at every block input (resid_pre, else
the residual hooks) and every sublayer output, whatever the sites and layer (Arditi et al.).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor, nn

from workbench.ace.config import ALL_LAYERS, SITES
from workbench.ace.methods import FOCUS_EVERYWHERE, NOWHERE, SteeringMethod, steering_method
from workbench.core.validation import check_choice, check_int, check_number
from workbench.tensor.hooks import hook_points
from workbench.tensor.steering import SteeringEdit

# (attention output, MLP output) hook names inside `blocks.{i}.`, per architecture family:
# TransformerLens bridges of attention models, then RWKV's time mix / channel mix (the RWKV-4 bridge's
# names, which `workbench.lm.rwkv5` gives its v5.2 blocks too)
SUBLAYER_HOOKS = (("hook_attn_out", "hook_mlp_out"), ("hook_time_mix_out", "hook_channel_mix_out"))
INPUT_HOOK = "hook_resid_pre"  # a block's input: where Arditi et al. also ablate
ZERO = 1e-6  # a site's direction counts as zero below this share of the largest one's norm


def sublayer_names(model: nn.Module, n_layers: int) -> list[str]:
    """[attn_0, mlp_0, attn_1, mlp_1, …]: the first pair of `SUBLAYER_HOOKS` every block of `model`
    has ([] when none fits: such a model can be steered on its residual stream only)."""
    points = hook_points(model)
    for attn, mlp in SUBLAYER_HOOKS:
        names = [f"blocks.{i}.{hook}" for i in range(n_layers) for hook in (attn, mlp)]
        if all(name in points for name in names):
            return names
    return []


def input_names(model: nn.Module, n_layers: int) -> list[str]:
    """Every block's input hook (`blocks.{i}.hook_resid_pre`), or [] when the model has none."""
    points = hook_points(model)
    names = [f"blocks.{i}.{INPUT_HOOK}" for i in range(n_layers)]
    return names if all(name in points for name in names) else []


@dataclass(frozen=True)
class SiteDirections:
    """One model's steering sites: residual (one per block) and sublayer (two per block, possibly
    none), each with r = μ⁺ − μ⁻ and μ⁻; `inputs` the block-input hooks; `focus` the block whose
    residual direction Arditi's ablation removes everywhere."""

    residual_names: Sequence[str]
    residual: Float[Tensor, "L d"]
    residual_mu_neg: Float[Tensor, "L d"]
    sublayer_names: Sequence[str]
    sublayer: Float[Tensor, "L2 d"]
    sublayer_mu_neg: Float[Tensor, "L2 d"]
    inputs: Sequence[str]
    focus: int

    @property
    def n_layers(self) -> int:
        return len(self.residual_names)

    def sites(self, sites: str, layer: int | str) -> list[tuple[str, Tensor, Tensor]]:
        """(hook name, r, μ⁻) of every site `sites` × `layer` steers, zero directions left out
        of "all" (a single block's zero direction raises, naming `layer`)."""
        check_choice("sites", sites, SITES)
        L = self.n_layers
        blocks = range(L) if layer == ALL_LAYERS else _blocks(layer, L)
        if sites == "residual":
            chosen = [(self.residual_names[i], self.residual[i], self.residual_mu_neg[i]) for i in blocks]
        else:
            if not self.sublayer_names:
                raise ValueError("`sites`='sublayers' needs attention / MLP output hooks, and this model has none of "
                                 f"{[list(p) for p in SUBLAYER_HOOKS]}; use `sites`='residual'")
            chosen = [(self.sublayer_names[j], self.sublayer[j], self.sublayer_mu_neg[j])
                      for i in blocks for j in (2 * i, 2 * i + 1)]
        scale = max(float(r.norm()) for _n, r, _m in chosen)
        kept = [site for site in chosen if float(site[1].norm()) > ZERO * scale and float(site[1].norm()) > 0]
        if not kept or (isinstance(layer, int) and len(kept) < len(chosen)):
            names = [n for n, r, _m in chosen if float(r.norm()) <= ZERO * scale or float(r.norm()) == 0]
            raise ValueError(f"`layer` {layer} ({names[0]!r}) has a zero refusal direction: harmful and harmless "
                             "prompts reach it with the same activation, so there is nothing to steer along")
        return kept

    def edits(self, method: str | SteeringMethod, alpha: float = 0.0, sites: str = "residual",
              layer: int | str = ALL_LAYERS) -> dict[str, SteeringEdit] | None:
        """The `edits` of `method` (a name in `METHODS` or a `SteeringMethod`) at `alpha` on
        `sites` × `layer`, placed as its entry says (module docstring); None for the unsteered one.
        `sites` and `layer` are checked whatever the placement (a method may ignore them)."""
        entry = steering_method(method)
        a = check_number("alpha", alpha)
        check_choice("sites", sites, SITES)
        if layer != ALL_LAYERS:
            _blocks(layer, self.n_layers)
        if entry.placement == NOWHERE:
            return None
        if entry.placement == FOCUS_EVERYWHERE:
            r, mu = self.residual[self.focus], self.residual_mu_neg[self.focus]
            names = [*(self.inputs or self.residual_names), *self.sublayer_names]
            return {name: _site_edit(entry, r, mu, a) for name in names}
        return {name: _site_edit(entry, r, mu, a) for name, r, mu in self.sites(sites, layer)}


def _blocks(layer: object, n_layers: int) -> list[int]:
    """The block indices of `layer`: one index, or a non-empty tuple of them (a band of blocks)."""
    if isinstance(layer, tuple):
        if not layer:
            raise ValueError("`layer` must name at least one block; got an empty tuple")
        return [check_int("layer", i, low=0, high=n_layers - 1) for i in layer]
    return [check_int("layer", layer, low=0, high=n_layers - 1)]


def _site_edit(entry: SteeringMethod, direction: Tensor, mu_neg: Tensor, alpha: float) -> SteeringEdit:
    edit = entry.edit(direction, mu_neg, alpha)
    if edit is None:
        raise ValueError(f"`method` {entry.name!r} builds no edit, so it cannot be placed at a site")
    return edit


def method_edit(method: str | SteeringMethod, direction: Float[Tensor, " d"], mu_neg: Float[Tensor, " d"],
                alpha: float) -> SteeringEdit:
    """One site's edit of `method` (its entry's `edit`; every placed method builds one)."""
    return _site_edit(steering_method(method), direction, mu_neg, alpha)  # `edit` checks alpha


def unembedding_cosine(directions: Float[Tensor, "L d"], unembed: Float[Tensor, "vocab d"],
                       norm_weight: Float[Tensor, " d"] | None, refusal_ids: Sequence[int],
                       answer_ids: Sequence[int]) -> Float[Tensor, " L"]:
    """cos(r̂_l, u) per layer, u = g ⊙ (mean W_U[refusal ids] − mean W_U[answer ids]): the residual
    direction that raises the refusal words' logits over the answer words' most, through the final
    norm's gain g (its 1/rms scale aside). Near ±1: r is mostly "say the refusal word next"."""
    if not refusal_ids or not answer_ids:
        return torch.full((directions.shape[0],), float("nan"))
    u = unembed[list(refusal_ids)].float().mean(0) - unembed[list(answer_ids)].float().mean(0)
    if norm_weight is not None:
        u = u * norm_weight.float()
    return torch.nn.functional.cosine_similarity(directions.float(), u[None], dim=-1)

"""Generation through the transformers modules a TransformerBridge wraps, without the bridge.

A bridge replaces each HF submodule by a component that calls the original through hook points
(and re-implements attention to expose its pattern). Per decoding step on a 4-layer d-256 Llama,
batch 32, that is ~250 module calls instead of ~60: 1.66 s vs 1.45 s for 64 tokens here.
Steering needs none of it when every edit is an edit of one HF module's input or output (the
block's alias table, `hook_aliases`, says which module and side):

    blocks.{i}.hook_resid_pre  = the input hidden states of HF block i   (a forward pre-hook)
    blocks.{i}.hook_resid_post = the first output of HF block i          (a forward hook)
    blocks.{i}.hook_attn_out   = the first output of block i's attention (its post-norm where the
    blocks.{i}.hook_mlp_out    = the output of block i's MLP              block has one, as aliased)

so `unbridged(bridge)` puts the original modules back into the HF model for the duration of a
call (every swap undone on exit, also after an exception) and `hf_targets` names the HF
module and side for each edit. The HF modules keep the configuration the bridge booted them with
(its eager attention), so the tokens are the bridge's, token for token
(tests/unit/lm/test_fastpath.py). Taken only when it cannot change what a user sees: no hook is
registered on any of the bridge's hook points (someone recording attention patterns keeps the
bridge), and every edit is on one of FAST_HOOKS.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext

from torch import nn

BLOCK_HOOK = re.compile(r"^blocks\.(\d+)\.(hook_\w+)$")
# The hook points whose edit is an edit of one HF module's input or output (the block's own, its
# attention's or its MLP's — the bridge's alias says which module). hook_resid_mid is not: its alias
# is the second norm's input, whose edit the bridge and HF agree on but which never reaches the
# residual stream the MLP's output is added to.
FAST_HOOKS = ("hook_resid_pre", "hook_resid_post", "hook_attn_out", "hook_mlp_out")


def _component_class() -> type | None:
    try:
        from transformer_lens.model_bridge.generalized_components.base import GeneralizedComponent
    except ImportError:
        return None
    return GeneralizedComponent


def is_bridge(model: nn.Module) -> bool:
    return getattr(model, "original_model", None) is not None and hasattr(model, "hook_dict")


def _hook_keys(bridge: nn.Module) -> frozenset[tuple[str, int]]:
    return frozenset((name, key) for name, point in bridge.hook_dict.items()
                     for key in (*point._forward_hooks, *point._forward_pre_hooks))


def remember_own_hooks(bridge: nn.Module) -> None:
    """Note the hooks the bridge registers on its own hook points at boot (OPT's reshape its
    flattened MLP activations for hook users), so that only hooks added later count as a user's."""
    bridge._workbench_own_hooks = _hook_keys(bridge)


def _user_hooks(bridge: nn.Module) -> bool:
    """Whether anyone registered a hook on the bridge's hook points since boot (a recording, an
    edit); a bridge not booted by `workbench.lm.boot` counts every hook as a user's."""
    return bool(_hook_keys(bridge) - getattr(bridge, "_workbench_own_hooks", frozenset()))


def _alias_target(block: nn.Module, hook: str) -> tuple[nn.Module, str] | None:
    """(HF module, "input" | "output") behind hook point `hook` of a bridge block: its alias
    ("hook_in", "hook_out", "attn.hook_out", "ln1_post.hook_out", …) names a component of the
    block and which side of it; None when the alias is not of that form."""
    alias = getattr(block, "hook_aliases", {}).get(hook)
    if not isinstance(alias, str):
        return None
    *path, point = alias.split(".")
    if point not in ("hook_in", "hook_out"):
        return None
    component = block
    for part in path:
        component = getattr(component, part, None)
    original = getattr(component, "original_component", None)
    return None if original is None else (original, "input" if point == "hook_in" else "output")


def hf_targets(bridge: nn.Module, names: Mapping[str, object] | None) -> dict[str, tuple[nn.Module, str]] | None:
    """{hook name: (HF module, "input" | "output")} for edits that are all on FAST_HOOKS of the
    bridge's blocks; None when any is not (the bridge path then runs). Call it before `unbridged`:
    inside, `bridge.blocks` holds the HF blocks themselves."""
    blocks = getattr(bridge, "blocks", None)
    if blocks is None:
        return None
    targets = {}
    for name in names or {}:
        match = BLOCK_HOOK.match(name)
        if match is None or match[2] not in FAST_HOOKS or int(match[1]) >= len(blocks):
            return None
        target = _alias_target(blocks[int(match[1])], match[2])
        if target is None:
            return None
        targets[name] = target
    return targets


def fast_targets(model: nn.Module, edits: Mapping[str, object] | None) -> dict[str, tuple[nn.Module, str]] | None:
    """`hf_targets` when the fast path applies to `model` and `edits` (module docstring), else
    None: the one decision, taken once per call, before `unbridged`."""
    if not is_bridge(model) or _component_class() is None or _user_hooks(model):
        return None
    return hf_targets(model, edits)


def fast_path_applies(model: nn.Module, edits: Mapping[str, object] | None) -> bool:
    return fast_targets(model, edits) is not None


@contextmanager
def unbridged(bridge: nn.Module) -> Iterator[None]:
    """The HF model under `bridge` runs without the bridge's components inside the block: each is
    swapped for the module it wraps, every swap undone on exit (also after an exception). Call it
    only where `fast_targets` said the fast path applies."""
    component = _component_class()
    swaps: list[tuple[nn.Module, str, nn.Module]] = []

    def walk(module: nn.Module) -> None:
        for name, child in list(module._modules.items()):
            original = getattr(child, "original_component", None) if isinstance(child, component) else None
            if original is not None:
                swaps.append((module, name, child))
                module._modules[name] = original
                walk(original)
            elif child is not None:
                walk(child)

    config = getattr(bridge.original_model, "config", None)
    attention = getattr(config, "_attn_implementation", None)
    # the bridge runs eager attention (its attention hooks need the pattern); nobody hooks it here,
    # so take torch's fused kernel where the HF class has one: same tokens (tests/unit/lm), and it
    # reads grouped K/V heads without copying them per query head (8-13 % of SmolLM2's decode)
    sdpa = attention == "eager" and getattr(type(bridge.original_model), "_supports_sdpa", False)
    try:
        walk(bridge.original_model)
        if sdpa:
            config._attn_implementation = "sdpa"
        yield
    finally:
        if sdpa:
            config._attn_implementation = attention
        for module, name, child in reversed(swaps):
            module._modules[name] = child


def bare(model: nn.Module):
    """The context a forward without edits runs in: `unbridged` when the fast path applies (a
    bridge nobody hooks), else nothing changes."""
    return unbridged(model) if fast_targets(model, {}) is not None else nullcontext()

"""Batched forwards and greedy generation for HF causal LMs (or a TransformerBridge wrapping one).

Batches are left-padded with an attention mask and position ids counted from each row's first
real token, so a padded row computes what it would alone. Recurrent models (RWKV, Mamba) have no
attention mask — pads would flow through their state — so their prompts are grouped by exact
token length instead and never padded. Generation reuses the model's cache (KV cache or RWKV
state): one new token per forward after the prompt.

Steering lives here: `generate`, `generate_ids` and `last_token_logits` take `edits` ({hook name:
SteeringEdit}) and `positions` ("all" | "prompt" | "generated"), install the hooks for the call
(removed when it returns or raises) and tell the `Steerer` before each forward which absolute
positions it covers and which of them are prompt or padding — callers never touch a steerer.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn
from tqdm.auto import tqdm

from workbench.tensor.hooks import POSITIONS, Steerer, record, steer
from workbench.tensor.steering import SteeringEdit
from workbench.tensor.validation import check_choice, check_int

RECURRENT_TYPES = ("rwkv", "rwkv5", "rwkv6", "rwkv7", "mamba", "mamba2")


def hf_model(model: nn.Module) -> nn.Module:
    """The transformers model under a TransformerBridge (hooks on the bridge fire in it), or `model`."""
    return getattr(model, "original_model", model)


def is_recurrent(model: nn.Module) -> bool:
    return getattr(getattr(hf_model(model), "config", None), "model_type", "") in RECURRENT_TYPES


@functools.lru_cache(maxsize=64)
def _accepts(cls: type, name: str) -> bool:
    return name in inspect.signature(cls.forward).parameters


def check_prompts(prompts: Sequence[str], name: str = "prompts") -> list[str]:
    if isinstance(prompts, str) or not isinstance(prompts, Sequence) or not prompts:
        raise ValueError(f"`{name}` must be a non-empty list of strings; got {type(prompts).__name__}")
    bad = [i for i, p in enumerate(prompts) if not isinstance(p, str) or not p.strip()]
    if bad:
        raise ValueError(f"`{name}` must hold non-empty strings; rows {bad[:5]} are not")
    return list(prompts)


def batches(
    tokenizer, prompts: Sequence[str], batch_size: int, pad: bool, device: torch.device | str = "cpu"
) -> Iterator[tuple[list[int], Int[Tensor, "b p"], Int[Tensor, "b p"]]]:
    """(row indices, left-padded input_ids, attention_mask) per batch; rows sorted by length so a
    batch pads little. `pad=False` puts only equal-length prompts together."""
    check_int("batch_size", batch_size, low=1)
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in check_prompts(prompts)]
    order = sorted(range(len(encoded)), key=lambda i: (len(encoded[i]), i))
    groups: list[list[int]] = []
    for i in order:
        if groups and len(groups[-1]) < batch_size and (pad or len(encoded[groups[-1][0]]) == len(encoded[i])):
            groups[-1].append(i)
        else:
            groups.append([i])
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    for rows in groups:
        width = max(len(encoded[i]) for i in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, i in enumerate(rows):
            ids[j, width - len(encoded[i]):] = torch.tensor(encoded[i])
            mask[j, width - len(encoded[i]):] = 1
        yield rows, ids.to(device), mask.to(device)


def _device(model: nn.Module) -> torch.device:
    return next(hf_model(model).parameters()).device


def _forward(model: nn.Module, ids: Tensor, mask: Tensor, positions: Tensor | None, cache: dict) -> object:
    hf = hf_model(model)
    kwargs = dict(cache)
    if not is_recurrent(model):
        kwargs["attention_mask"] = mask
        if positions is not None and _accepts(type(hf), "position_ids"):
            kwargs["position_ids"] = positions
    return hf(input_ids=ids, use_cache=True, **kwargs)


def _next_cache(out: object) -> dict:
    if getattr(out, "past_key_values", None) is not None:
        return {"past_key_values": out.past_key_values}
    if getattr(out, "state", None) is not None:
        return {"state": out.state}
    return {}


def default_use_cache(model: nn.Module) -> bool:
    """Reuse the model's cache only where it was checked to reproduce full recomputation here:
    a plain transformers attention model. TransformerLens 4.3's bridge gave wrong continuations
    through the KV cache of a tiny Llama, and transformers' RWKV `state` path diverged from its
    full forward on the CPU, so for those each step recomputes the whole sequence (exact; the
    sequences here are short)."""
    return not is_recurrent(model) and hf_model(model) is model


Edits = Mapping[str, SteeringEdit] | None


@contextmanager
def _steering(model: nn.Module, edits: Edits, positions: str) -> Iterator[Steerer | None]:
    """The `Steerer` of `edits` at `positions`, its hooks installed for the block (None: no edits)."""
    check_choice("positions", positions, POSITIONS)  # checked with or without edits: one rule for callers
    if edits is not None and not isinstance(edits, Mapping):
        raise ValueError(f"`edits` must be a mapping {{hook name: SteeringEdit}} or None; got {type(edits).__name__}")
    if not edits:
        yield None
        return
    with steer(model, edits, positions) as steerer:
        yield steerer


def _generate_ids(model: nn.Module, ids: Int[Tensor, "b p"], mask: Int[Tensor, "b p"], max_new_tokens: int,
                  eos_token_id: int | None, steerer: Steerer | None, cached: bool) -> Int[Tensor, "b new"]:
    """`generate_ids` with the hooks already installed (`steerer` None: unsteered)."""
    P = ids.shape[1]
    prompt_mask = mask
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    if steerer is not None:
        steerer.begin(P, prompt_mask)
    out = _forward(model, ids, mask, positions, {})
    new = []
    done = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
    for step in range(max_new_tokens):
        token = out.logits[:, -1].argmax(-1)
        if eos_token_id is not None:
            token = torch.where(done, torch.full_like(token, eos_token_id), token)
            done |= token == eos_token_id
        new.append(token)
        if step == max_new_tokens - 1 or (eos_token_id is not None and bool(done.all())):
            break
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
        if cached:
            positions = positions[:, -1:] + 1
            if steerer is not None:  # the prompt mask stays: positions past it are generated, all real
                steerer.at(P + step, prompt_mask)
            out = _forward(model, token[:, None], mask, positions, _next_cache(out))
        else:
            ids = torch.cat([ids, token[:, None]], 1)
            positions = torch.cat([positions, positions[:, -1:] + 1], 1)
            if steerer is not None:  # the whole sequence again, from position 0
                steerer.at(0, mask)
            out = _forward(model, ids, mask, positions, {})
    return torch.stack(new, 1)


@torch.no_grad()
def generate_ids(
    model: nn.Module,
    ids: Int[Tensor, "b p"],
    mask: Int[Tensor, "b p"],
    max_new_tokens: int,
    eos_token_id: int | None,
    edits: Edits = None,
    positions: str = "all",
    use_cache: bool | None = None,
) -> Int[Tensor, "b new"]:
    """Greedy continuation of one left-padded batch; rows that emitted EOS keep emitting it.

    `edits` ({hook name: SteeringEdit}, None or {} for none) apply at `positions` during every
    forward of the call; the hooks are gone when it returns or raises."""
    cached = default_use_cache(model) if use_cache is None else use_cache
    with _steering(model, edits, positions) as steerer:
        return _generate_ids(model, ids, mask, max_new_tokens, eos_token_id, steerer, cached)


@torch.no_grad()
def generate(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[str],
    max_new_tokens: int = 24,
    batch_size: int = 64,
    edits: Edits = None,
    positions: str = "all",
    progress: bool = False,
    use_cache: bool | None = None,
) -> list[str]:
    """Greedy completions of `prompts` (text after the prompt, up to EOS, special tokens dropped).

    `edits` ({hook name: SteeringEdit}, None or {} for none) apply at `positions` ("all",
    "prompt": positions < P of each batch's prompt width P, "generated": ≥ P; left pads never)
    during every forward; the hooks are installed for this call only."""
    check_int("max_new_tokens", max_new_tokens, low=1)
    out: list[str] = [""] * len(prompts)
    pad = not is_recurrent(model)
    device = _device(model)
    cached = default_use_cache(model) if use_cache is None else use_cache
    with _steering(model, edits, positions) as steerer:
        for rows, ids, mask in tqdm(list(batches(tokenizer, prompts, batch_size, pad, device)), desc="generating",
                                    disable=not progress, leave=False):
            new = _generate_ids(model, ids, mask, max_new_tokens, tokenizer.eos_token_id, steerer, cached)
            new_rows = new.tolist()  # one device-to-host copy per batch, not one per row
            for j, i in enumerate(rows):
                out[i] = tokenizer.decode(new_rows[j], skip_special_tokens=True).strip()
    return out


@torch.no_grad()
def last_token_logits(model: nn.Module, tokenizer, prompts: Sequence[str], batch_size: int = 64,
                      edits: Edits = None, positions: str = "all") -> Float[Tensor, "n vocab"]:
    """Logits at the last prompt token (the first response position) for every prompt, with
    `edits` at `positions` as in `generate` (one prompt forward: "generated" edits nothing)."""
    pad = not is_recurrent(model)
    device = _device(model)
    rows_out: list[Tensor] = [torch.empty(0)] * len(prompts)
    with _steering(model, edits, positions) as steerer:
        for rows, ids, mask in batches(tokenizer, prompts, batch_size, pad, device):
            if steerer is not None:
                steerer.begin(ids.shape[1], mask)
            logits = _forward(model, ids, mask, (mask.cumsum(-1) - 1).clamp(min=0), {}).logits[:, -1].float()
            for j, i in enumerate(rows):
                rows_out[i] = logits[j]
    return torch.stack(rows_out)


@torch.no_grad()
def last_token_activations(
    model: nn.Module, tokenizer, prompts: Sequence[str], hook_names: Sequence[str], batch_size: int = 64
) -> Float[Tensor, "n hooks d"]:
    """The activation at the last prompt token at each hook point, for every prompt (float32)."""
    pad = not is_recurrent(model)
    device = _device(model)
    out: list[Tensor] = [torch.empty(0)] * len(prompts)
    for rows, ids, mask in batches(tokenizer, prompts, batch_size, pad, device):
        with record(model, hook_names, position=-1) as store:
            _forward(model, ids, mask, (mask.cumsum(-1) - 1).clamp(min=0), {})
        # .to(device): under a device_map the blocks (and so their activations) sit on several GPUs
        acts = torch.stack([store[name][0].to(device) for name in hook_names], 1).float()
        for j, i in enumerate(rows):
            out[i] = acts[j]
    return torch.stack(out)

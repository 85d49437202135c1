"""One forward of an HF causal LM (or the one under a TransformerBridge), and what kind of model it is.

The three kinds `workbench.lm.generate` batches differently (its module docstring):

    attention      left padding with a mask and position ids; a KV cache to continue from
    masked state   Mamba: the mask zeroes padded inputs; a state cache
    state          RWKV (also this project's v5.2, workbench.lm.rwkv5_hf): no mask; a state
"""

from __future__ import annotations

import functools
import inspect

import torch
from torch import Tensor, nn

MASKED_STATE_TYPES = ("mamba", "mamba2", "falcon_mamba")
STATE_TYPES = ("rwkv", "rwkv5", "rwkv6", "rwkv7", "workbench_rwkv5")  # the last: workbench.lm.rwkv5_hf
RECURRENT_TYPES = MASKED_STATE_TYPES + STATE_TYPES
CONTEXT_FIELDS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx")
CACHE_FIELDS = ("cache", "state", "past_key_values", "cache_params")  # where each kind returns its cache


def hf_model(model: nn.Module) -> nn.Module:
    """The transformers model under a TransformerBridge (hooks on the bridge fire in it), or `model`."""
    return getattr(model, "original_model", model)


def model_type(model: nn.Module) -> str:
    return str(getattr(getattr(hf_model(model), "config", None), "model_type", ""))


def is_recurrent(model: nn.Module) -> bool:
    return model_type(model) in RECURRENT_TYPES


def takes_mask(model: nn.Module) -> bool:
    """Whether left padding can share a forward with real tokens (all but RWKV-style state models)."""
    return model_type(model) not in STATE_TYPES


def context_length(model: nn.Module) -> int | None:
    """The most positions the model's config allows (None for recurrent models: no such limit)."""
    if is_recurrent(model):
        return None
    config = getattr(hf_model(model), "config", None)
    config = getattr(config, "get_text_config", lambda: config)()  # multimodal configs nest the LM's
    for field in CONTEXT_FIELDS:
        value = getattr(config, field, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


@functools.lru_cache(maxsize=64)
def accepts(cls: type, name: str) -> bool:
    return name in inspect.signature(cls.forward).parameters


def pad_id(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def device_of(model: nn.Module) -> torch.device:
    return next(hf_model(model).parameters()).device


def forward(model: nn.Module, ids: Tensor, mask: Tensor | None, positions: Tensor | None, cache: dict,
             keep: int = 1) -> object:
    """One forward of the HF model (the bridge's hooks fire in it), logits of the last `keep`
    positions. `mask` None: no mask given."""
    hf = hf_model(model)
    kwargs = dict(cache)
    if mask is not None:
        kwargs["attention_mask"] = mask
    if positions is not None and not is_recurrent(model) and accepts(type(hf), "position_ids"):
        kwargs["position_ids"] = positions
    if accepts(type(hf), "logits_to_keep"):  # only the last position's logits are ever read: with a
        kwargs["logits_to_keep"] = keep        # 128k vocabulary the full [b, T, V] would be gigabytes
    return hf(input_ids=ids, use_cache=True, **kwargs)


def next_cache(out: object) -> dict:
    """The cache a forward returned, under the keyword the next forward takes it by."""
    for field in CACHE_FIELDS:
        value = getattr(out, field, None)
        if value is not None:
            return {field: value}
    return {}


def left_padded(seqs: list[list[int]], pad: int) -> tuple[Tensor, Tensor]:
    """(ids, mask) [len(seqs), longest]: each token list right-aligned after `pad` tokens, mask 0
    on the pads (the layout every batched forward here takes)."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for j, s in enumerate(seqs):
        ids[j, width - len(s):] = torch.tensor(s, dtype=torch.long)
        mask[j, width - len(s):] = 1
    return ids, mask

"""The prompt forward of a batch whose rows share work, for attention models with a KV cache.

The rows of a sweep (`workbench.lm.batched.generate_settings`) repeat themselves: every setting
runs the same prompts, every prompt opens with the same chat header (SmolLM2's
"<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, …<|im_start|>user\\n" is 20 of
its ~44 prompt tokens), and a sampled prompt repeats once per sample. A row's prompt activations
depend on its tokens and its edits alone (`Steerer.row_classes`: rows of a class get the same edit
at every hook), so

    1. rows of the same class with the same tokens run once (the samples of a prompt);
    2. the tokens every remaining row opens with run once per class (one row per setting),
       and each row's other tokens continue from its class's cache.

A row laid out [pads | prefix | rest] becomes [prefix | pads | rest]: the mask is 0 on the pads
and position ids still count real tokens only, so a row computes what it computed before, up to
float rounding (the prefix's forward has fewer rows); decoding goes on with the returned mask.
Edits at "prompt" / "generated" positions are unchanged: the prompt is still the first P columns.
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from workbench.lm.forward import forward, next_cache
from workbench.tensor.hooks import Steerer


def common_prefix(rows: list[list[int]]) -> int:
    """How many leading tokens every row of `rows` shares."""
    first, k = rows[0], min(len(r) for r in rows)
    for row in rows[1:]:
        k = next((j for j in range(k) if row[j] != first[j]), k)
    return k


def select_rows(cache: dict, index: Tensor) -> dict:
    """The cache of rows `index` (repeats allowed), in place: `Cache.batch_select_indices`."""
    for value in cache.values():
        value.batch_select_indices(index)
    return cache


def _distinct(tokens: list[list[int]], classes: Tensor) -> tuple[list[int], Tensor]:
    """(a representative batch row of each distinct (class, tokens), each row's distinct index)."""
    seen: dict[tuple, int] = {}
    inverse = []
    for i, row in enumerate(tokens):
        inverse.append(seen.setdefault((int(classes[i]), tuple(row)), len(seen)))
    reps = [inverse.index(u) for u in range(len(seen))]
    return reps, torch.tensor(inverse)


def shared_prefill(model: nn.Module, ids: Int[Tensor, "b p"], mask: Int[Tensor, "b p"],
                   steerer: Steerer | None) -> tuple[Float[Tensor, "b vocab"], dict, Int[Tensor, "b p"]] | None:
    """(logits after each row's last prompt token, the cache to decode from, the mask of the new
    layout) of a left-padded prompt batch, sharing the work of the module docstring; None when no
    row shares anything (the caller runs the plain prefill)."""
    b, width = ids.shape
    lengths = mask.sum(1).tolist()
    tokens = [ids[i, width - n:].tolist() for i, n in enumerate(lengths)]
    classes = steerer.row_classes(b) if steerer is not None else torch.zeros(b, dtype=torch.long)
    reps, inverse = _distinct(tokens, classes)
    k = min(common_prefix([tokens[i] for i in reps]), min(lengths[i] for i in reps) - 1) if len(reps) > 1 else 0
    if k < 1 and len(reps) == b:
        return None
    batch_rows = steerer.batch_rows(b) if steerer is not None else None
    previous = steerer.row_index if steerer is not None else None
    new_mask = torch.zeros_like(mask)
    new_ids = torch.zeros_like(ids)
    for i, n in enumerate(lengths):  # [prefix | pads | rest]
        new_mask[i, :k], new_mask[i, width - n + k:] = 1, 1
        new_ids[i, :k], new_ids[i, width - n + k:] = ids[i, width - n:width - n + k], ids[i, width - n + k:]
    rep = torch.tensor(reps, device=ids.device)
    try:
        cache: dict = {}
        if k:
            rep_classes = classes[reps]
            heads = [reps[int(torch.nonzero(rep_classes == c)[0])] for c in torch.unique(rep_classes)]
            if steerer is not None:
                steerer.rows(batch_rows[heads])
                steerer.begin(width, None)
                steerer.at(0, None)
            prefix = new_ids[heads, :k]
            at = torch.arange(k, device=ids.device).expand_as(prefix)
            out = forward(model, prefix, torch.ones_like(prefix), at, {})
            which = torch.unique(rep_classes, return_inverse=True)[1]
            cache = select_rows(next_cache(out), which.to(ids.device))
        sub_mask = new_mask[rep]
        if steerer is not None:
            steerer.rows(batch_rows[reps])
            steerer.begin(width, sub_mask)
            steerer.at(k, sub_mask)
        positions = (sub_mask.cumsum(-1) - 1).clamp(min=0)[:, k:]
        out = forward(model, new_ids[rep, k:], sub_mask, positions, cache)
    finally:
        if steerer is not None:
            steerer.rows(previous)
    index = inverse.to(ids.device)
    return out.logits[:, -1][index], select_rows(next_cache(out), index), new_mask

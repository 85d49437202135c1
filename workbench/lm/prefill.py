"""The prompt forward of a batch whose rows share work, for attention models with a KV cache.

The rows of a sweep (`workbench.lm.batched.generate_settings`) repeat themselves: every setting
runs the same prompts, every prompt opens with the same chat header (SmolLM2's
"<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, …<|im_start|>user\\n" is 20 of
its ~44 prompt tokens), and a sampled prompt repeats once per sample. A row's prompt activations
depend on its tokens and its edits alone (`Steerer.row_classes`: rows of a class get the same edit
at every hook), so

    1. rows of the same class with the same tokens run once (the samples of a prompt);
    2. the tokens every remaining row opens with run once per class (one row per setting),
       and each row's other tokens continue from its class's cache;
    3. those other tokens run in groups of rows of similar length (`length_groups`) rather than
       all padded to the longest: 32 chat prompts of 17–103 tokens hold ~1,500 tokens but fill
       3,300 padded positions. The groups' caches are joined (`workbench.lm.kv_cache.joined`)
       where every cache layer is a plain one (`groupable`).

For the forwards a row laid out [pads | prefix | rest] becomes [prefix | pads | rest]: the mask is
0 on the pads and position ids still count real tokens only, so a row computes what it computed
before, up to float rounding (the prefix's forward has fewer rows). The joined cache puts every
row back to [pads | prefix | rest], so decoding sees the layout of a plain prompt pass (each row's
real positions contiguous: `workbench.lm.grouped_attention` relies on it); a cache that cannot be
rebuilt (sliding-window layers) keeps [prefix | pads | rest] and decoding its mask. Edits at
"prompt" / "generated" positions are unchanged: the prompt is still the first P columns.
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn
from transformers.cache_utils import DynamicCache, DynamicLayer

from workbench.lm.forward import forward, hf_model, next_cache
from workbench.lm.grouping import length_groups
from workbench.lm.kv_cache import joined, plain_layers, prefix_copy
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


def groupable(model: nn.Module) -> bool:
    """Whether the model's cache is one of plain `DynamicLayer`s (`kv_cache.plain_layers`), so
    caches of row groups can be joined: not sliding-window or hybrid ones."""
    config = getattr(hf_model(model), "config", None)
    try:
        layers = DynamicCache(config=config).layers if config is not None else []
    except Exception:  # a config transformers cannot lay a cache out for: run the rows together
        return False
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def _layout(ids: Int[Tensor, "b p"], lengths: list[int], k: int) -> tuple[Int[Tensor, "b p"], Int[Tensor, "b p"]]:
    """(ids, mask) of rows moved from [pads | prefix | rest] to [prefix | pads | rest]."""
    width = ids.shape[1]
    new_mask, new_ids = torch.zeros_like(ids), torch.zeros_like(ids)
    for i, n in enumerate(lengths):
        new_mask[i, :k], new_mask[i, width - n + k:] = 1, 1
        new_ids[i, :k], new_ids[i, width - n + k:] = ids[i, width - n:width - n + k], ids[i, width - n + k:]
    return new_ids, new_mask


def _prefix_cache(model: nn.Module, ids: Int[Tensor, "b p"], k: int, reps: list[int], classes: Tensor,
                  steerer: Steerer | None, batch_rows: Tensor | None) -> tuple[dict, Tensor]:
    """(the cache of the first k tokens, one row per class, the class index of each rep)."""
    rep_classes = classes[reps]
    heads = [reps[int(torch.nonzero(rep_classes == c)[0])] for c in torch.unique(rep_classes)]
    if steerer is not None:
        steerer.rows(batch_rows[heads])
        steerer.begin(ids.shape[1], None)
        steerer.at(0, None)
    prefix = ids[heads, :k]
    out = forward(model, prefix, torch.ones_like(prefix), torch.arange(k, device=ids.device).expand_as(prefix), {})
    return next_cache(out), torch.unique(rep_classes, return_inverse=True)[1].to(ids.device)


def _rest(model: nn.Module, ids: Int[Tensor, "r p"], mask: Int[Tensor, "r p"], k: int, w: int, prefix: dict,
          steerer: Steerer | None, rows: Tensor | None) -> object:
    """The forward of a group's last w columns, continuing from `prefix` (the cache of its first k)."""
    width = ids.shape[1]
    if steerer is not None:
        steerer.rows(rows)
        steerer.begin(width, mask)
        steerer.at(width - w, mask)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, width - w:]
    return forward(model, ids[:, width - w:], torch.cat([mask[:, :k], mask[:, width - w:]], 1), positions, prefix)


def shared_prefill(model: nn.Module, ids: Int[Tensor, "b p"], mask: Int[Tensor, "b p"],
                   steerer: Steerer | None, keep_cache: bool = True, room: int = 0
                   ) -> tuple[Float[Tensor, "b vocab"], dict, Int[Tensor, "b p"]] | None:
    """(logits after each row's last prompt token, the cache to decode from, the mask to decode
    with) of a left-padded prompt batch, sharing the work of the module docstring; None when no
    row shares anything and the rows run best together (the caller runs the plain prefill). Where
    `groupable`, the cache is rebuilt in the batch's own left-padded layout and `mask` comes back;
    else (one group) the cache keeps [prefix | pads | rest] and so does the returned mask.
    `keep_cache` False: the caller reads the logits only, and the cache comes back empty; `room`:
    positions to reserve in a rebuilt cache for the decoding to come."""
    b, width = ids.shape
    lengths = mask.sum(1).tolist()
    tokens = [ids[i, width - n:].tolist() for i, n in enumerate(lengths)]
    classes = steerer.row_classes(b) if steerer is not None else torch.zeros(b, dtype=torch.long)
    reps, inverse = _distinct(tokens, classes)
    k = min(common_prefix([tokens[i] for i in reps]), min(lengths[i] for i in reps) - 1) if len(reps) > 1 else 0
    rest = [lengths[i] - k for i in reps]
    groups = length_groups(rest) if len(reps) > 1 and groupable(model) else [list(range(len(reps)))]
    if k < 1 and len(reps) == b and len(groups) == 1:
        return None
    batch_rows = steerer.batch_rows(b) if steerer is not None else None
    previous = steerer.row_index if steerer is not None else None
    new_ids, new_mask = _layout(ids, lengths, k)
    rep = torch.tensor(reps, device=ids.device)
    rebuilt = groupable(model)  # else one group, whose cache keeps the [prefix | pads | rest] layout
    try:
        prefix, which = _prefix_cache(model, new_ids, k, reps, classes, steerer, batch_rows) if k else ({}, None)
        parts = []
        for group in groups:
            g = torch.tensor(group, device=ids.device)
            w = max(rest[i] for i in group)
            start = ({} if not prefix else {key: prefix_copy(value, which[g], w) for key, value in prefix.items()}
                     if rebuilt else select_rows(prefix, which))
            out = _rest(model, new_ids[rep[g]], new_mask[rep[g]], k, w, start, steerer,
                        None if batch_rows is None else batch_rows[rep[g].cpu()])
            parts.append((g, out.logits[:, -1], next_cache(out), [rest[i] for i in group], w))
    finally:
        if steerer is not None:
            steerer.rows(previous)
    order = torch.argsort(torch.cat([g for g, *_ in parts]))  # rep j sits at row order[j] of the concatenation
    index = inverse.to(ids.device)
    logits = torch.cat([last for _g, last, *_ in parts])[order]
    if not keep_cache:
        return logits[index], {}, mask
    if not rebuilt:
        return logits[index], select_rows(parts[0][2], index), new_mask
    return logits[index], select_rows(_joined(parts, len(reps), width, k, room), index), mask


def _joined(parts: list[tuple[Tensor, Tensor, dict, list[int], int]], batch: int, width: int, k: int,
            room: int) -> dict:
    """The left-padded cache of all reps from the groups' (rows, logits, cache, rests, w)."""
    (key, _), = parts[0][2].items()
    caches = [(g, cache[key], k, rests, w) for g, _last, cache, rests, w in parts]
    if not all(plain_layers(cache) for _g, cache, *_ in caches):
        raise RuntimeError("the model returned a cache of another kind than `groupable` promised")
    return {key: joined(caches, batch, width, room)}

"""Cached decoding of an attention model in which finished rows leave the batch.

A sweep's refusals end after 8–12 tokens while other rows run to `max_new_tokens`; every step a
finished row stays in the batch is a forward of nothing. `decode_dropping_finished` drops it (its
KV cache rows, mask, positions and edit rows) and fills its later tokens with EOS, which is what
the loop that keeps it would emit (tests/unit/lm/test_cached_generation.py holds the tokens to
full recomputation's).
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from workbench.lm.forward import forward, next_cache
from workbench.lm.grouped_attention import DecodeGroups, grouped_decoding
from workbench.lm.kv_cache import reserve
from workbench.lm.prefill import select_rows
from workbench.lm.sampling import Sampling, next_tokens
from workbench.tensor.hooks import Steerer


def decode_dropping_finished(model: nn.Module, logits: Float[Tensor, "b vocab"], cache: dict, mask: Int[Tensor, "b p"],
                              positions: Int[Tensor, "b 1"], max_new_tokens: int, eos_token_id: int,
                              steerer: Steerer | None, sampling: Sampling,
                              uniforms: Float[Tensor, "b new"] | None) -> Int[Tensor, "b new"]:
    """Cached decoding of an attention model in which a row that emitted EOS leaves the batch
    (its KV cache rows, mask, positions and edit rows dropped) and emits EOS from then on: the
    tokens of the loop that keeps it, without its forwards — refusals end early, so a sweep's
    later steps run on fewer rows. Each step writes into a reserved cache
    (`workbench.lm.kv_cache.reserve`) and, on the CPU, attends per run of rows of similar length
    (`workbench.lm.grouped_attention`)."""
    previous = steerer.row_index if steerer is not None else None
    reserve(cache, max_new_tokens)
    try:
        with grouped_decoding(model) as runs:
            return _decode(model, logits, cache, mask, positions, max_new_tokens, eos_token_id, steerer, sampling,
                           uniforms, runs)
    finally:
        if steerer is not None:
            steerer.rows(previous)


def _decode(model: nn.Module, logits: Float[Tensor, "b vocab"], cache: dict, mask: Int[Tensor, "b p"],
            positions: Int[Tensor, "b 1"], max_new_tokens: int, eos_token_id: int, steerer: Steerer | None,
            sampling: Sampling, uniforms: Float[Tensor, "b new"] | None,
            runs: DecodeGroups | None) -> Int[Tensor, "b new"]:
    """The loop of `decode_dropping_finished` (`runs`: the attention's row runs to keep current)."""
    P, b = mask.shape[1], logits.shape[0]
    out = torch.full((b, max_new_tokens), eos_token_id, dtype=torch.long, device=logits.device)
    active = torch.arange(b, device=logits.device)
    rows = steerer.batch_rows(b) if steerer is not None else None
    prompt_mask, step = mask, 0
    if runs is not None:
        runs.update(prompt_mask, max_new_tokens)
    for step in range(max_new_tokens):
        token = next_tokens(logits, sampling, None if uniforms is None else uniforms[active, step])
        out[active, step] = token
        alive = token != eos_token_id
        if step == max_new_tokens - 1 or not bool(alive.any()):
            break
        if not bool(alive.all()):
            keep = torch.nonzero(alive).flatten()
            active, token, mask, prompt_mask, positions = (t[keep] for t in (active, token, mask, prompt_mask,
                                                                                positions))
            select_rows(cache, keep)
            if steerer is not None:
                steerer.rows(rows[active.cpu()])
            if runs is not None:
                runs.update(prompt_mask, max_new_tokens - step)
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
        positions = positions + 1
        if steerer is not None:
            steerer.at(P + step, prompt_mask)
        step_out = forward(model, token[:, None], mask, positions, cache)
        logits, cache = step_out.logits[:, -1], next_cache(step_out)
    return out[:, :step + 1]

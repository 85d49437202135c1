"""Decoding attention that skips the pad columns a group of rows shares.

In a left-padded batch row i's real positions are the cache columns [s_i, n) (s_i: its pads). A
decoding step's attention over all n columns reads every row's pads too: on `BENCH
steered_generation`'s 32 chat prompts of 17–103 tokens a third of a cache that is read once per
layer and step, from memory (22 MB per step in float32 there). Rows sorted by length (as
`workbench.lm.generate.batches` sorts them) form runs of similar s_i; each run's attention runs on
the columns [min s_i, n) alone — one sdpa call per run on views of the cache, nothing copied. The
columns skipped are masked in every row of the run (exp(−inf) = 0), so the output is attention's
up to float rounding.

transformers looks attention up by name: this is registered as NAME (mask: sdpa's).
`grouped_decoding(model)` switches a model whose attention is "sdpa" to it for a block (on the CPU,
where it was measured) and yields a `DecodeGroups`, whose `update(mask, steps)` sets the runs for
the batch at hand. A forward with more than one query position, or of a batch the runs do not
describe, runs plain sdpa.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from workbench.lm.forward import device_of, hf_model
from workbench.lm.grouping import contiguous_groups

NAME = "workbench_grouped"
RUNS = "_workbench_decode_runs"  # the config attribute: {thread id: runs}, so concurrent calls keep their own
# one more sdpa call costs about as much as this many (row, column) pairs of attention: ~30 µs,
# against ~0.25-0.3 µs per pair on SmolLM2 and the d-256 Llama at batch 32 (measured here)
CALL_COST_PAIRS = 128


def grouped_attention(module: nn.Module, query: Float[Tensor, "b h q d"], key: Float[Tensor, "b hk n d"],
                      value: Float[Tensor, "b hk n d"], attention_mask: Tensor | None,
                      **kwargs: object) -> tuple[Float[Tensor, "b q h d"], None]:
    """transformers' sdpa attention, run per run of rows (module docstring) on a decoding step.

    What `sdpa_attention_forward` does for one query position with a padding mask, done once for
    the batch rather than once per run: grouped K/V heads are served by viewing the query as
    [b, hk, h/hk, d] (its `pack_gqa`), then one `F.scaled_dot_product_attention` per run; anything
    else (no mask, a position bias, softcapping, training) goes to transformers' function whole."""
    runs = runs_of(getattr(module, "config", None))
    if (not runs or query.shape[2] != 1 or runs[-1][1] != query.shape[0] or attention_mask is None
            or attention_mask.shape[1] != 1 or getattr(module, "training", False)
            or any(kwargs.get(name) is not None for name in ("position_bias", "softcap"))):
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    b, h, _, d = query.shape
    q = query.reshape(b, key.shape[1], h // key.shape[1], d)  # [b, hk, h/hk, d]; h/hk = 1 without grouping
    outs = []
    for start, end, col in runs:
        mask = attention_mask[start:end, ..., col:] if attention_mask.shape[0] > 1 else attention_mask[..., col:]
        outs.append(F.scaled_dot_product_attention(q[start:end], key[start:end, :, col:], value[start:end, :, col:],
                                                   attn_mask=mask, scale=kwargs.get("scaling")))
    return torch.cat(outs).reshape(b, h, 1, value.shape[-1]).transpose(1, 2).contiguous(), None


def runs_of(config: object) -> list[tuple[int, int, int]] | None:
    """The runs this thread's decoding set on `config` (None: none)."""
    return getattr(config, RUNS, {}).get(threading.get_ident())


def set_runs(config: object, runs: list[tuple[int, int, int]] | None) -> None:
    """Set (or with None, drop) this thread's runs on `config`."""
    table = dict(getattr(config, RUNS, {}))
    if runs is None:
        table.pop(threading.get_ident(), None)
    else:
        table[threading.get_ident()] = runs
    if table:
        setattr(config, RUNS, table)
    elif hasattr(config, RUNS):
        delattr(config, RUNS)


def _register() -> None:
    AttentionInterface.register(NAME, grouped_attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)


class DecodeGroups:
    """The runs of rows the attention of a model's decoding steps works on (module docstring)."""

    def __init__(self, config: object) -> None:
        self.config = config

    def update(self, mask: Int[Tensor, "b p"], steps: int) -> list[tuple[int, int, int]] | None:
        """Set the runs for a batch whose prompt mask is `mask` (1 on real tokens, each row's real
        tokens a contiguous right-aligned block) with about `steps` decoding steps to go; returns
        the (first row, end row, first column) runs, None where there is nothing to skip."""
        width = mask.shape[1]
        real = mask.bool()
        starts = (width - real.sum(1)).tolist()
        right_aligned = all(bool(real[i, s:].all()) for i, s in enumerate(starts))
        runs = None
        if right_aligned and max(starts) > 0:
            spans = [width - s + steps // 2 for s in starts]  # the columns a row attends to, mid-decoding
            runs = [(a, b, min(starts[a:b])) for a, b in contiguous_groups(spans, CALL_COST_PAIRS)]
            if len(runs) == 1 and runs[0][2] == 0:
                runs = None
        set_runs(self.config, runs)
        return runs


@contextmanager
def grouped_decoding(model: nn.Module) -> Iterator[DecodeGroups | None]:
    """Inside the block `model`'s attention is `grouped_attention` (and the yielded `DecodeGroups`
    sets its runs) where it was "sdpa" and the model is on the CPU; else nothing changes and None
    is yielded. The implementation and the runs are restored on exit, also after an exception."""
    config = getattr(hf_model(model), "config", None)
    if config is None or getattr(config, "_attn_implementation", None) != "sdpa" or device_of(model).type != "cpu":
        yield None
        return
    _register()
    config._attn_implementation = NAME
    try:
        yield DecodeGroups(config)
    finally:
        config._attn_implementation = "sdpa"
        set_runs(config, None)

"""float32 `nn.Linear` layers on the CPU through oneDNN with weights packed once.

Why: `F.linear` on the CPU calls MKL's sgemm, which re-packs the weight into its GEMM panels on
every call and, on the AMD EPYC (Zen 4) this project is measured on, takes a slower path than
oneDNN's JIT kernels. Packing the weight once into oneDNN's blocked layout
(`torch.ops.mkldnn._reorder_linear_weight`, what torch.compile's CPU freezing does) and calling
`torch.ops.mkldnn._linear_pointwise` runs the same products faster; measured here, one thread,
x [M, K] · Wᵀ:

    M × K × N              F.linear   packed        (µs)
    32 × 576 × 1536           775       577         a SmolLM2 decode step's MLP
    32 × 576 × 49152        44928     20208         its tied LM head
     4 × 576 × 1536           176        92
   700 × 576 × 1536         13943     13628         a prompt pass
     1 × 576 × 1536            75        70
     1 × 256 × 256              7        21         small: F.linear wins
    32 × 256 × 256             57        60

On an Intel Xeon (AVX-512; 2026-12-07, weights cold as in a decoding step) MKL is as fast at the
small shapes (32 × 256 × 1024: 186.7 vs 185.6 µs) and the LM head still gains (29.3 → 19.7 ms): the
rule below loses nothing there. A layer is packed only when its weight has `PACK_MIN_WEIGHT` entries
or more, and a call with fewer than `PACK_MIN_ROWS` rows runs `F.linear` (one prompt's decode step).

The sums run in another order, so outputs differ by float rounding (|Δ| ≈ 1e-4 on values of size
~25, i.e. ~4e-6 relative); greedy tokens change only where two logits tie that closely.

    with packed_linears(model):      # every plain nn.Linear of `model`, inference only
        model(ids)

Taken only where it cannot change more than rounding: exact `nn.Linear` instances (not quantised
subclasses), float32 weights on the CPU, no autograd (a call with grad enabled runs the plain
`F.linear`). The packed copies are cached per weight (`torch.utils.weak.WeakIdKeyDictionary`: an
entry dies with its weight; a weight changed in place, whose version counter moves, is packed
again) and cost the weights' size again in memory, so a model whose linear weights exceed
`PACK_MEMORY_SHARE` of the memory available is left alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn
from torch.utils.weak import WeakIdKeyDictionary

from workbench.lm.patched import patched_forwards

# the packed copies double the linear weights' memory: pack only when they take at most this share
# of what the machine has available (SmolLM2-135M's 0.54 GB against tens of GB here)
PACK_MEMORY_SHARE = 0.25
# the row count oneDNN lays the packed weight out for: a decode step's batch (any row count works)
PACK_ROWS_HINT = 32
# below these (measured in the table above) MKL's F.linear is as fast or faster: 256 × 1024 weights
# win from 2 rows, 256 × 256 ones never; a 1-row call loses up to 3x on small weights
PACK_MIN_WEIGHT = 2 ** 18
PACK_MIN_ROWS = 4

_PACKED: WeakIdKeyDictionary = WeakIdKeyDictionary()  # weight -> (version, data_ptr, packed weight)


def available() -> bool:
    """Whether this torch build has oneDNN's packed linear (the ops are internal to torch)."""
    return (torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")
            and hasattr(torch.ops.mkldnn, "_linear_pointwise"))


def _packable(module: nn.Module) -> bool:
    weight = getattr(module, "weight", None)
    return (type(module) is nn.Linear and isinstance(weight, Tensor) and weight.device.type == "cpu"
            and weight.dtype == torch.float32 and weight.dim() == 2 and weight.numel() >= PACK_MIN_WEIGHT)


def _available_bytes() -> int:
    """The memory the kernel could hand out now: /proc/meminfo's MemAvailable (free memory plus
    the page cache it can drop; free pages alone are near zero on a machine that has read a lot),
    else the free pages; 0 where neither is known (then nothing is packed)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def packed_weight(weight: Float[Tensor, "out in"]) -> Tensor:
    """`weight` in oneDNN's blocked layout, packed once per version of the weight."""
    key = (weight._version, weight.data_ptr())
    entry = _PACKED.get(weight)
    if entry is None or entry[:2] != key:
        entry = (*key, torch.ops.mkldnn._reorder_linear_weight(weight.detach(), PACK_ROWS_HINT))
        _PACKED[weight] = entry
    return entry[2]


def _packed_forward(module: nn.Linear):
    def forward(x: Float[Tensor, "... in"]) -> Float[Tensor, "... out"]:
        if (torch.is_grad_enabled() or x.dtype != torch.float32 or x.device.type != "cpu"
                or x.numel() < PACK_MIN_ROWS * x.shape[-1]):
            return F.linear(x, module.weight, module.bias)
        bias = None if module.bias is None else module.bias.detach()
        return torch.ops.mkldnn._linear_pointwise(x.contiguous(), packed_weight(module.weight), bias, "none", [], "")
    return forward


@contextmanager
def packed_linears(model: nn.Module) -> Iterator[int]:
    """Inside the block, every packable `nn.Linear` of `model` (module docstring) runs oneDNN's
    packed kernel; yields how many layers it covers (0: nothing changed — another device or dtype,
    no oneDNN, or too little memory). Hooks on the layers still fire; every forward is restored on
    exit, also after an exception."""
    layers = [m for m in model.modules() if _packable(m)] if available() else []
    size = sum(m.weight.numel() * m.weight.element_size() for m in layers)
    if layers and size > PACK_MEMORY_SHARE * _available_bytes():
        layers = []
    with patched_forwards(layers, _packed_forward) as n:
        yield n

"""What a generation call on the CPU runs under: torch's threads following the machine's load, the
linear layers on oneDNN's packed kernel (`workbench.lm.packed`) and the RMSNorm layers as one
`F.rms_norm` call (`workbench.lm.fused_norms`). On another device, nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

from workbench.core.threads import adaptive_threads
from workbench.lm.forward import device_of, hf_model
from workbench.lm.fused_norms import fused_rms_norms
from workbench.lm.packed import packed_linears


@contextmanager
def load_following_threads(model: nn.Module) -> Iterator[None]:
    """`workbench.core.threads.adaptive_threads` for a call on `model`: on the CPU, torch's threads
    follow the cores other processes leave free, re-read at every forward (a pre-hook on the HF
    model, through which every forward of a call goes) at most every half second, so a neighbour
    that starts mid-call cannot make a 2-thread decode spin for the rest of it; the caller's thread
    count is the ceiling and comes back after. On another device nothing changes."""
    if device_of(model).type != "cpu":
        yield
        return
    with adaptive_threads() as governor:
        def tick(*_: object) -> None:  # a pre-hook's return value would replace the forward's inputs
            governor.tick()

        handle = hf_model(model).register_forward_pre_hook(tick)
        try:
            yield
        finally:
            handle.remove()


@contextmanager
def cpu_kernels(model: nn.Module) -> Iterator[None]:
    """`load_following_threads`, `packed_linears` and `fused_rms_norms` for a call on `model`
    (each does nothing off the CPU)."""
    with load_following_threads(model), packed_linears(hf_model(model)), fused_rms_norms(hf_model(model)):
        yield

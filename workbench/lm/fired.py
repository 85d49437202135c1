"""Edits that never reach the model fail loudly: after the first forward of a steered call, every
edited hook must have fired with a [batch, pos, d_model] activation.

A hook point can exist and never run: TransformerLens-style names such as `blocks.0.hook_mlp_in`,
`hook_attn_in`, `hook_q_input` or `attn.hook_result` resolve on the bridge, but the HF modules the
forward actually runs never call them, so an edit there changes nothing — the tokens equal the
unsteered ones whatever the edit. And some models give a hook a flattened [batch·pos, d] output
(OPT's MLP output), where an edit cannot tell positions apart. Both raise here, naming the hooks,
before any token past the first forward is decoded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

from workbench.tensor.hooks import Steerer


def check_fired(steerer: Steerer, d_model: int | None) -> None:
    """ValueError naming every edited hook that has not fired, or fired with an activation that is
    not [batch, pos, d_model] (`d_model` None: any width), in `steerer.seen`."""
    silent = [name for name in steerer.edits if name not in steerer.seen]
    shaped = {name: shape for name, shape in steerer.seen.items()
              if len(shape) != 3 or (d_model is not None and shape[-1] != d_model)}
    problems = []
    if silent:
        problems.append(f"{silent} never fired in the forward pass (the hook point exists, but the modules this "
                        "model runs do not call it), so the edit would change nothing")
    if shaped:
        problems.append("; ".join(f"{name!r} gave an activation of shape {list(shape)}, not [batch, pos, "
                                  f"d_model{'' if d_model is None else ' = ' + str(d_model)}]"
                                  for name, shape in shaped.items()))
    if problems:
        raise ValueError(f"`edits`: {'; '.join(problems)}. Steer a hook that fires with [batch, pos, d_model], "
                         "e.g. blocks.{i}.hook_resid_post or blocks.{i}.hook_resid_pre")


@contextmanager
def first_forward_check(model: nn.Module, steerer: Steerer, d_model: int | None) -> Iterator[None]:
    """Run `check_fired` once, right after the first forward of `model` (the module the steered call
    runs: its forward hook fires when the whole forward is done)."""
    handle = None

    def after_first(_module: nn.Module, _args: object, _output: object) -> None:
        handle.remove()
        check_fired(steerer, d_model)

    handle = model.register_forward_hook(after_first)
    try:
        yield
    finally:
        handle.remove()

"""A forward replaced on module instances for the length of a block.

Setting `module.forward` on an instance shadows the class's forward (hooks still fire: `__call__`
runs them around whatever `forward` resolves to); deleting the attribute restores it. A module
whose instance already carries a forward — patched by an enclosing block — is left to that block,
so nested blocks neither stack two patches nor remove the outer one on their way out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from torch import nn


@contextmanager
def patched_forwards(modules: Iterable[nn.Module], make_forward: Callable[[nn.Module], Callable]) -> Iterator[int]:
    """Inside the block each of `modules` not already patched runs `make_forward(module)`; yields
    how many were patched. Every patch is removed on exit, also after an exception."""
    own = [m for m in modules if "forward" not in m.__dict__]
    try:
        for module in own:
            module.forward = make_forward(module)
        yield len(own)
    finally:
        for module in own:
            del module.forward

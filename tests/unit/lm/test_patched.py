"""`patched_forwards`: instance forwards for a block, nested blocks leaving the outer patch alone."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from workbench.lm.patched import patched_forwards


def test_a_patch_runs_inside_the_block_and_is_gone_after_also_on_error():
    layer = nn.Linear(3, 3)
    x = torch.randn(2, 3)
    plain = layer(x)
    with pytest.raises(RuntimeError, match="inside"):
        with patched_forwards([layer], lambda m: (lambda t: t * 0)) as n:
            assert n == 1 and torch.equal(layer(x), torch.zeros(2, 3))
            raise RuntimeError("inside")
    assert "forward" not in layer.__dict__ and torch.equal(layer(x), plain)


def test_a_nested_block_leaves_the_outer_patch_in_place():
    layer = nn.Linear(3, 3)
    x = torch.randn(2, 3)
    with patched_forwards([layer], lambda m: (lambda t: t + 1)):
        with patched_forwards([layer], lambda m: (lambda t: t * 0)) as inner:
            assert inner == 0 and torch.equal(layer(x), x + 1)
        assert torch.equal(layer(x), x + 1)  # still the outer patch after the inner block
    assert "forward" not in layer.__dict__

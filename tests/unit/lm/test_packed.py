"""oneDNN's packed linear (`workbench.lm.packed`) computes F.linear up to float rounding, only where
it is faster, follows in-place weight changes, leaves autograd and small layers alone, and is undone
after every block; greedy generation through it gives the unpacked tokens."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from workbench.lm import boot, torch_threads
from workbench.lm import packed as packed_module
from workbench.lm.generate import generate
from workbench.lm.packed import PACK_MIN_ROWS, PACK_MIN_WEIGHT, packed_linears
from workbench.lm.random_folder import random_causal_lm_folder


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


def _layer(n_in: int = 512, n_out: int = 768, bias: bool = True) -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(n_in, n_out, bias=bias).eval()


@pytest.mark.parametrize("shape", [(32, 512), (4, 9, 512), (PACK_MIN_ROWS, 1, 512)])
@pytest.mark.parametrize("bias", [True, False])
def test_packed_equals_f_linear_up_to_rounding(shape, bias):
    layer = _layer(bias=bias)
    x = torch.randn(*shape)
    want = F.linear(x, layer.weight, layer.bias)
    with torch.no_grad(), packed_linears(layer) as n:
        got = layer(x)
    assert n == 1 and got.shape == want.shape
    assert layer.weight in packed_module._PACKED  # the packed kernel ran (it packs on first use)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)


def test_small_layers_and_few_rows_and_autograd_run_f_linear_exactly():
    small = nn.Linear(256, 256)  # 65k entries < PACK_MIN_WEIGHT
    assert small.weight.numel() < PACK_MIN_WEIGHT
    with torch.no_grad(), packed_linears(small) as n:
        assert n == 0
    layer = _layer()
    one_row = torch.randn(1, 1, 512)
    x = torch.randn(32, 512, requires_grad=True)
    with packed_linears(layer):
        with torch.no_grad():
            assert torch.equal(layer(one_row), F.linear(one_row, layer.weight, layer.bias))
        y = layer(x)  # grad enabled: the plain kernel, and gradients flow
        assert torch.equal(y, F.linear(x, layer.weight, layer.bias))
        y.sum().backward()
    assert x.grad is not None and layer.weight.grad is not None


def test_an_in_place_weight_change_is_packed_again():
    layer = _layer()
    x = torch.randn(32, 512)
    with torch.no_grad(), packed_linears(layer):
        before = layer(x)
        layer.weight.mul_(2.0)
        after = layer(x)
    torch.testing.assert_close(after - layer.bias, 2 * (before - layer.bias), rtol=1e-5, atol=1e-4)


def test_forward_is_restored_hooks_fire_and_errors_undo():
    layer = _layer()
    seen = []
    layer.register_forward_hook(lambda _m, _a, out: seen.append(out.shape))
    with pytest.raises(RuntimeError, match="boom"), torch.no_grad(), packed_linears(layer):
        assert "forward" in layer.__dict__
        layer(torch.randn(8, 512))
        raise RuntimeError("boom")
    assert "forward" not in layer.__dict__ and seen == [torch.Size([8, 768])]


def test_a_model_too_large_for_the_memory_is_left_alone(monkeypatch):
    monkeypatch.setattr(packed_module, "_available_bytes", lambda: 1000)
    with packed_linears(_layer()) as n:
        assert n == 0


def test_generation_through_packed_layers_gives_the_unpacked_tokens(tmp_path, monkeypatch):
    # d 512: the attention and MLP weights (512 × 512 and up) are packed
    model = boot(random_causal_lm_folder("llama", tmp_path / "llama", d_model=512, n_layers=2))
    with torch.no_grad(), packed_linears(model.original_model) as n:
        assert n >= 2 * 7
    prompts = [f"Tell me about topic number {i} and why it matters." * (1 + i % 3) for i in range(12)]
    packed = generate(model, model.tokenizer, prompts, max_new_tokens=12, batch_size=12)
    monkeypatch.setattr(packed_module, "available", lambda: False)
    plain = generate(model, model.tokenizer, prompts, max_new_tokens=12, batch_size=12)
    assert packed == plain

"""RMSNorm layers as one `F.rms_norm` call (`workbench.lm.fused_norms`): taken exactly where the
layer's own forward is that function (Llama-style, not Gemma's 1 + w), equal to it up to rounding,
restored after every block; generation through them gives the same tokens on every architecture."""

from __future__ import annotations

import pytest
import torch

from workbench.lm import boot, torch_threads
from workbench.lm import fused_norms as fused_module
from workbench.lm.fused_norms import fused_rms_norms, same_as_rms_norm
from workbench.lm.generate import generate
from workbench.lm.random_folder import RANDOM_ARCHS, random_causal_lm_folder

PROMPTS = ["Hi", "Tell me how a rainbow forms and why it is curved.", "How do I bake a cake?"]


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


def _norms(model) -> list[torch.nn.Module]:
    return [m for m in model.original_model.modules()
            if hasattr(m, "variance_epsilon") and not hasattr(m, "original_component")]  # HF layers, not wrappers


def test_llama_norms_are_fused_and_equal_their_forward(tmp_path):
    model = boot(random_causal_lm_folder("llama", tmp_path / "llama"))
    norms = _norms(model)
    assert norms and all(same_as_rms_norm(m) for m in norms)
    norm = norms[0]
    torch.nn.init.normal_(norm.weight)
    x = torch.randn(4, 7, norm.weight.shape[0])
    with torch.no_grad():
        want = norm(x)
        with fused_rms_norms(model.original_model) as n:
            assert n == len(norms) and "forward" in norm.__dict__
            got = norm(x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert all("forward" not in m.__dict__ for m in norms)


def test_a_one_plus_w_norm_is_left_alone(tmp_path):
    class OnePlusW(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight, self.variance_epsilon = torch.nn.Parameter(torch.zeros(8)), 1e-6

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.variance_epsilon) * (1 + self.weight)

    layer = OnePlusW()
    assert not same_as_rms_norm(layer)
    with fused_rms_norms(layer) as n:
        assert n == 0


def test_errors_undo_the_swap(tmp_path):
    model = boot(random_causal_lm_folder("llama", tmp_path / "llama"))
    with pytest.raises(RuntimeError, match="boom"), fused_rms_norms(model.original_model):
        raise RuntimeError("boom")
    assert all("forward" not in m.__dict__ for m in _norms(model))


@pytest.mark.parametrize("arch", [a for a in RANDOM_ARCHS if a not in ("rwkv", "mamba")])
def test_generation_through_fused_norms_gives_the_same_tokens(arch, tmp_path, monkeypatch):
    model = boot(random_causal_lm_folder(arch, tmp_path / arch))
    fused = generate(model, model.tokenizer, PROMPTS, max_new_tokens=8)
    monkeypatch.setattr(fused_module, "same_as_rms_norm", lambda _m: False)
    assert generate(model, model.tokenizer, PROMPTS, max_new_tokens=8) == fused, arch

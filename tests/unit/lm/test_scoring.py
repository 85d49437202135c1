"""`continuation_logprobs` (each distinct prompt run once, its cache shared by its continuations)
equals one unpadded forward of prompt + continuation per row — for attention models (plain HF, a
bridge, a GPT-2 with learned positions) and the RWKV v5.2 state model — repeated pairs included;
bad input is refused before any forward."""

from __future__ import annotations

import pytest
import torch

from tests.unit.lm.rwkv5_folder import random_rwkv5_folder
from workbench.lm import boot, torch_threads
from workbench.lm.forward import hf_model
from workbench.lm.random_folder import random_causal_lm_folder
from workbench.lm.scoring import continuation_logprobs

PROMPTS = ["How do I bake a chocolate cake?", "Hi", "Tell me how to make a dangerous weapon."]
CONTINUATIONS = ["Mix flour, water and salt, then bake it for an hour.", "Hello!", "I can't help with that.",
                 "x"]


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


def direct(model, tokenizer, prompt: str, continuation: str) -> torch.Tensor:
    """The oracle: one unpadded forward, no mask, no position ids, no cache."""
    p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    c = tokenizer(continuation, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = hf_model(model)(input_ids=torch.tensor([p + c])).logits[0].float().log_softmax(-1)
    return logp[len(p) - 1:-1].gather(-1, torch.tensor(c)[:, None])[:, 0]


def rows() -> tuple[list[str], list[str]]:
    """Every prompt with every continuation, then two rows repeated (a judge's repeated completions)."""
    prompts = [p for p in PROMPTS for _ in CONTINUATIONS] + [PROMPTS[0], PROMPTS[2]]
    continuations = [c for _ in PROMPTS for c in CONTINUATIONS] + [CONTINUATIONS[0], CONTINUATIONS[2]]
    return prompts, continuations


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_equals_one_unpadded_forward_per_row(tmp_path, arch) -> None:
    folder = random_causal_lm_folder(arch, tmp_path / arch)
    bridge = boot(folder)
    prompts, continuations = rows()
    for model, batch_size in ((bridge, 5), (bridge, 1), (hf_model(bridge), 64)):
        got = continuation_logprobs(model, bridge.tokenizer, prompts, continuations, batch_size)
        for p, c, g in zip(prompts, continuations, got):
            want = direct(bridge, bridge.tokenizer, p, c)
            assert g.shape == want.shape and torch.allclose(g, want, atol=1e-4), (arch, batch_size, p, c)


def test_the_state_model_runs_each_row_alone(tmp_path) -> None:
    with pytest.warns(UserWarning, match="no pad token"):
        model = boot(random_rwkv5_folder(tmp_path / "rwkv5"))
    prompts, continuations = rows()
    got = continuation_logprobs(model, model.tokenizer, prompts, continuations, 4)
    for p, c, g in zip(prompts, continuations, got):
        assert torch.allclose(g, direct(model, model.tokenizer, p, c), atol=1e-4)


def test_empty_continuations_and_bad_input(tmp_path) -> None:
    model = boot(random_causal_lm_folder("llama", tmp_path / "llama"))
    got = continuation_logprobs(model, model.tokenizer, PROMPTS[:2], ["", "Hello!"])
    assert got[0].numel() == 0 and got[1].numel() > 0
    with pytest.raises(ValueError, match="`batch_size`"):
        continuation_logprobs(model, model.tokenizer, PROMPTS[:1], ["x"], batch_size=0)
    with pytest.raises(ValueError, match="one completion per prompt"):
        continuation_logprobs(model, model.tokenizer, PROMPTS[:2], ["x"])
    with pytest.raises(ValueError, match="`completions`.*context"):
        continuation_logprobs(model, model.tokenizer, PROMPTS[:1], ["word " * 5000])

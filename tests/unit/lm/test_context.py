"""Prompts that do not fit the model's context are refused before any compute, naming the row:
OPT used to fail with an IndexError inside torch, Llama and GPT-2 to run on past their positions."""

from __future__ import annotations

import pytest

from workbench.lm import boot, generate, torch_threads
from workbench.lm.forward import context_length
from workbench.lm.random_folder import random_causal_lm_folder


@pytest.mark.parametrize("arch", ["opt", "llama", "gpt2"])
def test_prompts_past_the_context_are_refused_naming_the_row(arch, tmp_path):
    with torch_threads(1):
        model = boot(random_causal_lm_folder(arch, tmp_path / arch, max_positions=32))
        assert context_length(model) == 32
        short, long = "Hi there.", " ".join(["word"] * 40)
        with pytest.raises(ValueError, match=r"`prompts`: 1 prompt\(s\) do not fit the model's context of 32 positions "
                                             r"with `max_new_tokens`=4 more: row 1 \("):
            generate(model, model.tokenizer, [short, long], max_new_tokens=4)
        assert len(generate(model, model.tokenizer, [short], max_new_tokens=4)) == 1


def test_recurrent_models_have_no_context_limit(tmp_path):
    with torch_threads(1):
        model = boot(random_causal_lm_folder("rwkv", tmp_path / "rwkv", max_positions=16))
        assert context_length(model) is None
        assert len(generate(model, model.tokenizer, [" ".join(["word"] * 40)], max_new_tokens=2)) == 1

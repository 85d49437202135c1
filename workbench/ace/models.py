"""The two embedded chat models: trained on the synthetic instruction set, cached as HF folders
(hash of training spec + data + the code that builds them), booted through TransformerBridge."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.ace.config import AceConfig
from workbench.ace.data import ASSISTANT, EOS, PAD, SPECIAL_TOKENS, UNK, InstructionSet, build_instruction_set
from workbench.core.fingerprint import code_fingerprint
from workbench.lm.folders import cached_model_folder
from workbench.lm.tokenizer import build_word_tokenizer
from workbench.lm.train import TinyLMSpec, train_causal_lm

# The embedded tokenizer's chat template: what `format_chat` applies to a request.
CHAT_TEMPLATE = "{{ '<user> ' + messages[0]['content'] + ' " + ASSISTANT + "' }}"


@dataclass(frozen=True)
class EmbeddedModelKey:
    """What an embedded model's cache entry depends on."""

    spec: TinyLMSpec
    held_out: float
    n_eval: int
    n_direction: int


def instruction_set(config: AceConfig) -> InstructionSet:
    return build_instruction_set(config.n_eval, config.n_direction, config.held_out, config.seed)


def build_tokenizer(dataset: InstructionSet):
    texts = [f"{p} {r}" for p, r in zip(dataset.train_prompts, dataset.train_responses)]
    tokenizer = build_word_tokenizer(texts, SPECIAL_TOKENS, pad_token=PAD, eos_token=EOS, unk_token=UNK)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def embedded_model_folder(
    config: AceConfig, arch: str, cache_root: str | os.PathLike | None = None, progress: bool = True,
    instance: int = 0,
) -> Path:
    """The cached HF folder of instance `instance` of the tiny embedded `arch` model for `config`
    (trained when missing)."""
    dataset = instruction_set(config)
    key = EmbeddedModelKey(config.spec(arch, instance), config.held_out, config.n_eval, config.n_direction)

    def build(folder: Path) -> dict[str, Any]:
        tokenizer = build_tokenizer(dataset)
        model, losses = train_causal_lm(key.spec, tokenizer, dataset.train_prompts, dataset.train_responses,
                                        progress=progress)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        return {"train_seconds": model.config.workbench_train_seconds, "final_loss": losses[-1],
                "losses_every_10_steps": [round(x, 4) for x in losses]}

    # the weights depend on this module and what it imports (instruction set, tokenizer, trainer), not on
    # generation or the experiment: parent packages' re-exports are left out of the key
    return cached_model_folder(f"ace-{arch}-lm", key, code_fingerprint([__name__], parents=False), build, cache_root)

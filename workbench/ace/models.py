"""The two embedded chat models: trained on the synthetic instruction set, cached as HF folders
(hash of training spec + data + the code that builds them), booted through TransformerBridge."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from workbench.ace.config import AceConfig
from workbench.ace.data import ASSISTANT, EOS, PAD, SPECIAL_TOKENS, UNK, InstructionSet, build_instruction_set
from workbench.core.fingerprint import code_fingerprint
from workbench.core.threads import torch_threads
from workbench.lm.folders import cached_model_folder, cached_model_path
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
    key = _key(config, arch, instance)

    def build(folder: Path) -> dict[str, Any]:
        tokenizer = build_tokenizer(dataset)
        model, losses = train_causal_lm(key.spec, tokenizer, dataset.train_prompts, dataset.train_responses,
                                        progress=progress)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        return {"train_seconds": model.config.workbench_train_seconds, "final_loss": losses[-1],
                "losses_every_10_steps": [round(x, 4) for x in losses]}

    return cached_model_folder(f"ace-{arch}-lm", key, _code(), build, cache_root)


def _key(config: AceConfig, arch: str, instance: int) -> EmbeddedModelKey:
    return EmbeddedModelKey(config.spec(arch, instance), config.held_out, config.n_eval, config.n_direction)


def _code() -> str:
    # the weights depend on this module and what it imports (instruction set, tokenizer, trainer), not on
    # generation or the experiment: parent packages' re-exports are left out of the key
    return code_fingerprint([__name__], parents=False)


# parameters × steps × batch of one toy training above which two worker processes pay for their start
# (a few seconds each): the default toys are 1.7e10 (about 70–100 s on one thread), QUICK's 8e7
PARALLEL_TRAINING_WORK = 1e9


def toy_parameters(config: AceConfig) -> int:
    """About how many parameters a tiny embedded model has: Llama-shaped, attention 4d² and MLP
    3·d·d_mlp per layer (the word vocabulary is small)."""
    return config.n_layers * (4 * config.d_model**2 + 3 * config.d_model * config.d_mlp)


def training_work(config: AceConfig) -> float:
    """Parameters × steps × batch of the longest tiny-model training `config` asks for."""
    return float(toy_parameters(config)) * max(config.llama_steps, config.rwkv5_steps, config.rwkv_steps) \
        * config.train_batch


def _train_one(config: AceConfig, arch: str, instance: int, cache_root: str | None) -> str:
    """A worker's cell: instance `instance` of `arch` trained into the cache on one thread (the
    thread count the in-process run uses, `workbench.core.threads`: the same bits)."""
    with torch_threads(1):
        return str(embedded_model_folder(config, arch, cache_root, progress=False, instance=instance))


def train_embedded_models(config: AceConfig, runs: list[tuple[str, int]], cache_root: str | os.PathLike | None,
                          workers: int, progress: bool = True) -> None:
    """Train the tiny embedded models (arch, instance) of `runs` into the cache, `workers` at a
    time, each in its own process on one thread: two cores train two models in the time of one.
    Cached ones return at once; the experiment then boots every model from the cache."""
    runs = [(arch, i) for arch, i in runs
            if not cached_model_path(f"ace-{arch}-lm", _key(config, arch, i), _code(), cache_root).exists()]
    if workers < 2 or len(runs) < 2:
        return
    root = None if cache_root is None else str(cache_root)
    # spawn, not fork: the parent may hold torch's thread pool, which a forked child cannot use
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(runs)), mp_context=context) as pool:
        futures = [pool.submit(_train_one, config, arch, instance, root) for arch, instance in runs]
        for future in tqdm(as_completed(futures), total=len(futures), desc="training the tiny models",
                           disable=not progress, leave=False):
            future.result()  # a worker's error surfaces here, with its traceback

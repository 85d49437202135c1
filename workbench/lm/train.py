"""Train a small `transformers` causal LM (Llama, RWKV-4 or RWKV v5.2) on prompt/response texts.

The loss is next-token cross-entropy on the RESPONSE tokens only (prompt tokens are labelled
−100): the model must learn what to answer, not the distribution of requests.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import torch
from tqdm.auto import tqdm
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    RwkvConfig,
    RwkvForCausalLM,
)

from workbench.core.seeding import choose_device, seed_everything
from workbench.core.threads import torch_threads  # moved there; still importable from here (ace.session)
from workbench.lm.rwkv5_hf import Rwkv5Config, Rwkv5ForCausalLM
from workbench.lm.specs import ARCHITECTURES, TinyLMSpec  # noqa: F401  (their home; importable here)


def build_model(spec: TinyLMSpec, tokenizer: PreTrainedTokenizerFast, max_len: int) -> PreTrainedModel:
    """A freshly initialised model of `spec`'s shape whose config names its architecture (the
    bridge picks its adapter from `config.architectures`)."""
    common = dict(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                  eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id)
    if spec.arch == "rwkv5":
        return Rwkv5ForCausalLM(
            Rwkv5Config(
                hidden_size=spec.d_model,
                num_hidden_layers=spec.n_layers,
                num_attention_heads=spec.n_heads,
                intermediate_size=spec.d_mlp,
                architectures=["Rwkv5ForCausalLM"],
                **common,
            )
        )
    if spec.arch == "llama":
        config = LlamaConfig(
            hidden_size=spec.d_model, num_hidden_layers=spec.n_layers, num_attention_heads=spec.n_heads,
            num_key_value_heads=spec.n_heads, intermediate_size=spec.d_mlp, max_position_embeddings=max(64, max_len),
            tie_word_embeddings=False, architectures=["LlamaForCausalLM"], **common,
        )
        return LlamaForCausalLM(config)
    config = RwkvConfig(
        hidden_size=spec.d_model, num_hidden_layers=spec.n_layers, attention_hidden_size=spec.d_model,
        intermediate_size=spec.d_mlp, context_length=max(64, max_len), tie_word_embeddings=False,
        architectures=["RwkvForCausalLM"], **common,
    )
    return RwkvForCausalLM(config)


def encode_examples(
    tokenizer: PreTrainedTokenizerFast, prompts: Sequence[str], responses: Sequence[str]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded (input_ids, attention_mask, labels), labels −100 on prompt and padding.

    Each text is ``prompt response <eos>``; right padding keeps every prompt at position 0, so
    training needs no position ids (RWKV has no attention mask: padding after the end is harmless
    for a causal model, padding before it would not be)."""
    if len(prompts) != len(responses) or not prompts:
        raise ValueError(
            f"`prompts` and `responses` must be non-empty and of equal length; got {len(prompts)}, {len(responses)}"
        )
    ids, labels = [], []
    for p, r in zip(prompts, responses):
        p_ids = tokenizer(p, add_special_tokens=False)["input_ids"]
        r_ids = tokenizer(r, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids.append(p_ids + r_ids)
        labels.append([-100] * len(p_ids) + r_ids)
    width = max(len(x) for x in ids)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([x + [pad] * (width - len(x)) for x in ids])
    mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids])
    label_t = torch.tensor([x + [-100] * (width - len(x)) for x in labels])
    return input_ids, mask, label_t


def train_causal_lm(
    spec: TinyLMSpec,
    tokenizer: PreTrainedTokenizerFast,
    prompts: Sequence[str],
    responses: Sequence[str],
    *,
    device: str | torch.device | None = "cpu",
    progress: bool = True,
    on_step: Callable[[int, int, float], None] | None = None,
    threads: int | None = 1,
) -> tuple[PreTrainedModel, list[float]]:
    """Train a fresh model of `spec` on (prompt, response) pairs; return it (eval mode, on the CPU)
    and the loss every 10 steps. `on_step(step, steps, loss)` is called every 10 steps.
    `threads`: torch intra-op threads while training (1 suits tiny models, see `torch_threads`;
    None leaves torch's setting)."""
    with torch_threads(threads):
        return _train(spec, tokenizer, prompts, responses, device, progress, on_step)


def _train(spec, tokenizer, prompts, responses, device, progress, on_step) -> tuple[PreTrainedModel, list[float]]:
    if not isinstance(spec, TinyLMSpec):
        raise ValueError(f"`spec` must be a TinyLMSpec; got {type(spec).__name__}")
    dev = choose_device(device)
    generator = seed_everything(spec.seed)
    input_ids, mask, labels = encode_examples(tokenizer, prompts, responses)
    lengths = mask.sum(1)  # kept on the CPU: each step's batch width is then known without a device sync
    model = build_model(spec, tokenizer, input_ids.shape[1]).to(dev).train()
    input_ids, mask, labels = input_ids.to(dev), mask.to(dev), labels.to(dev)
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=spec.weight_decay, betas=(0.9, 0.98))

    def factor(step: int) -> float:
        if step < spec.warmup:
            return (step + 1) / spec.warmup
        t = (step - spec.warmup) / max(1, spec.steps - spec.warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    n = input_ids.shape[0]
    losses: list[float] = []
    bar = tqdm(range(spec.steps), desc=f"training {spec.arch} LM", disable=not progress, leave=False)
    start = time.perf_counter()
    for step in bar:
        idx = torch.randint(0, n, (spec.batch,), generator=generator)
        width = int(lengths[idx].max())  # trim the batch's all-padding tail
        idx = idx.to(dev)
        out = model(input_ids=input_ids[idx, :width], labels=labels[idx, :width], use_cache=False)
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % 10 == 0 or step == spec.steps - 1:
            value = float(out.loss.detach())  # a sync, so only every 10 steps
            losses.append(value)
            bar.set_postfix(loss=f"{value:.3f}")
            if on_step is not None:
                on_step(step + 1, spec.steps, value)
    model.eval().to("cpu")
    model.config.workbench_train_seconds = round(time.perf_counter() - start, 2)
    return model, losses

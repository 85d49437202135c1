"""TIME chat_dtype: what bfloat16 buys the ACE chat model on this CPU (docs/ace.md, "The chat model").

Three timings, each float32 vs bfloat16 on the same inputs, the sides alternated, best of `--repeats`, `--threads`
intra-op threads (default 2, as `workbench reproduce` runs the chat model):
- `matmul`: a [128, 576] × [576, 1536] product, SmolLM2's MLP up-projection for a batch of 128 rows
  (100 products);
- `finetune_step`: one refusal fine-tune step of SmolLM2-135M-Instruct (batch 8 × 90 tokens, 50 of
  them prompt; blocks 0–14 frozen as `AceConfig.chat_frozen_blocks`): float32 vs bfloat16 autocast
  (`FineTuneSpec.autocast`: float32 weights and AdamW state);
- `generate`: 128 chat prompts (the held-out requests, repeated) × 20 greedy new tokens through
  `workbench.lm.generate`, the model booted in float32 vs bfloat16 (`AceConfig.chat_dtype`).

Each prints `TIME chat_dtype.<what> float32_s=… bfloat16_s=… ratio=…` (ratio = float32 / bfloat16;
> 1: bfloat16 is faster). On a CPU without native bfloat16 (no AVX-512 BF16 / AMX) the ratio can be
below 1: `chat_dtype="float32"` is then the faster choice.

    python benchmarks/chat_dtype.py
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from ace_steering import best_of_each  # a sibling script: `python benchmarks/…` puts its folder on sys.path
from transformers import AutoModelForCausalLM

from workbench.ace.chat_model import base_folder
from workbench.ace.chat_prompts import chat_prompts
from workbench.ace.config import CHAT_HELD_OUT_TOPICS, AceConfig
from workbench.ace.prompts import format_chat
from workbench.core.threads import torch_threads
from workbench.lm.finetune import response_loss, trainable_names, training_autocast
from workbench.lm.folders import boot
from workbench.lm.generate import generate


def report(what: str, sides: dict[str, Callable[[], object]], repeats: int) -> None:
    """Time the "float32" and "bfloat16" sides (alternated, best of `repeats`) and print the line."""
    best = best_of_each(sides, repeats)
    fp32, bf16 = best["float32"], best["bfloat16"]
    print(f"TIME chat_dtype.{what} float32_s={fp32:.4f} bfloat16_s={bf16:.4f} ratio={fp32 / bf16:.3f}", flush=True)


def matmul(repeats: int) -> None:
    pairs = {name: (torch.randn(128, 576, dtype=dtype), torch.randn(576, 1536, dtype=dtype))
             for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16))}
    report("matmul", {name: lambda a=a, b=b: [a @ b for _ in range(100)] for name, (a, b) in pairs.items()},
           repeats)


def finetune_step(folder, repeats: int) -> None:
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).train()
    names = set(trainable_names(model, AceConfig().chat_frozen_blocks))
    for name, p in model.named_parameters():
        p.requires_grad_(name in names)
    optimizer = torch.optim.AdamW([p for n, p in model.named_parameters() if n in names], lr=5e-5)
    ids = torch.randint(0, 49000, (8, 90), generator=torch.Generator().manual_seed(0))
    labels = ids.clone()
    labels[:, :50] = -100

    def step(autocast: str | None) -> None:
        with training_autocast(model, autocast):
            loss = response_loss(model, ids, torch.ones_like(ids), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step(None)  # warm-up
    report("finetune_step", {"float32": lambda: step(None), "bfloat16": lambda: step("bfloat16")}, repeats)


def generation(folder, repeats: int) -> None:
    requests = list(chat_prompts(1, CHAT_HELD_OUT_TOPICS, 0).harmless_eval)
    sides = {}
    for dtype in ("float32", "bfloat16"):
        model = boot(folder, dtype=dtype)
        prompts = format_chat(model.tokenizer, (requests * 6)[:128])
        generate(model, model.tokenizer, prompts[:8], 4, progress=False)  # warm-up
        sides[dtype] = lambda m=model, p=prompts: generate(m, m.tokenizer, p, 20, batch_size=128, progress=False)
    report("generate", sides, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = base_folder(progress=True)
    with torch_threads(args.threads):
        matmul(args.repeats)
        finetune_step(folder, args.repeats)
        generation(folder, args.repeats)


if __name__ == "__main__":
    main()

"""Where the chat model's incoherence thresholds come from: the mean per-token log-likelihoods of
unsteered text, scored by one tuned SmolLM2 instance (the numbers in `workbench.ace.coherence`'s
docstrings and docs/ace.md "Judges").

    python scripts/ace_judge_calibration.py [--instance 0] [--cache DIR] [--samples 8]

Prints, for the base model's greedy answers (the greedy calibration text), the tuned model's own
samples at T = 1.0 and T = 1.5 (`AceConfig().max_new_tokens` tokens, `--samples` per held-out
harmless request) and those samples with their words shuffled (word salad), the quantiles
min / 5 % / 25 % / 50 % / max, and the share of each below the greedy threshold; then both
thresholds. Boots the instance from the artifact cache (fine-tuning it first when it is missing:
minutes). About 80 s on 2 cores once cached.
"""

from __future__ import annotations

import argparse
import random

import torch

from workbench.ace.chat_model import boot_tuned, chat_instance
from workbench.ace.chat_prompts import chat_prompts
from workbench.ace.coherence import SampleCalibration, calibrate_threshold, completion_loglik, sampled_threshold
from workbench.ace.config import CHAT_HELD_OUT_TOPICS, AceConfig
from workbench.ace.prompts import format_chat
from workbench.lm.generate import generate

QUANTILES = (0.0, 0.05, 0.25, 0.5, 1.0)


def _row(name: str, scores: torch.Tensor, greedy: float) -> str:
    q = torch.quantile(scores.double(), torch.tensor(QUANTILES, dtype=torch.double))
    below = float((scores < greedy).double().mean())
    return f"{name:<34} {' / '.join(f'{float(x):6.2f}' for x in q)}   below greedy threshold {100 * below:4.0f} %"


def _shuffled(texts: list[str], seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for text in texts:
        words = text.split()
        rng.shuffle(words)
        out.append(" ".join(words))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instance", type=int, default=0, help="which fine-tuned instance (seed offset)")
    parser.add_argument("--cache", default=None, help="artifact cache folder (default: $WORKBENCH_CACHE or ~/.cache)")
    parser.add_argument("--samples", type=int, default=8, help="samples per held-out harmless request")
    args = parser.parse_args()
    config = AceConfig()
    taught = chat_prompts(1, CHAT_HELD_OUT_TOPICS, config.seed)
    folder, requests, answers = chat_instance(config.tune_spec(args.instance), config.answer_tokens, taught,
                                              args.cache, True, config.chat_dtype)
    model = boot_tuned(folder, dtype=config.chat_dtype)
    tokenizer = model.tokenizer
    prompts = format_chat(tokenizer, requests)
    greedy = calibrate_threshold(model, tokenizer, requests, answers)
    print(f"instance {args.instance}, {config.chat_dtype}; nats per token, min / 5 % / 25 % / 50 % / max")
    print(_row("base model's greedy answers", completion_loglik(model, tokenizer, prompts, answers), greedy))
    asked = [p for p in prompts for _ in range(args.samples)]
    for temperature in (1.0, 1.5):
        groups = generate(model, tokenizer, prompts, config.max_new_tokens, 128, temperature=temperature,
                          num_samples=args.samples, seed=config.seed)
        texts = [x for group in groups for x in group]
        scores = completion_loglik(model, tokenizer, asked, texts)
        print(_row(f"sampled at T = {temperature:g}", scores[scores.isfinite()], greedy))
        shuffled = completion_loglik(model, tokenizer, asked, _shuffled(texts, config.seed))
        print(_row("  the same, words shuffled", shuffled[shuffled.isfinite()], greedy))
    calibration = SampleCalibration(tuple(requests), config.max_new_tokens, args.samples, config.top_p, config.seed)
    print(f"greedy threshold {greedy:.2f}; T = 1.5 threshold "
          f"{min(greedy, sampled_threshold(model, tokenizer, calibration, 1.5)):.2f}")


if __name__ == "__main__":
    main()

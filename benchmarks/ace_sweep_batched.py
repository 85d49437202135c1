"""BENCH ace_sweep_batched: an ACE-style sweep of steering settings over the same prompts as one
`generate_settings` call ("ours") vs one `generate` call per setting ("peer", what the ACE
experiment did). ratio = peer_s / ours_s (> 1: the batched sweep is faster).

Settings: `make_edit` with methods 'ace' and 'actadd' over α ∈ (−1, −0.4, 0, 0.2, 0.5, 0.8, 1,
1.4, 2), each at every block's `blocks.{i}.hook_resid_post` at once, plus the unsteered baseline
(19 settings). Directions are per-layer differences of means (`difference_of_means` of the last
prompt token's activations, the first half of the prompts against the second; meaningless on a
random model, and timing does not depend on them). Prompts: `--prompts` chat prompts of 1–3
corpus sentences (mixed lengths, so batches need left padding), greedy, `--new-tokens` tokens.
Both sides use `--batch-size` (peer: prompts per call; ours: rows, setting × prompt, per batch).

    python benchmarks/ace_sweep_batched.py                       # a random Llama (d 256, 4 layers)
    python benchmarks/ace_sweep_batched.py --model path/to/SmolLM2-135M-Instruct --threads 2

Prints the share of identical completions and of identical tokens (position by position, the
completions re-tokenized) between the two sides — they differ only where float rounding of a
row's forward in a differently composed batch flips a token — then the BENCH line. Torch runs on
`--threads` intra-op threads (default 1: `workbench.core.threads`'s rule for small models on a
shared machine), pinned with `torch_threads` for the whole run; both sides alternate, best of
`--repeats`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

from workbench.ace.prompts import format_chat
from workbench.core.threads import torch_threads
from workbench.lm.batched import generate_settings
from workbench.lm.folders import boot
from workbench.lm.generate import generate, last_token_activations
from workbench.lm.random_folder import CORPUS, random_causal_lm_folder
from workbench.tensor.steering import difference_of_means, make_edit

ALPHAS = (-1.0, -0.4, 0.0, 0.2, 0.5, 0.8, 1.0, 1.4, 2.0)
METHODS = ("ace", "actadd")


def _best(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best wall time of each function, the sides alternated so load changes hit both."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


def _settings(model, tokenizer, prompts: list[str]) -> list[dict | None]:
    n_layers = int(model.cfg.n_layers)
    names = [f"blocks.{i}.hook_resid_post" for i in range(n_layers)]
    acts = last_token_activations(model, tokenizer, prompts, names)  # [n, layers, d]
    half = len(prompts) // 2
    r, mu = difference_of_means(acts[:half], acts[half:])  # [layers, d] each
    settings: list[dict | None] = [None]
    for method in METHODS:
        for alpha in ALPHAS:
            settings.append({name: make_edit(method, r[i], mu[i], alpha) for i, name in enumerate(names)})
    return settings


def _token_share(tokenizer, ours: list[list[str]], peer: list[list[str]]) -> tuple[float, float]:
    """(identical completions / all, identical tokens position by position / tokens of the longer side)."""
    same = total = equal_texts = count = 0
    for a_setting, b_setting in zip(ours, peer):
        for a, b in zip(a_setting, b_setting):
            count += 1
            equal_texts += a == b
            ta = tokenizer(a, add_special_tokens=False)["input_ids"]
            tb = tokenizer(b, add_special_tokens=False)["input_ids"]
            same += sum(x == y for x, y in zip(ta, tb))
            total += max(len(ta), len(tb))
    return equal_texts / count, (same / total if total else 1.0)


def run(folder: Path, args: argparse.Namespace) -> None:
    model = boot(folder)
    tokenizer = model.tokenizer
    requests = [" ".join(CORPUS[(i + k) % len(CORPUS)] for k in range(1 + i % 3)) for i in range(args.prompts)]
    prompts = format_chat(tokenizer, requests)
    settings = _settings(model, tokenizer, prompts)

    def ours() -> list[list[str]]:
        return generate_settings(model, tokenizer, prompts, settings, args.new_tokens, batch_size=args.batch_size)

    def peer() -> list[list[str]]:
        return [generate(model, tokenizer, prompts, args.new_tokens, batch_size=args.batch_size, edits=s)
                for s in settings]

    texts, tokens = _token_share(tokenizer, ours(), peer())  # also the warm-up of both sides
    best = _best({"ours": ours, "peer": peer}, args.repeats)
    print(f"# model={folder} settings={len(settings)} prompts={len(prompts)} new_tokens={args.new_tokens} "
          f"batch_size={args.batch_size} threads={torch.get_num_threads()} (pinned) "
          f"identical_completions={texts:.4f} identical_tokens={tokens:.4f}")
    print(f"BENCH ace_sweep_batched ours_s={best['ours']:.5f} peer_s={best['peer']:.5f} "
          f"ratio={best['peer'] / best['ours']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="a causal-LM folder (default: a random Llama)")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads, pinned for the run")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with torch_threads(args.threads), tempfile.TemporaryDirectory() as tmp:
        folder = args.model or random_causal_lm_folder("llama", Path(tmp) / "llama", n_layers=4, d_model=256,
                                                       max_positions=512)
        run(folder, args)


if __name__ == "__main__":
    main()

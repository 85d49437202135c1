"""BENCH ace_sweep_batched: an ACE-style sweep of steering settings over the same prompts as one
`generate_settings` call ("ours") vs one `generate` call per setting ("peer", what the ACE
experiment did). ratio = peer_s / ours_s (> 1: the batched sweep is faster).

The default is ACE's default α sweep on SmolLM2-135M-Instruct (the wheel's GGUF, converted once
into the artifact cache): `make_edit` with methods 'ace' and 'actadd' over α ∈ (−1, −0.4, 0, 0.2,
0.5, 0.8, 1, 1.4, 2), each at every block's attention and MLP outputs at once (the paper's sites,
60 of them), each site with its own harmful − harmless direction from the chat prompts' direction
sets, plus the unsteered baseline (19 settings); the 16 + 16 held-out chat requests; greedy,
`--new-tokens` 20; both sides `--batch-size` 128 (peer: prompts per call; ours: rows, setting ×
prompt, per batch), 2 threads, the model in `--dtype` (default: `AceConfig.chat_dtype`, bfloat16,
the dtype the experiment steers it in).

    python benchmarks/ace_sweep_batched.py                       # SmolLM2, the experiment's sweep
    python benchmarks/ace_sweep_batched.py --model tiny          # a random Llama (d 256, 4 layers)

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
import warnings
from pathlib import Path

import torch
from ace_steering import best_of_each  # a sibling script: `python benchmarks/…` puts its folder on sys.path

from workbench.ace.chat_model import base_folder
from workbench.ace.chat_prompts import chat_prompts
from workbench.ace.config import CHAT_HELD_OUT_TOPICS, AceConfig
from workbench.ace.prompts import format_chat
from workbench.ace.sites import sublayer_names
from workbench.core.threads import torch_threads
from workbench.lm.batched import generate_settings
from workbench.lm.folders import boot
from workbench.lm.generate import generate, last_token_activations
from workbench.lm.random_folder import random_causal_lm_folder
from workbench.lm.specs import DTYPES
from workbench.tensor.steering import difference_of_means, make_edit

ALPHAS = (-1.0, -0.4, 0.0, 0.2, 0.5, 0.8, 1.0, 1.4, 2.0)
METHODS = ("ace", "actadd")


def _settings(model, tokenizer, harmful: list[str], harmless: list[str]) -> list[dict | None]:
    """The sweep's settings: every sublayer site (resid_post where a model has none), per-site r and μ⁻."""
    n_layers = int(model.cfg.n_layers)
    names = sublayer_names(model, n_layers) or [f"blocks.{i}.hook_resid_post" for i in range(n_layers)]
    pos = last_token_activations(model, tokenizer, harmful, names)  # [n, sites, d]
    neg = last_token_activations(model, tokenizer, harmless, names)
    r, mu = difference_of_means(pos, neg)  # [sites, d] each
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
    model = boot(folder, dtype=args.dtype)
    tokenizer = model.tokenizer
    sets = chat_prompts(48, CHAT_HELD_OUT_TOPICS)
    half = args.prompts // 2
    prompts = format_chat(tokenizer, [*sets.harmful_eval[:half], *sets.harmless_eval[:args.prompts - half]])
    settings = _settings(model, tokenizer, format_chat(tokenizer, list(sets.harmful_direction)),
                         format_chat(tokenizer, list(sets.harmless_direction)))

    def ours() -> list[list[str]]:
        return generate_settings(model, tokenizer, prompts, settings, args.new_tokens, batch_size=args.batch_size)

    def peer() -> list[list[str]]:
        return [generate(model, tokenizer, prompts, args.new_tokens, batch_size=args.batch_size, edits=s)
                for s in settings]

    texts, tokens = _token_share(tokenizer, ours(), peer())  # also the warm-up of both sides
    best = best_of_each({"ours": ours, "peer": peer}, args.repeats)
    print(f"# model={folder} dtype={args.dtype} settings={len(settings)} prompts={len(prompts)} "
          f"new_tokens={args.new_tokens} "
          f"batch_size={args.batch_size} threads={torch.get_num_threads()} (pinned) "
          f"identical_completions={texts:.4f} identical_tokens={tokens:.4f}")
    print(f"BENCH ace_sweep_batched ours_s={best['ours']:.5f} peer_s={best['peer']:.5f} "
          f"ratio={best['peer'] / best['ours']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2",
                        help="a causal-LM folder, 'smollm2' (default: the wheel's SmolLM2) or 'tiny' (a random Llama)")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads, pinned for the run")
    parser.add_argument("--dtype", default=AceConfig().chat_dtype, choices=sorted(DTYPES),
                        help="the model's dtype (default: the one the ACE experiment steers the chat model in)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with torch_threads(args.threads), tempfile.TemporaryDirectory() as tmp:
        if args.model == "smollm2":
            folder = base_folder(progress=False)
        elif args.model == "tiny":
            folder = random_causal_lm_folder("llama", Path(tmp) / "llama", n_layers=4, d_model=256, max_positions=512)
        else:
            folder = Path(args.model)
        run(folder, args)


if __name__ == "__main__":
    main()

"""ACE steering speed (run standalone: `python benchmarks/ace_steering.py`).

(a) steering_overhead: one forward of a batch of 32 × 64 tokens (some rows left-padded) through a
    TransformerBridge-booted Llama (d 256, 4 layers) with an ACE edit installed at one residual
    hook vs without it. ratio = ours_s / peer_s (goal ≤ 1.05; "peer" is the plain forward).
(b) steered_generation: the path `ace.run` takes — `workbench.lm.generate(bridge, tokenizer,
    prompts, edits={"blocks.2.hook_resid_post": ACE edit})` on a bridge-booted Llama folder (4
    layers, d 256), 32 chat prompts of mixed lengths (left padding), 64 new tokens, greedy,
    batch 32 — vs transformers' `model.generate` on the same folder loaded as a plain
    `LlamaForCausalLM`, with a forward hook on decoder layer 2 doing the same edit (KV cache,
    batch 32, left padding). ratio = peer_s / ours_s (goal ≥ 1.5).
(c) steered_generation_rwkv: the same on an RWKV folder (4 layers, d 256). The peer generates one
    prompt at a time: transformers' RWKV has no attention mask (left pads would enter the state)
    and its batched one-token step is wrong for batch > 1 (workbench.lm.compat), so batch 1 is the
    only way `model.generate` gives each prompt its own exact continuation. Ours batches all 32
    (per-length prompt passes, merged state).

Both sides of (b) and (c) produce identical completions (checked before timing). Models have random
weights (timing does not depend on them); both sides run in the same process, warmed up,
alternated, best of several repeats (5 for the generation lines); one torch thread (the machine has 2 shared cores).
"""

from __future__ import annotations

import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from workbench.ace.prompts import format_chat
from workbench.lm.folders import boot
from workbench.lm.generate import batches, generate
from workbench.lm.random_folder import CORPUS, random_causal_lm_folder
from workbench.tensor.hooks import steer
from workbench.tensor.steering import make_edit

D, LAYERS, BATCH, SEQ, NEW_TOKENS, LAYER = 256, 4, 32, 64, 64, 2


def best_of_each(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best wall time of each function, the sides alternated so load changes hit both."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


def _prompts(tokenizer) -> list[str]:
    """32 chat prompts of 1–3 corpus sentences: mixed lengths, so batches need left padding."""
    requests = [" ".join(CORPUS[(i + k) % len(CORPUS)] for k in range(1 + i % 3)) for i in range(BATCH)]
    return format_chat(tokenizer, requests)


def bench_overhead(folder: Path) -> None:
    bridge = boot(folder)
    ids = torch.randint(10, 500, (BATCH, SEQ), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    for row in range(BATCH):  # the first rows left-padded by up to 3 tokens
        mask[row, : row % 4] = 0
    edit = make_edit("ace", torch.randn(D), torch.randn(D), 0.5)

    @torch.no_grad()
    def plain() -> None:
        bridge(ids, attention_mask=mask)

    def steered() -> None:
        with steer(bridge, {f"blocks.{LAYER}.hook_resid_post": edit}):
            plain()

    plain()
    best = best_of_each({"ours": steered, "peer": plain}, 60)
    print(f"BENCH steering_overhead ours_s={best['ours']:.5f} peer_s={best['peer']:.5f} "
          f"ratio={best['ours'] / best['peer']:.3f}")


def edit_hook(edit) -> Callable:
    """A forward hook applying `edit` to a module's output (the first element of a tuple output):
    the peer's way of steering a plain HF model, here and in steered_generation_smollm2.py."""
    def apply(_module, _args, output):
        return (edit.apply(output[0]), *output[1:]) if isinstance(output, tuple) else edit.apply(output)
    return apply


@torch.no_grad()
def hf_completions(hf: torch.nn.Module, tokenizer, groups, n_prompts: int, new_tokens: int) -> list[str]:
    """Greedy `model.generate` completions (KV cache, left padding) of every (rows, ids, mask)
    group, decoded in the prompts' order: the peer side of the generation benchmarks."""
    out = [""] * n_prompts
    for rows, ids, mask in groups:
        new = hf.generate(input_ids=ids, attention_mask=mask, max_new_tokens=new_tokens, do_sample=False,
                          pad_token_id=tokenizer.pad_token_id)[:, ids.shape[1]:]
        for j, i in enumerate(rows):
            out[i] = tokenizer.decode(new[j], skip_special_tokens=True).strip()
    return out


def _hf_decoder_layer(model: torch.nn.Module) -> torch.nn.Module:
    """Decoder block LAYER of a plain HF model (Llama: model.layers, RWKV: rwkv.blocks)."""
    base = model.base_model
    return (base.layers if hasattr(base, "layers") else base.blocks)[LAYER]


def bench_generation(name: str, folder: Path, per_prompt_peer: bool) -> None:
    bridge = boot(folder)
    tokenizer = bridge.tokenizer
    prompts = _prompts(tokenizer)
    generator = torch.Generator().manual_seed(1)
    edit = make_edit("ace", torch.randn(D, generator=generator), torch.randn(D, generator=generator), 0.5)
    hf = AutoModelForCausalLM.from_pretrained(folder).eval()

    def ours() -> list[str]:
        return generate(bridge, tokenizer, prompts, NEW_TOKENS, batch_size=BATCH,
                        edits={f"blocks.{LAYER}.hook_resid_post": edit})

    @torch.no_grad()
    def peer() -> list[str]:
        handle = _hf_decoder_layer(hf).register_forward_hook(edit_hook(edit))
        try:
            groups = ([([i], *next(batches(tokenizer, [p], 1))[1:]) for i, p in enumerate(prompts)] if per_prompt_peer
                      else list(batches(tokenizer, prompts, BATCH)))
            return hf_completions(hf, tokenizer, groups, len(prompts), NEW_TOKENS)
        finally:
            handle.remove()

    if ours() != peer():
        raise SystemExit(f"{name}: the two sides generated different text; timing them is meaningless")
    best = best_of_each({"ours": ours, "peer": peer}, 5)  # this shared machine's speed drifts by ±20 % between runs
    print(f"BENCH {name} ours_s={best['ours']:.5f} peer_s={best['peer']:.5f} ratio={best['peer'] / best['ours']:.3f}")


def main() -> None:
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)  # small models; the machine is shared (see workbench.lm.torch_threads)
    with tempfile.TemporaryDirectory() as tmp:
        llama = random_causal_lm_folder("llama", Path(tmp) / "llama", n_layers=LAYERS, d_model=D, max_positions=512)
        rwkv = random_causal_lm_folder("rwkv", Path(tmp) / "rwkv", n_layers=LAYERS, d_model=D, max_positions=512)
        bench_overhead(llama)
        bench_generation("steered_generation", llama, per_prompt_peer=False)
        bench_generation("steered_generation_rwkv", rwkv, per_prompt_peer=True)


if __name__ == "__main__":
    main()

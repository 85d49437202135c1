"""ACE steering speed (run standalone: `python benchmarks/ace_steering.py`).

(a) steering_overhead: one forward of a batch of 32 × 64 tokens (some rows left-padded) through a
    TransformerBridge-booted Llama (d 256, 4 layers), with
    an ACE edit installed at one residual hook vs without it. ratio = ours_s / peer_s (goal ≤ 1.05;
    here "peer" is the plain forward).
(b) steered_generation: batched greedy generation (left padding, 32 prompts, 24 new tokens) with the
    same activation-addition vector at the same decoder block of the same HF `LlamaForCausalLM`:
    ours (`workbench.lm.generate.generate_ids(…, edits=…)`) vs steering-vectors 0.12.2's
    `SteeringVector.apply` around `model.generate`. ratio = peer_s / ours_s (goal ≥ 1.0). Both
    produce the same tokens (checked before timing).

Models have random weights (timing does not depend on them); both sides run in the same process,
warmed up, the two sides alternated, best of several repeats.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from workbench.ace.data import SPECIAL_TOKENS, build_instruction_set
from workbench.ace.models import build_tokenizer
from workbench.lm.folders import boot
from workbench.lm.generate import batches, generate_ids
from workbench.tensor.hooks import steer
from workbench.tensor.steering import make_edit

D, LAYERS, HEADS, BATCH, SEQ, NEW_TOKENS = 256, 4, 4, 32, 64, 24


def _model(tokenizer) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=D, num_hidden_layers=LAYERS, num_attention_heads=HEADS, num_key_value_heads=HEADS,
                         intermediate_size=2 * D, vocab_size=len(tokenizer), max_position_embeddings=128,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                         architectures=["LlamaForCausalLM"])
    return LlamaForCausalLM(config).eval()


def _prompts(n: int) -> list[str]:
    data = build_instruction_set(n_eval=n, n_direction=4)
    # cut some requests short so the batch needs left padding
    return [" ".join(p.split()[: 13 - (i % 4)]) for i, p in enumerate(data.train_prompts[:n])]


def bench_overhead(folder: Path, tokenizer) -> None:
    bridge = boot(folder)
    # batch 32 × 64 tokens, the first rows left-padded by up to 3 tokens
    ids = torch.randint(len(SPECIAL_TOKENS), len(tokenizer), (BATCH, SEQ), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    for row in range(BATCH):
        mask[row, : row % 4] = 0
        ids[row, : row % 4] = tokenizer.pad_token_id
    edit = make_edit("ace", torch.randn(D), torch.randn(D), 0.5)

    @torch.no_grad()
    def forward() -> None:
        bridge(ids, attention_mask=mask)

    def timed() -> float:
        start = time.perf_counter()
        forward()
        return time.perf_counter() - start

    forward()
    plain_t, steered_t = [], []
    for _ in range(60):  # alternate the two sides so load changes on a shared machine hit both
        plain_t.append(timed())
        with steer(bridge, {"blocks.2.hook_resid_post": edit}):
            steered_t.append(timed())
    ours_s, peer_s = min(steered_t), min(plain_t)
    print(f"BENCH steering_overhead ours_s={ours_s:.5f} peer_s={peer_s:.5f} ratio={ours_s / peer_s:.3f}")


def bench_generation(model: LlamaForCausalLM, tokenizer) -> None:
    from steering_vectors import SteeringVector  # bench-only peer, installed --no-deps

    rows, ids, mask = next(batches(tokenizer, _prompts(BATCH), BATCH, pad=True))
    vector = 0.5 * torch.randn(D, generator=torch.Generator().manual_seed(1))
    layer = 2
    peer_vector = SteeringVector(layer_activations={layer: vector}, layer_type="decoder_block")
    edit = make_edit("actadd", vector, alpha=1.0)

    @torch.no_grad()
    def ours() -> torch.Tensor:
        return generate_ids(model, ids, mask, NEW_TOKENS, None, edits={f"model.layers.{layer}": edit}, use_cache=True)

    @torch.no_grad()
    def peer() -> torch.Tensor:
        with peer_vector.apply(model, multiplier=1.0):
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=NEW_TOKENS,
                                 min_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        return out[:, ids.shape[1]:]

    same = torch.equal(ours(), peer())
    if not same:
        raise SystemExit("steered_generation: the two sides generated different tokens; timing them is meaningless")
    ours(), peer()  # warm-up
    ours_t, peer_t = [], []
    for _ in range(6):  # alternate the two sides
        for fn, times in ((ours, ours_t), (peer, peer_t)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    ours_s, peer_s = min(ours_t), min(peer_t)
    print(f"BENCH steered_generation ours_s={ours_s:.5f} peer_s={peer_s:.5f} ratio={peer_s / ours_s:.3f}")


def main() -> None:
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)  # small models; the machine is shared (see workbench.lm.torch_threads)
    tokenizer = build_tokenizer(build_instruction_set(n_eval=4, n_direction=4))
    model = _model(tokenizer)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        bench_overhead(Path(tmp), tokenizer)
    bench_generation(model, tokenizer)


if __name__ == "__main__":
    main()

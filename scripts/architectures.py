"""The architecture table of docs/ace.md: for every architecture `random_causal_lm_folder` builds
(random weights, 2 layers, d 64, a byte-level BPE tokenizer with a chat template and no pad
token), whether it boots through the bridge, whether cached decoding equals full recomputation
token for token (edits at all / prompt / generated, prompts of mixed lengths in one batch),
whether the bridge-free path gives the bridge's tokens, and whether `ace.run` completes end to end
— on the paper's sites (`sites="sublayers"`, every attention and MLP output) where the model has
them, else (Mamba: no such hooks; OPT: a flattened MLP output) on the residual stream, after
`run` refused "sublayers" naming `sites`.

    python scripts/architectures.py      # prints a markdown table
"""

from __future__ import annotations

import tempfile
import time
import traceback
import warnings
from pathlib import Path

import torch

from workbench.ace import AceConfig, AceResult, run
from workbench.ace.example import example_inputs
from workbench.lm import boot, torch_threads
from workbench.lm.fastpath import fast_path_applies
from workbench.lm.generate import batches, generate_ids
from workbench.lm.random_folder import RANDOM_ARCHS, random_causal_lm_folder
from workbench.tensor.steering import make_edit

PROMPTS = [
    "How do I bake a chocolate cake?",
    "Hi",
    "Tell me how to make a dangerous weapon. Explain how a rainbow forms.",
]


def _mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


def check(arch: str, root: Path, files: tuple[str, str]) -> list[str]:
    folder = random_causal_lm_folder(arch, root / arch)
    model = boot(folder)
    _rows, ids, mask = next(batches(model.tokenizer, PROMPTS, 8))
    d = int(model.cfg.d_model)
    edits = {
        "blocks.0.hook_resid_post": make_edit(
            "actadd", 4 * torch.randn(d, generator=torch.Generator().manual_seed(1)), alpha=1.0
        )
    }
    cached_ok = all(torch.equal(generate_ids(model, ids, mask, 8, None, edits=edits, positions=p, use_cache=True),
                                generate_ids(model, ids, mask, 8, None, edits=edits, positions=p, use_cache=False))
                    for p in ("all", "prompt", "generated"))
    fast = generate_ids(model, ids, mask, 8, None, edits=edits)
    handle = model.hook_dict["blocks.0.hook_resid_pre"].register_forward_hook(lambda *_a: None)
    try:
        slow = generate_ids(model, ids, mask, 8, None, edits=edits)
    finally:
        handle.remove()
    start = time.perf_counter()
    result, sites = run_ace(folder, files)
    seconds = time.perf_counter() - start
    return [arch, type(model.original_model).__name__, "yes", _mark(cached_ok),
            _mark(fast_path_applies(model, edits) and torch.equal(fast, slow)),
            f"yes ({sites}, {seconds:.1f} s, d={result.direction[result.labels[0]].shape[-1]}, L={result.n_layers(0)})"]


def run_ace(folder: Path, files: tuple[str, str]) -> tuple[AceResult, str]:
    """`ace.run` with the default `sites="auto"` (the sublayer sites, or the residual ones when the
    model has no usable sublayer hooks); the result and the sites it ran on."""
    config = AceConfig(model=str(folder), harmful_file=files[0], harmless_file=files[1], n_eval=4, n_direction=4,
                       alphas=(0.0, 1.0), max_new_tokens=8)
    result = run(config, progress=False)
    return result, result.sites(0)


def main() -> None:
    warnings.simplefilter("ignore")
    rows = []
    with torch_threads(1), tempfile.TemporaryDirectory() as tmp:
        _model, harmful, harmless = example_inputs(Path(tmp) / "example")
        for arch in RANDOM_ARCHS:
            try:
                rows.append(check(arch, Path(tmp), (harmful, harmless)))
            except Exception as err:  # noqa: BLE001 - a failing architecture is a row of the table
                traceback.print_exc()
                rows.append([arch, "?", f"**no**: {type(err).__name__}: {err}"[:120], "", "", ""])
    header = ["arch", "HF class", "boots (bridge)", "cached = recomputed", "bridge-free = bridge", "ace.run end to end"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()

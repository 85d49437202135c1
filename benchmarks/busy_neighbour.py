"""BENCH busy_neighbour: capacity QUICK beside one busy Python process (ours_s) vs alone (peer_s).
Ratio = peer_s / ours_s: 1.0 means a neighbour costs nothing; the goal is ≥ 0.6.

Why: a researcher's machine always has something else running, and torch's intra-op threads spin
at every op's barrier when a core is taken (`workbench.core.threads`). The '#' line is the same
measurement with the policy off (torch's default thread count): what the policy buys.
Best of a few repeats each, alone and busy alternated, so a burst of other load hits both sides.
"""

from __future__ import annotations

from unittest import mock

import torch
from neighbour import busy_and_alone  # a sibling script: `python benchmarks/…` puts its folder on sys.path

from workbench.capacity import CapacityConfig, run
from workbench.core import threads

REPEATS = 3          # each side, with the policy
DEFAULT_REPEATS = 2  # each side, with torch's default threads (a busy run can take ~40 s)
GOAL = 0.6


def measure(repeats: int) -> tuple[float, float]:
    """(best busy seconds, best alone seconds) of capacity QUICK, alternating the two."""
    config = CapacityConfig.quick()
    return busy_and_alone(lambda: run(config, progress=False), repeats)


def main() -> None:
    run(CapacityConfig.quick(), progress=False)  # warm-up: lazy imports and first-step set-up
    policy = threads.compute_threads("cpu", 0)
    ours, peer = measure(REPEATS)
    with mock.patch.object(threads, "SMALL_WORK", 0):  # the policy off: nothing counts as small
        d_ours, d_peer = measure(DEFAULT_REPEATS)
    print(f"# torch default threads={torch.get_num_threads()}: busy_s={d_ours:.3f} alone_s={d_peer:.3f} "
          f"ratio={d_peer / d_ours:.2f}; policy threads={policy}: busy {d_ours / ours:.1f}x faster "
          f"(best of {DEFAULT_REPEATS} / {REPEATS}; goal ratio >= {GOAL})")
    print(f"BENCH busy_neighbour ours_s={ours:.3f} peer_s={peer:.3f} ratio={peer / ours:.2f}")


if __name__ == "__main__":
    main()

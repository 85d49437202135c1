"""A busy neighbour for the load benchmarks: one `python -c "while True: pass"` holding a core while
a block runs (`busy_neighbour`, `busy_neighbour_lm`, `classifier_scoring_busy`)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def busy_loop() -> Iterator[None]:
    """One spinning Python process for the duration of the block (killed after, also on an error)."""
    peer = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it start spinning before the clock does
        yield
    finally:
        peer.kill()
        peer.wait()


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def busy_and_alone(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(best seconds beside a busy loop, best seconds alone) of `fn`, the two alternated so that a
    burst of other load hits both sides."""
    alone, busy = [], []
    for _ in range(repeats):
        alone.append(timed(fn))
        with busy_loop():
            busy.append(timed(fn))
    return min(busy), min(alone)

"""How many intra-op threads torch uses for a suite's work: ONE on the CPU for small work.

Why: torch's intra-op pool (OpenMP here) ends every parallel op at a barrier where the finished
threads spin-wait for the rest. This project's models are tiny (toy ensembles, small MLPs, d ≤ 128
LMs, MiniLM), so their ops are short and many. On a shared machine a second process holds a core,
one of torch's threads is descheduled, and the other spins at the barrier until the scheduler
brings it back: every op pays a time slice. One thread has no barrier to wait at, loses little
alone on ops this small (below: at best 1.2x, goldilocks QUICK), and gives the same bits on any
machine (reductions split by thread count round differently: goldilocks's `sphere_shift` moves by
~1e-9 between 1 and 2 threads) and in a Ray cell (`workbench.core.executor` runs each with
`cpus_per_task` = 1 thread by default).

RULE (`compute_threads`): on a CPU device, work under `SMALL_WORK` parameters (every ensemble
member counted) runs on 1 thread; larger or unknown work, and any other device, leaves torch's
setting alone (the user's `torch.set_num_threads`, or its default). On CUDA the threads only feed
the kernel launches and the little CPU-side work; nothing to gain by restricting them.

MEASURED on the shared 2-core machine this was built on (torch 2.13 CPU, OpenMP; seconds, best of
2-3 repeats alternating 1 and 2 threads, each cell's median in brackets; "busy" = beside one
`python -c "while True: pass"`; other jobs ran at times, hence the medians):

    work                         alone 1 thr   alone 2 thr   busy 1 thr    busy 2 thr
    capacity QUICK               1.40 (1.65)   1.40 (1.44)   1.47 (1.77)   5.6 (21.9)
    capacity full                31.3 (33.8)   32.3 (125)    32.2 (32.2)   29.0 (92.0)
    goldilocks QUICK             2.61 (2.71)   2.22 (17.5)   5.49 (5.68)   26.9 (59.5)
    robustness QUICK (MiniLM)    18.8 (21.1)   28.8 (54.7)   19.3 (20.6)   59.4 (66.7)

(capacity full, 2 threads: alone 32 s and 219 s, busy 29, 92 and 115 s: the spinning is erratic,
one thread is not.) `benchmarks/busy_neighbour.py` (capacity QUICK busy vs alone) prints ratio
0.94-1.07 under this policy and 0.22-0.28 with torch's default 2 threads.

A micro-benchmark by size (30 Adam steps of a 2-layer MLP, batch 256; MiniLM embedding 256 texts)
shows where the line is: alone, 2 threads give nothing on an 8k-parameter MLP and 1.2-1.8x on
0.1M-23M (MiniLM 1.83x); busy, 2 threads LOSE at every size (0.3-0.7x). Robustness's MiniLM stages
(embed, attack) ran 1.6-2x faster on 2 threads
in quiet moments, yet its whole run lost at every try, "alone" too: its thousands of short ops each
risk a wait whenever anything else wakes up. So small work takes one thread; the line
(`SMALL_WORK`, 30M) sits above MiniLM (22.7M), the largest model a suite ships, and below BERT-base
(110M), where a user's own model makes big matmuls that do use the cores.

    with thread_policy(device, work=n_parameters):   # 1 thread on the CPU for small work
        ...

ADAPTIVE (`AdaptiveThreads`, `adaptive_threads`): a large model a user calls directly
(`workbench.lm.generate` and its siblings, `Classifier.embed`) has ops big enough for a second thread
to pay on a quiet machine, and no fixed count wins both cases. Measured for `generate` on
SmolLM2-135M (float32, 8 prompts × 24 tokens; seconds, best of 3, alone / beside one busy loop):
2 threads 2.29 / 7.59, 1 thread 2.90 / 2.97, 2 threads with OMP_WAIT_POLICY=PASSIVE 2.92 / 3.92
(passive waiting gives up the quiet speed-up and still loses busy, so it is not used). A matmul of
the decode's size (8 × 576 × 1536, 14 MFLOP) loses 2x on 2 threads beside a busy loop; from ~100
MFLOP up the loss is ≤ 25 % and the quiet gain ~2x. So the count follows the load: the cores no
other process's runnable task holds (`workbench.core.load`: /proc/loadavg's instantaneous count, our
own threads subtracted), between 1 and the caller's count, re-read at most every 0.5 s (every
forward ticks it). Then: 2.3 s alone, 3.0-3.4 s busy (`BENCH busy_neighbour_lm`); MiniLM scoring of
1,000 texts 4.5-5.6 s alone, 8.6-9.5 s busy where sentence-transformers takes 14 s. The two counts
gave bit-identical logits on SmolLM2 in float32 and bfloat16 (last-token logits of 8 prompts).
Inside a suite's one-thread policy the ceiling is 1, so nothing changes there.
"""

from __future__ import annotations

import json
import os
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from workbench.core.load import free_cores
from workbench.core.validation import check_int, check_number

SMALL_WORK = 30_000_000  # parameters: below this, one intra-op thread on the CPU (see the module docstring)
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with `n` intra-op threads (None: leave as is), restoring the old count.

    Tiny models (d ≤ 128) are fastest on one thread: their ops are too small to split, and on a
    loaded machine torch's threads spin-wait on each other — here training a d=32 model took 82 s
    with the default 2 threads under load and 1.1 s with one."""
    if n is None:
        yield
        return
    check_int("threads", n, low=1)
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def compute_threads(device: str | torch.device | None, work: int | None) -> int | None:
    """The policy's thread count for `work` (parameters, every ensemble member counted; None:
    unknown) on `device` (None: CUDA when available, as `choose_device`): 1 for small work on
    the CPU, else None — leave torch's setting."""
    if work is not None:
        check_int("work", work, low=0)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if torch.device(device).type != "cpu" or work is None or work >= SMALL_WORK:
        return None
    return 1


@contextmanager
def thread_policy(device: str | torch.device | None, work: int | None) -> Iterator[int]:
    """Run the block with `compute_threads(device, work)` intra-op threads, restoring the old
    count after (also on an error); yields the count the block runs with."""
    with torch_threads(compute_threads(device, work)):
        yield torch.get_num_threads()


class AdaptiveThreads:
    """Torch's intra-op threads set to the cores no other process is using, re-read at most every
    `every_s` seconds by `tick()`: between 1 and `ceiling` (the count the caller had: the user's
    `torch.set_num_threads`, a suite's policy). Used by the paths a user calls on a large model
    (`workbench.lm.generate`, `Classifier.embed`), where ops are big enough for 2 threads to pay
    on a quiet machine and a neighbour would make them spin (module docstring, "ADAPTIVE")."""

    def __init__(self, ceiling: int, every_s: float = 0.5, free: Callable[[], int | None] | None = None) -> None:
        self.ceiling = check_int("ceiling", ceiling, low=1)
        self.every_s = check_number("every_s", every_s)
        self._free = free or free_cores  # injectable for tests; benchmarks patch this module's free_cores
        self._last = -float("inf")
        self.counts: list[int] = []  # every count it set, in order (what a run actually used)

    def tick(self) -> int:
        """Re-read the load when `every_s` has passed and set the thread count; return it."""
        now = time.perf_counter()
        if self.ceiling > 1 and now - self._last >= self.every_s:
            self._last = now
            free = self._free()
            n = self.ceiling if free is None else max(1, min(self.ceiling, free))
            if n != torch.get_num_threads():
                torch.set_num_threads(n)
            if not self.counts or self.counts[-1] != n:
                self.counts.append(n)
        return torch.get_num_threads()


@contextmanager
def adaptive_threads(every_s: float = 0.5, free: Callable[[], int | None] | None = None) -> Iterator[AdaptiveThreads]:
    """Run the block under an `AdaptiveThreads` whose ceiling is the current thread count (1: it
    changes nothing), ticked once on entry; the count is restored after, also on an error."""
    old = torch.get_num_threads()
    governor = AdaptiveThreads(old, every_s, free)
    try:
        governor.tick()
        yield governor
    finally:
        torch.set_num_threads(old)


def folder_parameters(path: str | os.PathLike | None) -> int | None:
    """About how many parameters the model folder `path` holds, to size its work without loading
    it: exact from safetensors headers, else weight-file bytes / 2 (a 16-bit guess errs towards
    "large", which leaves torch's threads alone). None when there is no folder or no weights."""
    if path is None or not Path(path).is_dir():
        return None
    total, found = 0, False
    for file in sorted(Path(path).rglob("*")):
        if not file.is_file() or not file.name.endswith(WEIGHT_SUFFIXES):
            continue
        found = True
        counted = _safetensors_parameters(file) if file.suffix == ".safetensors" else None
        total += file.stat().st_size // 2 if counted is None else counted
    return total if found else None


def _safetensors_parameters(file: Path) -> int | None:
    """Elements of every tensor a safetensors file's JSON header lists; None if it is not one."""
    try:
        with file.open("rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > 100_000_000:  # no real header is this big: not a safetensors file
                return None
            header = json.loads(f.read(size))
    except (OSError, struct.error, ValueError):
        return None
    total = 0
    for name, entry in header.items():
        if name == "__metadata__" or not isinstance(entry, dict):
            continue
        count = 1
        for dim in entry.get("shape", []):
            count *= int(dim)
        total += count
    return total

"""What else runs on this machine right now: the tasks other processes have on the CPUs.

Read from /proc/loadavg's fourth field ("running/total"): the runnable tasks at this instant, not
the 1-minute average (which lags by a minute). This process's own runnable threads (a torch
worker spinning at a barrier) are subtracted, so a busy torch does not read as a neighbour. In a
container /proc/loadavg may count the host's tasks: the answer then errs towards "busy", which
costs at most the second core's speed-up, never a stall."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

LOADAVG = Path("/proc/loadavg")
OWN_TASKS = Path("/proc/self/task")


def _running_total() -> int:
    return int(LOADAVG.read_text().split()[3].split("/")[0])


def _running_own() -> int:
    """This process's threads in state R (running or runnable)."""
    count = 0
    for stat in OWN_TASKS.glob("*/stat"):
        try:
            # the state follows the ")" that ends the command name (which may hold spaces)
            if stat.read_text().rsplit(")", 1)[1].split()[0] == "R":
                count += 1
        except (OSError, IndexError):
            continue  # a thread that ended while we looked
    return count


def running_elsewhere(samples: int = 3, gap_s: float = 0.001) -> int | None:
    """Runnable tasks of other processes now: the median over `samples` reads, `gap_s` apart, of
    the machine's runnable tasks minus this process's own (≥ 0); None where /proc is missing."""
    try:
        counts = []
        for i in range(samples):
            if i:
                time.sleep(gap_s)
            counts.append(max(0, _running_total() - max(1, _running_own())))
    except (OSError, ValueError, IndexError):
        return None
    return int(statistics.median(counts))


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, else os.cpu_count())."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def free_cores() -> int | None:
    """Usable cores that no other process's runnable task holds now (≥ 0); None when unknown."""
    others = running_elsewhere()
    return None if others is None else max(0, usable_cores() - others)

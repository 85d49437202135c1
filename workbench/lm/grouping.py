"""Rows split into groups that each run as one padded piece of work: the cheapest grouping.

A group of rows padded to its widest costs rows × widest, plus a fixed cost per piece of work (one
more forward, one more attention call). `contiguous_groups` finds the cheapest split of rows in
their given order into runs; `length_groups` sorts them by width first (an optimal grouping of
sorted widths is contiguous). Both are an O(n²) dynamic programme: n is a batch (≤ a few hundred).
"""

from __future__ import annotations

# a forward's fixed cost in prompt positions (Python and dispatch for every module): ~7 ms per
# forward of the 4-layer d-256 Llama, whose prompt positions cost ~0.18 ms each at batch 32
FORWARD_COST_POSITIONS = 32


def contiguous_groups(widths: list[int], overhead: float) -> list[tuple[int, int]]:
    """[(start, end)] runs of `widths` in their order, minimising Σ_runs ((end − start) × max
    width in the run + `overhead`)."""
    n = len(widths)
    best, cut = [0.0] * (n + 1), [0] * (n + 1)
    for j in range(1, n + 1):  # best[j]: rows [0, j); the last run is [i, j)
        widest, best[j], cut[j] = 0, float("inf"), 0
        for i in range(j - 1, -1, -1):
            widest = max(widest, widths[i])
            cost = best[i] + (j - i) * widest + overhead
            if cost < best[j]:
                best[j], cut[j] = cost, i
    runs, j = [], n
    while j:
        runs.append((cut[j], j))
        j = cut[j]
    return runs[::-1]


def length_groups(widths: list[int], overhead: float = FORWARD_COST_POSITIONS) -> list[list[int]]:
    """Indices of `widths` split into groups, each to run as one forward padded to its widest row,
    minimising Σ_groups (rows × widest + `overhead`). Groups come widest last."""
    order = sorted(range(len(widths)), key=lambda i: widths[i])
    return [order[a:b] for a, b in contiguous_groups([widths[i] for i in order], overhead)]

"""BENCH widget_latency: set the capacity panel's kurtosis slider 50 times in process (cached
result, no retraining) and time each until the FigureWidget holds the new bars."""

from __future__ import annotations

import time

import numpy as np

from widgets import CapacityPanel
from workbench.capacity import CapacityConfig
from workbench.runner import run_cached

REPEATS = 50


def main() -> None:
    result = run_cached("capacity", CapacityConfig(), progress=True)  # full grid; built once, then cached
    panel = CapacityPanel(result=result)
    targets = [result.config.kurtosis[i % len(result.config.kurtosis)] for i in range(1, REPEATS + 1)]
    expected = result.capacities()
    latencies = []
    for k in targets:
        start = time.perf_counter()
        panel.kurtosis.value = k
        ki, li = result.nearest(k, panel.decay.value)
        if list(panel.figure.data[0].y) != expected[ki, li].tolist():
            raise RuntimeError(f"the figure does not hold the bars of k={k}")
        latencies.append(time.perf_counter() - start)
    ms = np.array(latencies) * 1e3
    print(f"# {REPEATS} slider moves over a {result.W.shape[0]}x{result.W.shape[1]} grid, n={result.config.n}")
    print(f"BENCH widget_latency p50_ms={np.percentile(ms, 50):.1f} p95_ms={np.percentile(ms, 95):.1f}")


if __name__ == "__main__":
    main()

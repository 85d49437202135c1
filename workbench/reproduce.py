"""Reproduce every landed suite: run its config, export its figures and measurements.

Each suite registers a `SuiteSpec`; `workbench reproduce` walks the registry. Results go through
the artifact cache, so a notebook opened afterwards reuses the same computation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from tqdm.auto import tqdm

from workbench.plots.export import FORMATS, export_figures
from workbench.tensor.atomic import atomic_file
from workbench.tensor.cache import ArtifactCache
from workbench.tensor.executor import Executor, as_executor


@dataclass(frozen=True)
class SuiteSpec:
    """What reproducing one suite takes: configs, a cached runner, figures and measurements."""

    full_config: Callable[[], Any]
    quick_config: Callable[[], Any]
    run_cached: Callable[..., Any]
    figures: Callable[[Any], dict[str, go.Figure]]
    summarize: Callable[[Any], dict[str, Any]]


def _capacity() -> SuiteSpec:
    from workbench.capacity import CapacityConfig, run_cached
    from workbench.capacity.summary import summarize
    from workbench.plots.capacity import all_figures

    return SuiteSpec(CapacityConfig, CapacityConfig.quick, run_cached, all_figures, summarize)


def _goldilocks() -> SuiteSpec:
    from workbench.goldilocks import GoldilocksConfig, run_cached
    from workbench.goldilocks.summary import summarize
    from workbench.plots.goldilocks import all_figures

    return SuiteSpec(GoldilocksConfig, GoldilocksConfig.quick, run_cached, all_figures, summarize)


def _robustness() -> SuiteSpec:
    from workbench.plots.robustness import all_figures
    from workbench.robustness import RobustnessConfig, run_cached
    from workbench.robustness.summary import summarize

    return SuiteSpec(RobustnessConfig, RobustnessConfig.quick, run_cached, all_figures, summarize)


def _ace() -> SuiteSpec:
    from workbench.ace import AceConfig, run_cached
    from workbench.ace.summary import summarize
    from workbench.plots.ace import all_figures

    return SuiteSpec(AceConfig, AceConfig.quick, run_cached, all_figures, summarize)


SUITES: dict[str, Callable[[], SuiteSpec]] = {"ace": _ace, "capacity": _capacity, "goldilocks": _goldilocks, "robustness": _robustness}


def reproduce_suite(
    name: str, out_dir: str | os.PathLike, quick: bool = False, cache: ArtifactCache | None = None,
    formats: tuple[str, ...] = FORMATS, progress: bool = True, executor: str | Executor = "local",
) -> list[Path]:
    """Run suite `name` and write `<out_dir>/<name>/<figure>.{png,html}` and `measurements.json`.

    One progress bar per suite (compute → figures → measurements); the computation's own bars
    show inside it. `executor="ray"` runs the suite's grid cells as Ray tasks."""
    if name not in SUITES:
        raise ValueError(f"`suite` must be one of {sorted(SUITES)}; got {name!r}")
    spec = SUITES[name]()
    ex = as_executor(executor)
    config = spec.quick_config() if quick else spec.full_config()
    with tqdm(total=3, desc=f"{name}: compute", disable=not progress, unit="stage",
              bar_format="{desc:<28}{bar}| {n}/{total} stages [{elapsed}]") as bar:
        result = spec.run_cached(config, cache, progress=progress, executor=ex)
        bar.set_description(f"{name}: figures")
        bar.update()
        folder = Path(out_dir) / name
        written = export_figures(spec.figures(result), folder, formats=formats)
        bar.set_description(f"{name}: measurements")
        bar.update()
        measurements = {"suite": name, "quick": quick, **spec.summarize(result)}
        with atomic_file(folder / "measurements.json") as tmp:
            tmp.write_text(json.dumps(measurements, indent=1))
        written.append(folder / "measurements.json")
        bar.set_description(f"{name}: done")
        bar.update()
    return written

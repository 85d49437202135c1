"""One suite contract: each suite package exports a `Suite` value, and everything that runs suites
(reproduce, the GPU check, the widgets, the tests, the notebooks) goes through it.

    from workbench.suite import get_suite, run_cached
    suite = get_suite("capacity")
    result = run_cached(suite, suite.quick())       # or run_cached("capacity", config)
    figures = suite.figures(result); numbers = suite.summarize(result)

Every suite's `run` has one signature:

    run(config, *, progress=True, device="cpu", executor="local", cache=None, **extra) -> Result

`device=None` picks CUDA when available; `executor` ("local" | "ray" | an `Executor`) decides
where the grid's independent cells run (and so where progress shows); `cache` is where the run
keeps intermediate artifacts of its own (ACE's trained models, robustness's embeddings; the others
ignore it). `run_cached` puts the whole result in the artifact cache under a key of (result kind,
config, code version); the code version covers the source of every `workbench` module the suite
imports and the versions of the libraries that compute it (`workbench.core.fingerprint`).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import torch

from workbench.core.cache import ArtifactCache
from workbench.core.executor import Executor
from workbench.core.fingerprint import code_fingerprint
from workbench.core.result import Result
from workbench.core.seeding import choose_device

SUITE_NAMES = ("ace", "capacity", "goldilocks", "robustness")
CacheLike = ArtifactCache | str | os.PathLike | None


@dataclass(frozen=True)
class Suite:
    """What a suite is, for everything that runs one.

    name: the package under `workbench` ("capacity", …).
    config: the frozen config class; `config()` is the full default, `config.quick()` the QUICK one.
    result: the `Result` subclass `run` returns.
    run: `run(config, *, progress, device, executor, cache, **extra) -> result`.
    summarize: result -> the JSON-able measurements the docs quote.
    figures_module: the `workbench.plots` module whose `all_figures(result)` makes the figures
        (plots sit beside suites and import them, so the suite names its module instead).
    """

    name: str
    config: type
    result: type[Result]
    run: Callable[..., Result]
    summarize: Callable[[Any], dict[str, Any]]
    figures_module: str

    @property
    def package(self) -> str:
        return f"workbench.{self.name}"

    def quick(self) -> Any:
        """The QUICK config (seconds: tests, CI, QUICK notebooks)."""
        return self.config.quick()

    def full(self) -> Any:
        """The full default config (what the docs report)."""
        return self.config()

    def figures(self, result: Result) -> dict[str, go.Figure]:
        """{file stem: figure} of every figure the docs page shows."""
        return importlib.import_module(self.figures_module).all_figures(result)

    def code_version(self, root: Path | None = None) -> str:
        """The code part of this suite's cache keys: its package and every module it imports, plus
        library versions. `root` reads the source from another checkout (tests)."""
        return code_fingerprint([self.package], root=root)

    def check_config(self, config: Any) -> Any:
        if not isinstance(config, self.config):
            raise ValueError(f"`config` must be a {self.config.__name__} for suite {self.name!r}; "
                             f"got {type(config).__name__}")
        return config


def get_suite(name: str | Suite) -> Suite:
    """The registered suite called `name` (a `Suite` is returned as it is)."""
    if isinstance(name, Suite):
        return name
    if name not in SUITE_NAMES:
        raise ValueError(f"`suite` must be one of {list(SUITE_NAMES)}; got {name!r}")
    suite = importlib.import_module(f"workbench.{name}").SUITE
    if not isinstance(suite, Suite):
        raise TypeError(f"workbench.{name}.SUITE is not a Suite")  # a packaging bug, not user input
    return suite


def suites() -> dict[str, Suite]:
    """Every registered suite by name (importing each package)."""
    return {name: get_suite(name) for name in SUITE_NAMES}


def as_cache(cache: CacheLike) -> ArtifactCache:
    """An `ArtifactCache` from a cache, a folder path, or None (`$WORKBENCH_CACHE` or ~/.cache)."""
    if isinstance(cache, ArtifactCache):
        return cache
    if cache is None or isinstance(cache, (str, os.PathLike)):
        return ArtifactCache(cache)
    raise ValueError(f"`cache` must be an ArtifactCache, a folder path or None; got {type(cache).__name__}")


def run_cached(
    suite: str | Suite,
    config: Any,
    *,
    cache: CacheLike = None,
    progress: bool = True,
    device: str | torch.device | None = "cpu",
    executor: str | Executor = "local",
    **extra: Any,
) -> Result:
    """`suite.run(config, …)` through the artifact cache: the saved result when the key matches,
    else run, save atomically and return. The device and the executor do not enter the key (they
    change where the work runs, not what it computes); `extra` goes to `run` (e.g. capacity's
    `on_step`)."""
    suite = get_suite(suite)
    suite.check_config(config)
    choose_device(device)  # a bad device is named now, not after a cache miss's first minutes
    store = as_cache(cache)
    return store.get_or_build(
        suite.result, config, suite.code_version(),
        lambda: suite.run(config, progress=progress, device=device, executor=executor, cache=store, **extra),
    )

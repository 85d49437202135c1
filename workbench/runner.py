"""The one cached path every caller takes: reproduce, the GPU check, the panels, the notebooks and
the tests run a suite through `run_cached`.

    from workbench.runner import run_cached
    result = run_cached("capacity", config)          # or run_cached(suite, config)

`run_cached` puts the whole result in the artifact cache under a key of (result kind, config, code
version); the code version covers the source of every `workbench` module the suite imports and the
versions of the libraries that compute it (`workbench.core.fingerprint`).
"""

from __future__ import annotations

import os
from typing import Any

import torch

from workbench.core.cache import ArtifactCache
from workbench.core.executor import Executor
from workbench.core.result import Result
from workbench.core.seeding import choose_device
from workbench.registry import get_suite
from workbench.suite import Suite

CacheLike = ArtifactCache | str | os.PathLike | None


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
    else run, save atomically and return. `suite` is a registered name or a `Suite`. The device
    and the executor do not enter the key (they change where the work runs, not what it
    computes); `extra` goes to `run` (e.g. capacity's `on_step`)."""
    suite = get_suite(suite)
    suite.check_config(config)
    choose_device(device)  # a bad device is named now, not after a cache miss's first minutes
    store = as_cache(cache)
    return store.get_or_build(
        suite.result, config, suite.code_version(),
        lambda: suite.run(config, progress=progress, device=device, executor=executor, cache=store, **extra),
    )

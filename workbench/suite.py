"""The suite contract: what a suite is, for everything that runs one. Nothing else lives here —
the list of suites is `workbench.registry`, the cached runner `workbench.runner`.

Every suite's `run` has one signature:

    run(config, *, progress=True, device="cpu", executor="local", cache=None, **extra) -> Result

`device=None` picks CUDA when available; `executor` ("local" | "ray" | an `Executor`) decides
where the grid's independent cells run (and so where progress shows); `cache` is where the run
keeps intermediate artifacts of its own (ACE's trained models, robustness's embeddings; the others
ignore it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from workbench.core.fingerprint import code_fingerprint
from workbench.core.result import Result


@dataclass(frozen=True)
class Suite:
    """One suite, as reproduce, the GPU check, the panels and the tests see it.

    name: the package under `workbench` ("capacity", …); also the docs page, the figures folder
        and the notebooks folder.
    config: the frozen config class; `config()` is the full default, `config.quick()` the QUICK one.
    result: the `Result` subclass `run` returns.
    run: `run(config, *, progress, device, executor, cache, **extra) -> result`.
    summarize: result -> the JSON-able measurements the docs quote.
    figures: result -> {file stem: figure} of every figure the docs page shows (the suite's
        `workbench.plots.<name>.all_figures`).
    claims: measurements -> the Markdown claims table of its docs page (`workbench.core.claims`;
        None: the page's table is not yet rendered from measurements).
    """

    name: str
    config: type
    result: type[Result]
    run: Callable[..., Result]
    summarize: Callable[[Any], dict[str, Any]]
    figures: Callable[[Any], dict[str, go.Figure]]
    claims: Callable[[dict[str, Any]], str] | None = None

    @property
    def package(self) -> str:
        return f"workbench.{self.name}"

    def quick(self) -> Any:
        """The QUICK config (seconds: tests, CI, QUICK notebooks)."""
        return self.config.quick()

    def full(self) -> Any:
        """The full default config (what the docs report)."""
        return self.config()

    def code_version(self, root: Path | None = None) -> str:
        """The code part of this suite's cache keys: its package and every module it imports, plus
        library versions. `root` reads the source from another checkout (tests)."""
        return code_fingerprint([self.package], root=root)

    def check_config(self, config: Any) -> Any:
        """`config` itself when it is this suite's config class; a ValueError naming it otherwise."""
        if not isinstance(config, self.config):
            raise ValueError(f"`config` must be a {self.config.__name__} for suite {self.name!r}; "
                             f"got {type(config).__name__}")
        return config

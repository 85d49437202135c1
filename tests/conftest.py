"""Shared fixtures: an isolated artifact cache, and each suite's QUICK result computed once per
session (through `workbench.runner.run_cached`, into the session cache that notebooks reuse).

`make test` runs the tests in two pytest-xdist workers (`-n 2`): each test file is one work unit
(`pytest_xdist_make_scheduler`), so a file's module fixtures are built once, on one worker; the
browser tests share one unit (one JupyterLab server) and so do the tests that start a local Ray
runtime. The workers share
one artifact cache (its writes are atomic renames, `workbench.core.atomic`), so a QUICK result one
worker computed the other loads; and each worker computes on one torch thread, since two workers
of two threads each on 2 cores spin-wait on each other (`workbench.core.threads`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from workbench.core.cache import ArtifactCache
from workbench.core.result import Result
from workbench.plots.export import DOCS_ENV
from workbench.registry import get_suite
from workbench.runner import run_cached


@pytest.fixture(autouse=True)
def _isolated_cache(session_cache: ArtifactCache, session_docs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's ~/.cache: WORKBENCH_CACHE is the session cache; and no
    export (a notebook's `panel.export()`, a panel's button) writes into the repository's docs:
    WORKBENCH_DOCS is a session folder. Kernels the tests start inherit both."""
    monkeypatch.setenv("WORKBENCH_CACHE", str(session_cache.root))
    monkeypatch.setenv(DOCS_ENV, str(session_docs))


@pytest.fixture(scope="session")
def session_docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The docs figures root exports go to during the tests."""
    return tmp_path_factory.getbasetemp() / "docs_figures"


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> ArtifactCache:
    """One cache folder for the whole session, shared by the xdist workers (their base folders sit
    side by side in the run's folder): QUICK results are computed once, then loaded."""
    base = tmp_path_factory.getbasetemp()
    return ArtifactCache((base.parent if _xdist_worker() else base) / "cache")


def _xdist_worker() -> str | None:
    return os.environ.get("PYTEST_XDIST_WORKER")


# test files that must share a worker: one JupyterLab server, one local Ray runtime
SHARED_GROUPS = {"tests/browser/": "browser", "tests/unit/core/test_executor.py": "ray",
                 "tests/unit/core/test_ray_exposure.py": "ray"}


def test_group(nodeid: str) -> str:
    """The xdist work unit a test belongs to: its file, or its SHARED_GROUPS group."""
    path = nodeid.split("::")[0]
    return next((group for prefix, group in SHARED_GROUPS.items() if path.startswith(prefix)), path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Under `-n`, whole files (and the SHARED_GROUPS) go to one worker: a file's module fixtures are
    built once. (xdist's own `--dist loadgroup` marks did not group under pytest 9 here.)"""
    from xdist.scheduler import LoadScopeScheduling

    class FileGroups(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return test_group(nodeid)

    return FileGroups(config, log)


def pytest_configure(config: pytest.Config) -> None:
    if _xdist_worker():
        torch.set_num_threads(1)


@pytest.fixture(scope="session")
def quick_of(session_cache: ArtifactCache) -> Callable[[str], Result]:
    """`quick_of("capacity")`: that suite's QUICK result, from the session cache."""
    def get(name: str) -> Result:
        return run_cached(name, get_suite(name).quick(), cache=session_cache, progress=False)
    return get


def _quick_fixture(name: str):
    """A session fixture holding suite `name`'s QUICK result."""
    @pytest.fixture(scope="session")
    def fixture(quick_of) -> Result:
        return quick_of(name)
    fixture.__doc__ = f"The {name} suite's QUICK result (session cache)."
    return fixture


quick_result = _quick_fixture("capacity")
gl_quick = _quick_fixture("goldilocks")
ace_quick = _quick_fixture("ace")
robustness_quick = _quick_fixture("robustness")


@pytest.fixture
def cache(tmp_path) -> ArtifactCache:
    return ArtifactCache(tmp_path / "cache")

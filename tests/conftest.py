"""Shared fixtures: an isolated artifact cache, and each suite's QUICK result computed once per
session (through `workbench.runner.run_cached`, into the session cache that notebooks reuse)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

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
    """One cache folder for the whole session: QUICK results are computed once, then loaded."""
    return ArtifactCache(tmp_path_factory.getbasetemp() / "cache")


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

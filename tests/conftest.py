"""Shared fixtures: an isolated artifact cache, and each suite's QUICK result computed once per
session (through `workbench.suite.run_cached`, into the session cache that notebooks reuse)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from workbench.ace import AceResult
from workbench.capacity import CapacityResult
from workbench.goldilocks import GoldilocksResult
from workbench.robustness import RobustnessResult
from workbench.suite import get_suite, run_cached
from workbench.tensor.cache import ArtifactCache
from workbench.tensor.result import Result


@pytest.fixture(autouse=True)
def _isolated_cache(session_cache: ArtifactCache, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's ~/.cache: WORKBENCH_CACHE is the session cache."""
    monkeypatch.setenv("WORKBENCH_CACHE", str(session_cache.root))


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


@pytest.fixture(scope="session")
def quick_result(quick_of) -> CapacityResult:
    return quick_of("capacity")


@pytest.fixture(scope="session")
def gl_quick(quick_of) -> GoldilocksResult:
    return quick_of("goldilocks")


@pytest.fixture(scope="session")
def ace_quick(quick_of) -> AceResult:
    return quick_of("ace")


@pytest.fixture(scope="session")
def robustness_quick(quick_of) -> RobustnessResult:
    return quick_of("robustness")


@pytest.fixture
def cache(tmp_path) -> ArtifactCache:
    return ArtifactCache(tmp_path / "cache")

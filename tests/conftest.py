"""Shared fixtures: an isolated artifact cache and one QUICK capacity result per session."""

from __future__ import annotations

import pytest

from workbench.capacity import CapacityConfig, CapacityResult, run
from workbench.tensor.cache import ArtifactCache


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's ~/.cache."""
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def quick_result() -> CapacityResult:
    return run(CapacityConfig.quick(), progress=False)


@pytest.fixture
def cache(tmp_path) -> ArtifactCache:
    return ArtifactCache(tmp_path / "cache")

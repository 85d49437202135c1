"""The shared core: suite-agnostic torch utilities (validation, seeding, atomic I/O, results,
the artifact cache, ensembles). Knows nothing of features, refusal, radii or stories."""

from workbench.tensor.atomic import atomic_dir, atomic_file
from workbench.tensor.cache import ArtifactCache, cache_key, default_cache_dir
from workbench.tensor.ensemble import EnsembleGrid, train_ensemble
from workbench.tensor.result import ArtifactError, Result, expect_shape
from workbench.tensor.seeding import choose_device, seed_everything

__all__ = [
    "ArtifactCache",
    "ArtifactError",
    "EnsembleGrid",
    "Result",
    "atomic_dir",
    "atomic_file",
    "cache_key",
    "choose_device",
    "default_cache_dir",
    "expect_shape",
    "seed_everything",
    "train_ensemble",
]

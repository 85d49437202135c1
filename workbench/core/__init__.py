"""Runtime services every layer shares: config validation, seeding and device choice, atomic
writes, `Result` save/load, the artifact cache and its code fingerprint, thread policy, executors,
paths. No math lives here (that is `workbench.tensor`), and nothing here imports the rest of
`workbench`, so a widget or a script may use it without reaching into the math."""

from workbench.core.atomic import atomic_dir, atomic_file
from workbench.core.cache import ArtifactCache, cache_key, default_cache_dir
from workbench.core.result import ArtifactError, Result, expect_shape
from workbench.core.seeding import choose_device, seed_everything

__all__ = [
    "ArtifactCache",
    "ArtifactError",
    "Result",
    "atomic_dir",
    "atomic_file",
    "cache_key",
    "choose_device",
    "default_cache_dir",
    "expect_shape",
    "seed_everything",
]

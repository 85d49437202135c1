"""An artifact cache: results keyed by a hash of (kind, config, code fingerprint).

The code version is a fingerprint of the source the computation imports (see
`workbench.core.fingerprint`), so editing the algorithm — or the shared core under it —
invalidates old entries without anyone bumping a version by hand. A corrupt or
foreign-shaped entry is reported (a warning naming the file and the reason) and rebuilt, never
silently used.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from workbench.core.paths import check_output_dir, expand_path
from workbench.core.result import ArtifactError, Result, config_to_dict
from workbench.core.validation import rules_of

R = TypeVar("R", bound=Result)

CACHE_ENV = "WORKBENCH_CACHE"


def default_cache_dir() -> Path:
    """`$WORKBENCH_CACHE` (with `~` and `$VARS` expanded), else `~/.cache/interp-workbench`."""
    env = os.environ.get(CACHE_ENV)
    return expand_path(CACHE_ENV, env) if env else Path.home() / ".cache" / "interp-workbench"


def cache_key(kind: str, config: Any, code_version: str) -> str:
    """Hash of the kind, the config's fields, what its path fields point at (`input_fingerprint`)
    and the code version (24 hex chars)."""
    payload = json.dumps({"kind": kind, "config": config_to_dict(config), "code": code_version,
                          "inputs": input_fingerprint(config)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def input_fingerprint(config: Any) -> dict[str, Any]:
    """{field: fingerprint} of the config's path fields (`Text(path=True)`) that exist: a file's
    sha256, a folder's listing (each file's relative name, size and mtime; hashing a model's
    gigabytes on every call would cost more than the lookup saves). A path holds only the name, so
    without this an edited prompt or data file, or a folder with new weights, would be served the
    result of the old one. {} for configs with no path fields set (the embedded defaults)."""
    out: dict[str, Any] = {}
    if not dataclasses.is_dataclass(config):
        return out
    for name, rule in rules_of(config).items():
        value = getattr(config, name)
        if not getattr(rule, "path", False) or not isinstance(value, str):
            continue
        path = expand_path(name, value)
        if path.is_file():
            out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_dir():
            out[name] = sorted((str(f.relative_to(path)), f.stat().st_size, f.stat().st_mtime_ns)
                               for f in path.rglob("*") if f.is_file())
    return out


class ArtifactCache:
    """Folder of saved `Result`s: `root/<kind>/<key>/`. `name` is what errors call the folder
    (the parameter or variable it came from)."""

    def __init__(self, root: str | os.PathLike | None = None, name: str = "cache") -> None:
        if root is None and os.environ.get(CACHE_ENV):
            name = CACHE_ENV
        self.name = name
        self.root = expand_path(name, root) if root is not None else default_cache_dir()

    def check_writable(self) -> Path:
        """Raise ValueError naming `self.name` unless the root can take new entries (see
        `check_output_dir`); what to call before computing something that will be saved here."""
        return check_output_dir(self.name, self.root)

    def path(self, result_cls: type[Result], config: Any, code_version: str) -> Path:
        """Where the entry for this config and code version lives (it may not exist yet)."""
        return self.root / result_cls.kind / cache_key(result_cls.kind, config, code_version)

    def get_or_build(
        self,
        result_cls: type[R],
        config: Any,
        code_version: str,
        build: Callable[[], R],
    ) -> R:
        """Load the cached result, or call `build()`, save its output atomically and return it.

        A miss checks that the root is writable BEFORE building. An entry that fails to load or
        validate (a wrong shape, NaN where the math needs finite numbers) is reported with its path
        and rebuilt. If saving still fails after the build, the result is saved to a fresh
        temporary folder instead (a warning gives its path) and returned — never lost."""
        path = self.path(result_cls, config, code_version)
        if path.exists():
            try:
                return result_cls.load(path)
            except (ArtifactError, FileNotFoundError) as err:
                warnings.warn(f"rejected cache entry {path}: {err}; rebuilding it", stacklevel=2)
                shutil.rmtree(path, ignore_errors=True)
        self.check_writable()
        result = build()
        try:
            result.save(path)
        except OSError as err:
            rescue = Path(tempfile.mkdtemp(prefix=f"workbench-{result_cls.kind}-"))
            result.save(rescue)
            warnings.warn(f"could not save to the cache ({self.name} {str(path)!r}: {err}); the result is kept "
                          f"in {str(rescue)!r} (load it with {result_cls.__name__}.load)", stacklevel=2)
        return result

"""Paths a user gives: `~` and `$VARS` expanded, and output folders checked BEFORE any compute —
a result must never be lost because the folder it goes to was a file, read-only or a dangling
link (a traceback after an hour of compute is the failure this prevents)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

_UNSET = re.compile(r"\$(\w+|\{[^}]*\})")
# the checkout the package runs from (an editable install): notebooks/ and docs/ live here
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def expand_path(name: str, value: str | os.PathLike) -> Path:
    """`value` with `~` and `$VAR` / `${VAR}` expanded; a variable that is not set is a ValueError
    naming `name` (os.path.expandvars would leave it in place and create a folder called "$X")."""
    text = os.path.expandvars(os.path.expanduser(os.fspath(value)))
    unset = _UNSET.search(text)
    if unset:
        raise ValueError(f"`{name}` {os.fspath(value)!r}: the environment variable {unset.group(0)} is not set")
    return Path(text)


def _first_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path(path.anchor or ".")


def check_output_dir(name: str, value: str | os.PathLike) -> Path:
    """The folder `value` (expanded), created if missing, after checking it can hold output: not a
    file, not a dangling link, and writable (a file is created in it and removed). Any failure is a
    ValueError naming `name` and the reason; call it before the compute whose output goes there."""
    path = expand_path(name, value)
    if path.is_symlink() and not path.exists():
        raise ValueError(f"`{name}` {str(path)!r} is a symbolic link to {os.readlink(path)!r}, which does not exist")
    if path.exists() and not path.is_dir():
        raise ValueError(f"`{name}` {str(path)!r} is a file, not a folder")
    if not path.exists():
        blocker = _first_existing(path)
        if blocker.exists() and not blocker.is_dir():
            raise ValueError(f"`{name}` {str(path)!r} cannot be created: {str(blocker)!r} is a file")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ValueError(f"`{name}` {str(path)!r} cannot be created: {err.strerror or err}") from err
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise ValueError(f"`{name}` {str(path)!r} is not writable: {err.strerror or err}") from err
    return path

"""Atomic writes: a reader sees the old file/folder or the new one, never half of one.

Everything is written to a temporary sibling first and moved into place with `os.replace`,
which is atomic on POSIX when source and target share a file system.

A process killed mid-write (SIGKILL, OOM, a closed laptop) leaves its temporary sibling behind.
Temporaries are named ``.<target>.<host>-<pid>.<random>.tmp``, so the next write into the same
folder removes the ones whose process is gone — only this host's (a shared cache on another
machine's live write is never touched), never one whose process still runs.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "host"
_STARTED = time.time()
# ours: .<name>.<host>-<pid>.<random>.tmp and .<name>.old-<host>-<pid>; before hosts and pids
# were in the name: .<name>.<random>.tmp (mkstemp/mkdtemp's 8 random characters)
_OURS = re.compile(r"^\..+\.(?:old-)?(?P<host>[A-Za-z0-9_-]+)-(?P<pid>\d+)(?:\.[A-Za-z0-9_]+\.tmp)?$")
_LEGACY = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _stale(entry: Path) -> bool:
    """Whether `entry` is a temporary sibling left by a write that can no longer finish."""
    match = _OURS.match(entry.name)
    if match:
        return match["host"] == _HOST and int(match["pid"]) != os.getpid() and not _alive(int(match["pid"]))
    try:  # an old-style name carries no pid: only what predates this process can be dead for sure
        return bool(_LEGACY.match(entry.name)) and entry.lstat().st_mtime < _STARTED
    except OSError:
        return False


def sweep_stale(folder: Path) -> list[Path]:
    """Remove the temporary siblings in `folder` that killed writes left behind; return them."""
    removed = []
    try:
        entries = [e for e in folder.iterdir() if e.name.startswith(".") and _stale(e)]
    except OSError:  # a folder we cannot list: nothing to sweep, and the write itself will say why
        return removed
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _tag() -> str:
    return f"{_HOST}-{os.getpid()}"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success move it onto `path`, on error delete it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{_tag()}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step (Linux renameat2 RENAME_EXCHANGE); False where the OS
    or file system cannot, so the caller falls back to two renames."""
    if sys.platform != "linux":
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # glibc < 2.28, musl
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary folder beside `path`; on success it replaces `path` whole.

    An existing `path` is swapped with the new folder in one atomic exchange (Linux), so a reader
    or a kill at any moment finds the old folder or the new one; the old one, now at the temporary
    name, is deleted after. Where the exchange is unsupported the old folder is moved aside first,
    leaving (between two renames) neither.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{_tag()}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if target.exists() and _exchange(tmp, target):
            return  # `tmp` now holds the old folder; `finally` deletes it
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{_tag()}")
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:  # an exchange with a plain file put that file here
            tmp.unlink(missing_ok=True)

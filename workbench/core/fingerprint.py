"""What a cached result depends on: the source of every module its computation imports, and the
versions of the libraries that compute it.

The cache key of a run must change whenever the code that computes it changes — including the
shared code (`workbench.core`, `workbench.tensor`, `workbench.lm`), not only the suite's own package. The import
graph is read statically (the AST of each file, every `import` / `from … import` at any depth,
function-level imports included), starting from a set of root modules and following imports that
stay inside `package` (default "workbench"). A module's parent packages count too: importing
`workbench.core.cache` executes `workbench/core/__init__.py`. The closure over-approximates
what one run executes (a module imported only by a branch not taken still counts), which errs on
the side of rebuilding, never of serving a stale result.

    modules = imported_modules(["workbench.capacity"])      # the package and all it reaches
    key_part = source_fingerprint(modules)                    # 16 hex chars
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

# Libraries whose code computes (or loads) what the suites cache: a new version may change a result.
LIBRARIES = ("torch", "transformers", "transformer-lens", "safetensors", "numpy")


def package_root(package: str = "workbench") -> Path:
    """The folder that holds `package/` (the import root of the installed or checked-out source)."""
    module = __import__(package)
    return Path(module.__file__).resolve().parent.parent


def module_file(name: str, root: Path) -> Path | None:
    """`root/a/b.py` or `root/a/b/__init__.py` for module `a.b`; None when neither exists."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _absolute(node: ast.ImportFrom, current: str, is_package: bool) -> str:
    """The absolute module a `from … import` names (relative levels resolved against `current`)."""
    if node.level == 0:
        return node.module or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(path: Path, name: str, package: str, root: Path, parents: bool) -> frozenset[str]:
    """The `package` modules file `path` (module `name`) imports (with their parent packages)."""
    stat = path.stat()  # parsing is the slow part: reuse it while the file is unchanged
    return _parsed_imports(path, stat.st_mtime_ns, stat.st_size, name, package, root, parents)


@lru_cache(maxsize=1024)
def _parsed_imports(path: Path, _mtime_ns: int, _size: int, name: str, package: str, root: Path,
                    parents: bool) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(node, name, is_package)
            found.add(target)
            # `from pkg import sub` imports the submodule `pkg.sub` when there is one
            found.update(f"{target}.{alias.name}" for alias in node.names
                         if module_file(f"{target}.{alias.name}", root) is not None)
    inside = {m for m in found if m == package or m.startswith(package + ".")}
    return frozenset(inside | {p for m in inside for p in _parents(m)} if parents else inside)


def imported_modules(roots: Iterable[str], package: str = "workbench", root: Path | None = None,
                     parents: bool = True) -> list[str]:
    """Every `package` module reachable from `roots` by imports (a root that is a package brings
    all of its own modules), sorted. Files are read under `root` (default: where `package` lives).

    `parents=False` leaves out the parent packages an import executes (their `__init__`s re-export
    names but compute nothing): the narrower reading for an artifact built by a few named modules."""
    root = package_root(package) if root is None else Path(root)
    todo: list[str] = []
    for name in roots:
        todo += [name, *(_parents(name) if parents else [])]
        file = module_file(name, root)
        if file is not None and file.name == "__init__.py":  # the whole package: every module in it
            todo += [".".join((*name.split("."), *p.relative_to(file.parent).with_suffix("").parts))
                     for p in sorted(file.parent.rglob("*.py")) if p.name != "__init__.py"]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        file = module_file(name, root)
        if file is None:
            continue  # a name imported from a module (a function, a class), not a module itself
        seen.add(name)
        todo += sorted(_imports(file, name, package, root, parents) - seen)
    return sorted(seen)


def source_fingerprint(modules: Iterable[str], root: Path | None = None, package: str = "workbench") -> str:
    """sha256 (16 hex chars) over each module's name and source, in sorted order."""
    root = package_root(package) if root is None else Path(root)
    digest = hashlib.sha256()
    for name in sorted(set(modules)):
        file = module_file(name, root)
        if file is None:
            raise ValueError(f"`modules` entry {name!r} is not a module under {root}")
        digest.update(name.encode() + b"\x00" + file.read_bytes() + b"\x00")
    return digest.hexdigest()[:16]


@lru_cache(maxsize=1)
def library_versions(libraries: tuple[str, ...] = LIBRARIES) -> str:
    """'torch=2.13.0;transformers=…' for the installed libraries ('absent' where one is not)."""
    parts = []
    for lib in libraries:
        try:
            version = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        parts.append(f"{lib}={version}")
    return ";".join(parts)


def code_fingerprint(roots: Iterable[str], root: Path | None = None, package: str = "workbench",
                     parents: bool = True) -> str:
    """The code part of a cache key: the source of everything `roots` import, and `LIBRARIES`'
    versions (16 hex chars)."""
    modules = imported_modules(roots, package, root, parents)
    return hashlib.sha256(f"{source_fingerprint(modules, root, package)}|{library_versions()}".encode()).hexdigest()[
        :16
    ]

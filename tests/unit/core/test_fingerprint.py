"""The cache key follows the code: editing any module a suite's run imports — its own package or
the shared core under it — changes the key; editing a module it does not import leaves it alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workbench.core.fingerprint import code_fingerprint, imported_modules, library_versions, package_root
from workbench.registry import SUITE_NAMES, get_suite
from workbench.runner import run_cached

# (suite, a shared-core module its run uses, a shared-core module it never imports)
USED_AND_UNUSED = [
    ("capacity", "tensor/ensemble.py", "tensor/curvature.py"),
    ("goldilocks", "tensor/curvature.py", "tensor/steering.py"),
    ("ace", "tensor/steering.py", "tensor/curvature.py"),
    ("ace", "lm/generate.py", "tensor/subspaces.py"),
    ("robustness", "tensor/stats.py", "lm/generate.py"),
]


@pytest.fixture(scope="module")
def copied(tmp_path_factory) -> Path:
    """A copy of the `workbench` source tree (fingerprints read files under a root folder)."""
    root = tmp_path_factory.mktemp("src")
    shutil.copytree(package_root() / "workbench", root / "workbench",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _touch(path: Path) -> str:
    original = path.read_text()
    path.write_text(original + "\n# an edit\n")
    return original


@pytest.mark.parametrize(("suite", "used", "unused"), USED_AND_UNUSED)
def test_editing_a_module_the_run_imports_changes_the_key(copied, suite, used, unused):
    s = get_suite(suite)
    before = s.code_version(root=copied)
    assert before == s.code_version()  # the copy reads as the original
    for rel, changes in ((used, True), (unused, False)):
        file = copied / "workbench" / rel
        original = _touch(file)
        try:
            assert (s.code_version(root=copied) != before) is changes, (suite, rel)
        finally:
            file.write_text(original)
    assert s.code_version(root=copied) == before


def test_every_suite_key_covers_its_package_the_core_it_uses_and_library_versions():
    for name in SUITE_NAMES:
        modules = imported_modules([f"workbench.{name}"])
        own = sorted(p.stem for p in (package_root() / "workbench" / name).glob("*.py") if p.stem != "__init__")
        assert all(f"workbench.{name}.{m}" in modules for m in own), name
        assert "workbench.core.cache" in modules and "workbench.core" in modules  # parents included
        assert "workbench.registry" not in modules and "workbench.runner" not in modules  # no way back up
        assert not any(m.startswith("workbench.plots") or m.startswith("widgets") for m in modules), name
    assert "workbench.lm.generate" in imported_modules(["workbench.ace"])
    assert "torch=" in library_versions() and "transformers=" in library_versions()


def test_relative_and_function_level_imports_are_followed(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..c import g\n    return g\n")
    (pkg / "c.py").write_text("g = 1\n")
    (pkg / "d.py").write_text("h = 2\n")  # imported by nobody
    assert imported_modules(["pkg.a"], package="pkg", root=tmp_path) == [
        "pkg",
        "pkg.a",
        "pkg.c",
        "pkg.sub",
        "pkg.sub.b",
    ]
    # `from .sub import b` names pkg.sub itself; only the implicit parent `pkg` is left out
    assert imported_modules(["pkg.a"], package="pkg", root=tmp_path, parents=False) == [
        "pkg.a",
        "pkg.c",
        "pkg.sub",
        "pkg.sub.b",
    ]
    before = code_fingerprint(["pkg.a"], root=tmp_path, package="pkg")
    (pkg / "d.py").write_text("h = 3\n")
    assert code_fingerprint(["pkg.a"], root=tmp_path, package="pkg") == before
    (pkg / "c.py").write_text("g = 2\n")
    assert code_fingerprint(["pkg.a"], root=tmp_path, package="pkg") != before


def test_a_changed_key_rebuilds_instead_of_serving_the_old_result(cache, monkeypatch):
    suite = get_suite("capacity")
    config = suite.quick().grid_only(steps=5)
    first = run_cached(suite, config, cache=cache, progress=False)
    assert run_cached(suite, config, cache=cache, progress=False).train_seconds == first.train_seconds  # loaded
    monkeypatch.setattr(type(suite), "code_version", lambda self, root=None: "edited-core")
    run_cached(suite, config, cache=cache, progress=False)
    assert len(list((cache.root / "CapacityResult").iterdir())) == 2


def test_run_cached_refuses_a_config_of_another_suite(cache):
    with pytest.raises(ValueError, match="`config` must be a CapacityConfig"):
        run_cached("capacity", get_suite("goldilocks").quick(), cache=cache)
    with pytest.raises(ValueError, match="`suite` must be one of"):
        run_cached("nope", None, cache=cache)

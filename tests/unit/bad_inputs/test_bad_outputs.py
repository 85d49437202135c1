"""Output locations and results that must never cost a computation: a cache / --out / export folder
that is a file, a dangling link, read-only or under an unset variable fails BEFORE the compute,
naming the option; `~` and `$VARS` expand; a save that fails after the compute keeps the result;
a NaN cache entry is reported and rebuilt; a run that diverges names the config field; killed
writes' temporaries are swept, live ones never."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.unit.bad_inputs.support import capacity_result, rejects
from workbench.ace import AceConfig
from workbench.capacity import CapacityConfig, CapacityResult
from workbench.cli import main
from workbench.core import atomic
from workbench.core.cache import CACHE_ENV, ArtifactCache, default_cache_dir
from workbench.core.paths import check_output_dir
from workbench.plots.export import export
from workbench.runner import run_cached

CONFIG = CapacityConfig.quick()


def _never() -> CapacityResult:
    raise AssertionError("the computation started before the output folder was checked")


@pytest.fixture
def places(tmp_path) -> dict[str, Path]:
    """A file, a dangling link and an unreadable-for-writing folder, each where a folder should be."""
    file = tmp_path / "a-file"
    file.write_text("x")
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "gone")
    return {"file": file, "under a file": file / "sub", "dangling link": dangling}


def test_a_cache_that_cannot_hold_entries_fails_before_the_compute(places):
    for case, path in places.items():
        rejects(
            "cache",
            f"cache {case}",
            path,
            lambda: ArtifactCache(path).get_or_build(CapacityResult, CONFIG, "v", _never),
        )
        rejects("cache", f"run_cached cache {case}", path,
                lambda: run_cached("capacity", CONFIG, cache=path, progress=False, on_step=lambda *_: _never()))


def test_a_read_only_cache_fails_before_the_compute(tmp_path, monkeypatch):
    def refuse(*_a, **_k):  # the tests run as root, for whom chmod 0o500 changes nothing
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("workbench.core.paths.tempfile.mkstemp", refuse)
    with pytest.raises(ValueError, match="`cache` .* is not writable: Permission denied"):
        ArtifactCache(tmp_path).get_or_build(CapacityResult, CONFIG, "v", _never)


def test_the_cache_variable_is_named_and_expanded(tmp_path, monkeypatch, places):
    monkeypatch.setenv(CACHE_ENV, str(places["file"]))
    rejects(CACHE_ENV, "WORKBENCH_CACHE a file", places["file"],
            lambda: ArtifactCache().get_or_build(CapacityResult, CONFIG, "v", _never))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WB_PART", "cache-here")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(CACHE_ENV, "~/x/$WB_PART")
    assert default_cache_dir() == tmp_path / "home" / "x" / "cache-here"
    ArtifactCache().get_or_build(type(capacity_result(CONFIG)), CONFIG, "v", lambda: capacity_result(CONFIG))
    assert (tmp_path / "home" / "x" / "cache-here").is_dir() and not (tmp_path / "~").exists()
    monkeypatch.setenv(CACHE_ENV, "$WB_UNSET_VARIABLE/cache")
    monkeypatch.delenv("WB_UNSET_VARIABLE", raising=False)
    rejects(CACHE_ENV, "WORKBENCH_CACHE unset variable", "$WB_UNSET_VARIABLE", lambda: ArtifactCache())


def test_cli_out_and_cache_fail_before_any_suite_computes(places, tmp_path, capsys):
    for case, path in places.items():
        assert (
            main(["reproduce", "--suite", "capacity", "--quick", "--out", str(path), "--cache", str(tmp_path / "c")])
            == 2
        )
        assert "`--out`" in capsys.readouterr().err, case
        assert (
            main(["reproduce", "--suite", "capacity", "--quick", "--out", str(tmp_path / "o"), "--cache", str(path)])
            == 2
        )
        assert "`--cache`" in capsys.readouterr().err, case
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").rglob("result.json"))


def test_an_export_folder_that_is_a_file_fails_before_rendering(places):
    import plotly.graph_objects as go

    for case, path in places.items():
        rejects("path", f"export into {case}", path, lambda: export(go.Figure(), path / "fig"))


def test_a_save_that_fails_after_the_compute_keeps_the_result(tmp_path, monkeypatch):
    real_save = CapacityResult.save
    calls = []

    def flaky(self, path):
        calls.append(Path(path))
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return real_save(self, path)

    monkeypatch.setattr(CapacityResult, "save", flaky)
    with pytest.warns(UserWarning, match="could not save to the cache .*No space left.* the result is kept in"):
        result = ArtifactCache(tmp_path).get_or_build(CapacityResult, CONFIG, "v", lambda: capacity_result(CONFIG, 1.0))
    assert float(result.W.mean()) == 1.0
    assert float(CapacityResult.load(calls[1]).W.mean()) == 1.0  # the rescued copy loads


def test_a_nan_cache_entry_is_reported_with_its_path_and_rebuilt(tmp_path):
    cache = ArtifactCache(tmp_path)
    entry = cache.path(CapacityResult, CONFIG, "v")
    capacity_result(CONFIG, 1.0).save(entry)
    tensors = load_file(str(entry / "tensors.safetensors"))
    tensors["W"] = torch.full_like(tensors["W"], float("nan"))
    save_file(tensors, str(entry / "tensors.safetensors"))
    with pytest.warns(UserWarning, match=f"rejected cache entry {entry}: .*tensor `W` holds \\d+ non-finite"):
        again = cache.get_or_build(CapacityResult, CONFIG, "v", lambda: capacity_result(CONFIG, 2.0))
    assert float(again.W.mean()) == 2.0 and float(CapacityResult.load(entry).W.mean()) == 2.0


def test_runs_that_would_go_non_finite_name_the_config_field(tmp_path):
    rejects("alphas", "ACE alpha overflowing float32", 1e300, lambda: AceConfig(alphas=(0.0, 1.0, 1e300)))
    diverging = replace(CONFIG, lr=1e30, d_sweep=(), relu_feature_prob=())
    rejects(
        "lr",
        "capacity lr that diverges",
        1e30,
        lambda: run_cached("capacity", diverging, cache=tmp_path, progress=False),
    )
    with pytest.raises(ValueError, match="tensor `W` holds 1 non-finite .* config's `lr` and `steps`"):
        W = torch.zeros(len(CONFIG.kurtosis), len(CONFIG.decay), CONFIG.seeds, CONFIG.d, CONFIG.n)
        W.view(-1)[0] = float("inf")
        replace(capacity_result(CONFIG), W=W)


def test_summaries_are_strict_json():
    from workbench.reproduce import strict_json

    text = json.dumps(strict_json({"rate": float("nan"), "rows": [1.0, float("inf")], "n": 3}), allow_nan=False)
    assert json.loads(text) == {"rate": None, "rows": [1.0, None], "n": 3}


def test_killed_writes_are_swept_and_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    host = atomic._HOST
    stale = [tmp_path / f".entry.{host}-{dead_pid}.abcd1234.tmp", tmp_path / f".entry.old-{host}-{dead_pid}"]
    live = [tmp_path / f".entry.{host}-{os.getppid()}.abcd1234.tmp",   # a live process's write
            tmp_path / f".entry.otherhost-{dead_pid}.abcd1234.tmp"]    # another machine's, on a shared cache
    legacy = tmp_path / ".entry.k3j4h5g6.tmp"
    for path in (*stale, *live, legacy):
        path.mkdir()
        (path / "half.bin").write_bytes(b"x")
    os.utime(legacy, (0, 0))  # from before this process started
    with atomic.atomic_dir(tmp_path / "entry") as out:
        (out / "done").write_text("ok")
    assert not any(p.exists() for p in (*stale, legacy))
    assert all(p.exists() for p in live) and (tmp_path / "entry" / "done").is_file()


def test_check_output_dir_creates_missing_folders(tmp_path):
    assert check_output_dir("out", tmp_path / "a" / "b").is_dir()

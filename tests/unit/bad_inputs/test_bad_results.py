"""Saved results and cache entries that are missing, truncated, foreign or of another shape fail
with an error naming `path`; a save killed at any moment leaves the old result or the new one,
never half of one."""

from __future__ import annotations

import json
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from tests.unit.bad_inputs.support import (
    FEW,
    JSON,
    capacity_result,
    copy_of,
    rejects,
)
from workbench.ace import AceResult
from workbench.capacity import CapacityConfig, CapacityResult
from workbench.core.cache import ArtifactCache
from workbench.goldilocks import GoldilocksResult
from workbench.robustness import RobustnessResult


def test_loading_missing_or_wrongly_typed_paths(tmp_path, saved):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    for path in (tmp_path / "nothing", tmp_path / "empty", tmp_path / "file", saved["capacity"] / "result.json"):
        assert rejects("path", "Result.load missing", path, lambda: CapacityResult.load(path)) is FileNotFoundError
    for path in (None, 3, ["a"], ""):
        rejects("path", "Result.load type", path, lambda: CapacityResult.load(path))

@pytest.mark.parametrize("cls, folder", [(GoldilocksResult, "capacity"), (AceResult, "capacity"),
                                         (RobustnessResult, "capacity"), (CapacityResult, "goldilocks")])
def test_another_suites_result_folder_is_rejected(cls, folder, saved):
    rejects("path", f"{cls.kind}.load", folder, lambda: cls.load(saved[folder]))

@FEW
@given(keep=st.floats(0.0, 1.0, exclude_max=True), file=st.sampled_from(["tensors.safetensors", "result.json"]))
def test_a_truncated_result_file_is_rejected(saved, keep, file):
    with copy_of(saved["capacity"]) as folder:
        raw = (folder / file).read_bytes()
        (folder / file).write_bytes(raw[: int(keep * len(raw))])
        rejects("path", f"truncated {file}", (file, int(keep * len(raw))), lambda: CapacityResult.load(folder))

@FEW
@given(key=st.sampled_from(["kind", "format", "config", "values", "tensors"]), value=JSON)
def test_a_foreign_result_json_is_rejected(saved, key, value):
    """A top-level entry of result.json replaced by another JSON value (objects only where no
    object could be right by chance: kind and format)."""
    with copy_of(saved["capacity"]) as folder:
        meta = json.loads((folder / "result.json").read_text())
        if value == meta[key] or (isinstance(value, dict) and key in ("config", "values", "tensors")):
            value = [value]
        meta[key] = value
        (folder / "result.json").write_text(json.dumps(meta))
        rejects("path", f"result.json[{key}]", value, lambda: CapacityResult.load(folder))

@pytest.mark.parametrize("edit", [
    pytest.param(lambda m: m["values"].update(train_seconds="slow"), id="value-of-another-type"),
    pytest.param(lambda m: m["values"].pop("train_seconds"), id="value-missing"),
    pytest.param(lambda m: m["tensors"].pop("W"), id="tensor-unrecorded"),
    pytest.param(lambda m: m["tensors"].update(W=[1, 2, 3]), id="tensor-recorded-shape"),
    pytest.param(lambda m: m["tensors"].update(W=[-1]), id="negative-size"),
    pytest.param(lambda m: m["config"].update(n=9), id="config-of-another-shape"),
    pytest.param(lambda m: m["config"].update(colour="red"), id="config-unknown-field"),
    pytest.param(lambda m: m.update(config=None), id="config-null"),
])
def test_a_result_json_of_another_shape_is_rejected(saved, edit, request):
    with copy_of(saved["capacity"]) as folder:
        meta = json.loads((folder / "result.json").read_text())
        edit(meta)
        (folder / "result.json").write_text(json.dumps(meta))
        rejects("path", "result.json edited", request.node.callspec.id, lambda: CapacityResult.load(folder))

def test_tensors_of_another_config_are_rejected(saved):
    """The tensor file of an n=9 run under the n=8 result.json (recorded shapes differ), then with
    result.json's recorded shapes rewritten to match (only the config's implied shapes differ)."""
    with copy_of(saved["capacity"]) as folder:
        shutil.copy(saved["capacity_n9"] / "tensors.safetensors", folder / "tensors.safetensors")
        rejects("path", "foreign tensors", "n9", lambda: CapacityResult.load(folder))
        meta = json.loads((folder / "result.json").read_text())
        meta["tensors"] = json.loads((saved["capacity_n9"] / "result.json").read_text())["tensors"]
        (folder / "result.json").write_text(json.dumps(meta))
        rejects("path", "foreign tensors, consistent json", "n9", lambda: CapacityResult.load(folder))
        tensors = load_file(str(folder / "tensors.safetensors"))
        del tensors["W"]
        save_file(tensors, str(folder / "tensors.safetensors"))
        rejects("path", "tensor missing", "W", lambda: CapacityResult.load(folder))

def test_a_foreign_cache_entry_is_reported_and_rebuilt(tmp_path, saved):
    cache = ArtifactCache(tmp_path)
    config = CapacityConfig.quick()
    entry = cache.path(CapacityResult, config, "v1")
    shutil.copytree(saved["goldilocks"], entry)
    with pytest.warns(UserWarning, match="rejected cache entry"):
        again = cache.get_or_build(CapacityResult, config, "v1", lambda: capacity_result(config, 1.0))
    assert float(again.W.mean()) == 1.0 and float(CapacityResult.load(entry).W.mean()) == 1.0

# --- the kill-during-save test ------------------------------------------------------------------------
BIG = dict(
    n=1024, d=512, kurtosis=(2.0,), decay=(0.9,), seeds=8, d_sweep=(), sweep_kurtosis=(2.0,), relu_feature_prob=()
)
CHILD = f"""
import sys
from workbench.capacity import CapacityConfig, CapacityResult
import torch
c = CapacityConfig(**{BIG!r})
K, L, S, Q = 1, 1, c.seeds, 1
full = lambda *shape: torch.full(shape, 2.0)
new = CapacityResult(config=c, W=full(K, L, S, c.d, c.n), loss=full(K, L, S), sweep_W=full(0, Q, S, 1, c.n),
                     sweep_loss=full(0, Q, S), relu_W=full(0, S, c.d, c.n), relu_b=full(0, S, c.n),
                     relu_loss=full(0, S), paired_W=full(0, S, c.d, c.n), paired_loss=full(0, S), train_seconds=2.0)
print("ready", flush=True)
while True:
    new.save(sys.argv[1])
    print("saved", flush=True)
"""

def _read_line(proc: subprocess.Popen, timeout: float = 120.0) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "the saving subprocess did not report in time"
    return proc.stdout.readline().decode().strip()

def _kill_while_saving(target: Path, delay: float, after_a_save: bool) -> None:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(target)], stdout=subprocess.PIPE)
    try:
        assert _read_line(proc) == "ready"
        if after_a_save:
            assert _read_line(proc) == "saved"
        time.sleep(delay)
        assert proc.poll() is None, "the saving subprocess died by itself"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()

def test_a_save_killed_at_any_moment_leaves_the_old_or_the_new_result(tmp_path):
    """SIGKILL a process saving a 16 MB result over an older one: the folder then loads whole, as
    the old (1.0) or the new (2.0) result, its JSON and tensors from the same save; once a save
    finished, only the new. Leftovers are hidden temp folders beside it, never inside it."""
    target, rng = tmp_path / "result", Random(0)
    for i in range(5):
        start = time.perf_counter()
        capacity_result(CapacityConfig(**BIG), fill=1.0, seconds=1.0).save(target)
        one_save = time.perf_counter() - start  # kills within two saves land before, in and after one
        after_a_save = i >= 3
        _kill_while_saving(target, rng.uniform(0.0, 2 * one_save), after_a_save)
        back = CapacityResult.load(target)
        fill = float(back.W.flatten()[0])
        assert fill in ((2.0,) if after_a_save else (1.0, 2.0))
        assert bool((back.W == fill).all()) and back.train_seconds == fill, "JSON and tensors of different saves"
        assert sorted(p.name for p in target.iterdir()) == ["result.json", "tensors.safetensors"]
        strays = [p.name for p in tmp_path.iterdir() if p != target]
        assert all(re.fullmatch(r"\.result\.(.+\.tmp|old-\d+)", s) for s in strays), strays

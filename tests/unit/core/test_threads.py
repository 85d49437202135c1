"""The thread policy (`workbench.core.threads`): its rule, and that every suite's `run` computes
under it — the count is read from inside the suite's own compute, then the run is stopped there."""

from __future__ import annotations

import dataclasses
import json
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from workbench.core import threads
from workbench.core.threads import SMALL_WORK, compute_threads, folder_parameters, thread_policy, torch_threads

OUTER = 3  # a count neither the policy (1) nor this 2-core machine's default (2) would give


class _Stop(Exception):
    """Raised from inside a suite's compute once the thread count is recorded."""


@pytest.fixture
def outer_threads() -> Iterator[None]:
    """Torch at OUTER threads around the test, the old count back after."""
    old = torch.get_num_threads()
    torch.set_num_threads(OUTER)
    yield
    torch.set_num_threads(old)


def test_torch_threads_sets_and_restores(outer_threads):
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == OUTER
    with torch_threads(None):
        assert torch.get_num_threads() == OUTER
    with pytest.raises(ValueError, match="`threads`"):
        with torch_threads(0):
            pass


def test_lm_keeps_torch_threads_importable():
    from workbench.lm import torch_threads as from_lm
    from workbench.lm.train import torch_threads as from_train

    assert from_lm is torch_threads and from_train is torch_threads


@pytest.mark.parametrize("device, work, expected", [
    ("cpu", 0, 1), ("cpu", 22_713_728, 1), (torch.device("cpu"), SMALL_WORK - 1, 1),
    ("cpu", SMALL_WORK, None), ("cpu", None, None),     # large or unknown work: torch's setting
    ("cuda", 1000, None), ("cuda:1", 1000, None), ("mps", 1000, None),  # threads only matter on the CPU
])
def test_the_rule(device, work, expected):
    assert compute_threads(device, work) == expected


def test_device_none_means_cuda_when_available():
    assert compute_threads(None, 1000) == (None if torch.cuda.is_available() else 1)


def test_bad_work_names_the_parameter():
    with pytest.raises(ValueError, match="`work`"):
        compute_threads("cpu", -1)


def test_policy_restores_the_count_after_an_error(outer_threads):
    with pytest.raises(_Stop):
        with thread_policy("cpu", 1000) as n:
            assert n == torch.get_num_threads() == 1
            raise _Stop
    assert torch.get_num_threads() == OUTER
    with thread_policy("cpu", SMALL_WORK) as n:
        assert n == OUTER


def _safetensors(path: Path, shapes: dict[str, list[int]]) -> None:
    """A safetensors file's header (and zero bytes for the data): all folder_parameters reads."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in shapes.items():
        size = 4 * int(torch.tensor(shape).prod()) if shape else 4
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(offset))


def test_folder_parameters(tmp_path):
    assert folder_parameters(None) is None and folder_parameters(tmp_path / "missing") is None
    assert folder_parameters(tmp_path) is None  # no weights
    (tmp_path / "config.json").write_text("{}")
    _safetensors(tmp_path / "model.safetensors", {"a": [3, 4], "b": [5], "c": []})
    assert folder_parameters(tmp_path) == 12 + 5 + 1
    (tmp_path / "extra.bin").write_bytes(bytes(100))  # not safetensors: bytes / 2
    (tmp_path / "broken.safetensors").write_bytes(b"\xff" * 8 + b"junk")
    assert folder_parameters(tmp_path) == 18 + 50 + 6


def test_the_embedded_backbone_is_small_work():
    from workbench.robustness.classifier import embedded_backbone_path

    assert folder_parameters(embedded_backbone_path()) < SMALL_WORK


# Each suite: (module whose global to replace, its name, the config). The replaced function runs
# inside the suite's compute; it records torch's count there and stops the run.
def _suites() -> list:
    from workbench.ace import AceConfig
    from workbench.capacity import CapacityConfig
    from workbench.goldilocks import GoldilocksConfig
    from workbench.robustness import RobustnessConfig

    return [
        pytest.param(
            "capacity", "workbench.capacity.experiment", "train_quadratic", CapacityConfig.quick(), id="capacity"
        ),
        pytest.param(
            "goldilocks", "workbench.goldilocks.experiment", "radius_sweep", GoldilocksConfig.quick(), id="goldilocks"
        ),
        pytest.param(
            "robustness", "workbench.robustness.experiment", "build_dataset", RobustnessConfig.quick(), id="robustness"
        ),
        pytest.param("ace", "workbench.ace.experiment", "open_session", AceConfig.quick(), id="ace"),
    ]


@pytest.mark.parametrize("policy_on", [True, False], ids=["policy", "policy-off"])
@pytest.mark.parametrize("name, module, attr, config", _suites())
def test_every_suite_computes_under_the_policy(name, module, attr, config, policy_on, outer_threads, monkeypatch):
    import importlib

    from workbench.registry import get_suite

    seen: list[int] = []

    def record(*args, **kwargs):
        seen.append(torch.get_num_threads())
        raise _Stop

    monkeypatch.setattr(importlib.import_module(module), attr, record)
    if not policy_on:  # the control: with nothing small, the suite computes at the caller's count
        monkeypatch.setattr(threads, "SMALL_WORK", 0)
    with pytest.raises(_Stop):
        get_suite(name).run(config, progress=False, device="cpu")
    assert seen == [1 if policy_on else OUTER]
    assert torch.get_num_threads() == OUTER  # restored, also when the run fails


def test_a_finished_run_restores_the_count(outer_threads):
    from workbench.capacity import CapacityConfig
    from workbench.capacity import run as run_capacity

    config = dataclasses.replace(CapacityConfig.quick(), steps=20, relu_steps=20)
    run_capacity(config, progress=False)
    assert torch.get_num_threads() == OUTER


# --- following the load: the large-model paths a user calls ------------------------------------

def test_adaptive_threads_take_the_free_cores_between_one_and_the_ceiling(outer_threads):
    """Quiet: the caller's count; one neighbour on a core: 1; never 0, never above the ceiling;
    unknown load: the ceiling. The count comes back after the block."""
    from workbench.core.threads import AdaptiveThreads, adaptive_threads

    torch.set_num_threads(2)
    for free, expected in [(2, 2), (1, 1), (0, 1), (8, 2), (None, 2)]:
        assert AdaptiveThreads(2, every_s=0.0, free=lambda f=free: f).tick() == expected
    with adaptive_threads(free=lambda: 1) as governor:
        assert torch.get_num_threads() == 1 and governor.counts == [1]
    assert torch.get_num_threads() == 2
    torch.set_num_threads(1)  # a suite's one-thread policy is the ceiling: the load is not even read
    with adaptive_threads(free=lambda: (_ for _ in ()).throw(AssertionError("read"))) as governor:
        assert torch.get_num_threads() == 1 and governor.counts == []


def test_the_load_is_read_again_only_after_every_s(outer_threads):
    from workbench.core.threads import AdaptiveThreads

    reads = []
    governor = AdaptiveThreads(2, every_s=3600.0, free=lambda: reads.append(1) or 2)
    governor.tick()
    governor.tick()
    assert len(reads) == 1


def test_a_busy_process_reads_as_a_neighbour_and_our_own_threads_do_not():
    """One spinning process: one task running elsewhere; our own running threads are not counted."""
    import subprocess
    import sys
    import time

    from workbench.core.load import free_cores, running_elsewhere, usable_cores

    quiet = running_elsewhere(samples=5)
    peer = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        busy = running_elsewhere(samples=5)
        assert busy is not None and busy >= 1 and busy >= quiet
        assert 0 <= free_cores() <= usable_cores()
    finally:
        peer.kill()
        peer.wait()


def test_generate_follows_the_load_and_gives_the_same_tokens(outer_threads, tmp_path, monkeypatch):
    """`workbench.lm.generate` on a CPU model sets the free cores on entry and at forwards, restores
    the caller's count, and a different count gives the same tokens."""
    from workbench.core import threads
    from workbench.lm.folders import boot
    from workbench.lm.generate import generate
    from workbench.lm.random_folder import random_causal_lm_folder

    model = boot(random_causal_lm_folder("llama", tmp_path / "llama", n_layers=2, d_model=32), device="cpu")
    seen = []
    torch.set_num_threads(2)
    original = threads.AdaptiveThreads.tick

    def tick(self):
        seen.append(original(self))
        return seen[-1]

    monkeypatch.setattr(threads.AdaptiveThreads, "tick", tick)
    monkeypatch.setattr(threads, "free_cores", lambda: 1)
    one = generate(model, model.tokenizer, ["hello there", "a longer prompt here"], max_new_tokens=5)
    assert seen and set(seen) == {1} and torch.get_num_threads() == 2
    monkeypatch.setattr(threads, "free_cores", lambda: 2)
    seen.clear()
    two = generate(model, model.tokenizer, ["hello there", "a longer prompt here"], max_new_tokens=5)
    assert set(seen) == {2} and two == one

"""scripts/gpu_check.py on the CPU (`--device cpu --tiny`: the same code path as on a GPU, tiny
sizes), its refusal without CUDA, and the GPU-path options it relies on (`device_map` passed
through `workbench.lm.boot`, `AceConfig.device_map`)."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from workbench.ace import AceConfig

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_check.py"
LINE = re.compile(r"^GPU (\S+) seconds=(\S+)", re.MULTILINE)


@pytest.fixture(scope="module")
def gpu_check() -> ModuleType:
    """The script as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses resolve the module by name
    spec.loader.exec_module(module)
    return module


def test_tiny_cpu_run_prints_every_measurement_with_a_finite_positive_time(gpu_check, capsys, tmp_path):
    code = gpu_check.main(["--device", "cpu", "--tiny", "--workdir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    seconds = {name: float(value) for name, value in LINE.findall(out)}
    assert set(seconds) == set(gpu_check.MEASUREMENTS), out
    for name, value in seconds.items():
        assert math.isfinite(value) and value > 0, (name, value)
    assert "GPU torch=" in out and "peak_memory_gib=" in out
    assert list(tmp_path.iterdir()) == []  # the temporary folder (model, ACE cache) is removed


def test_without_cuda_it_refuses_with_exit_code_2(gpu_check, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 2
    captured = capsys.readouterr()
    assert "CUDA is not available" in captured.err and "--device cpu --tiny" in captured.err
    assert "seconds=" not in captured.out


def test_the_full_size_on_the_cpu_is_refused(gpu_check, capsys):
    assert gpu_check.main(["--device", "cpu"]) == 2
    assert "--tiny" in capsys.readouterr().err


def test_tiny_overrides_are_valid_configs(gpu_check):
    for suite in gpu_check.SUITES:
        gpu_check.suite_config(suite, tiny=True)  # raises on a field the config refuses


def test_boot_passes_device_map_through_only_when_given(gpu_check, tmp_path, monkeypatch):
    from transformer_lens.model_bridge import TransformerBridge

    from workbench.lm import boot

    clock = gpu_check.Clock(torch.device("cpu"))
    gpu_check.build_and_save(gpu_check.TINY_LLAMA, torch.device("cpu"), torch.float32, tmp_path, clock)
    real, calls = TransformerBridge.boot_transformers, []

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(TransformerBridge, "boot_transformers", spy)
    boot(tmp_path, device="cpu", dtype="bfloat16")
    mapped = boot(tmp_path, device="cpu", device_map="auto")  # the map wins: the bridge refuses both
    assert "device_map" not in calls[0] and calls[0]["device"] == "cpu" and calls[0]["dtype"] == torch.bfloat16
    assert calls[1]["device_map"] == "auto" and calls[1]["device"] is None
    assert next(mapped.original_model.parameters()).device.type == "cpu"
    with pytest.raises(ValueError, match="device_map"):
        boot(tmp_path, device_map="")


def test_ace_config_device_map():
    assert AceConfig().device_map is None
    assert dataclasses.replace(AceConfig.quick(), device_map="auto").device_map == "auto"
    with pytest.raises(ValueError, match="device_map"):
        dataclasses.replace(AceConfig.quick(), device_map="")

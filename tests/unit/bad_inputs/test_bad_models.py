"""Robustness heads and backbones, and LM folders, that do not fit fail naming `head`,
`backbone` or `model`; a cached model entry with a foreign stamp is rebuilt."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from tests.unit.bad_inputs.support import (
    FEW,
    JSON,
    rejects,
    write,
    write_tensors,
)
from workbench.capacity import CapacityConfig
from workbench.lm.folders import boot, cached_model_folder, check_causal_lm_folder
from workbench.robustness.classifier import Classifier


# --- robustness classifier ---------------------------------------------------------------------------
def test_a_head_that_does_not_fit_the_backbone_is_rejected(classifier, head_file, tmp_path):
    hidden = classifier.hidden
    layer_key = next(k for k in load_file(str(head_file)) if k.startswith("encoder.layer."))
    head = {"head.weight": torch.zeros(1, hidden), "head.bias": torch.zeros(1)}
    cases = {
        "missing": tmp_path / "missing.safetensors",
        "not-safetensors": write(tmp_path / "text.safetensors", b"hello"),
        "no-bias": write_tensors(tmp_path / "nobias.safetensors", {"head.weight": head["head.weight"]}),
        "narrow": write_tensors(tmp_path / "narrow.safetensors", {**head, "head.weight": torch.zeros(1, hidden - 1)}),
        "two-outputs": write_tensors(
            tmp_path / "two.safetensors", {"head.weight": torch.zeros(2, hidden), "head.bias": torch.zeros(2)}
        ),
        "foreign-layer": write_tensors(tmp_path / "layer.safetensors", {**head, layer_key: torch.zeros(3)}),
        "unknown-layer-key": write_tensors(
            tmp_path / "key.safetensors", {**head, "encoder.layer.99.x": torch.zeros(1)}
        ),
    }
    for label, path in cases.items():
        rejects("head", f"load_head {label}", label, lambda: classifier.load_head(path))
    for bad in (None, 3, ""):
        rejects("head", "load_head type", bad, lambda: classifier.load_head(bad))

@FEW
@given(keep=st.floats(0.0, 1.0, exclude_max=True))
def test_a_truncated_head_file_is_rejected(classifier, head_file, keep):
    raw = head_file.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp) / "head.safetensors", raw[: int(keep * len(raw))])
        rejects("head", "truncated head", int(keep * len(raw)), lambda: classifier.load_head(path))

def test_a_backbone_that_is_not_an_encoder_folder_is_rejected(tmp_path):
    cases = {"missing": tmp_path / "missing", "no-config": tmp_path}
    for label, config in (("garbage", "garbage"), ("empty-object", "{}"), ("no-weights", '{"model_type": "bert"}')):
        (tmp_path / label).mkdir()
        (tmp_path / label / "config.json").write_text(config)
        cases[label] = tmp_path / label
    for label, folder in cases.items():
        rejects("backbone", f"backbone {label}", label, lambda: Classifier(backbone=folder))
    for bad in (3, ["x"], ""):
        rejects("backbone", "backbone type", bad, lambda: Classifier(backbone=bad))
    for bad in (0, 7, 5000, 16.0, None):
        rejects("max_length", "classifier max_length", bad, lambda: Classifier(max_length=bad))

# --- LM folders ---------------------------------------------------------------------------------------
@FEW
@given(config=JSON)
def test_a_folder_whose_config_is_not_a_causal_lm_is_rejected(config):
    if isinstance(config, dict):
        config = {**config, "architectures": ["BertModel"]}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "config.json").write_text(json.dumps(config))
        rejects("model", "lm config", config, lambda: check_causal_lm_folder(tmp))

def test_lm_folders_missing_broken_or_without_weights(tmp_path):
    folders: dict[str, object] = {"missing": tmp_path / "missing", "no-config": tmp_path, "none": None, "int": 3}
    for label, content in (("invalid-json", b"{"), ("latin1", b'{"a": "\xe9"}'),
                           ("string-archs", b'{"architectures": "LlamaForCausalLM"}')):
        (tmp_path / label).mkdir()
        write(tmp_path / label / "config.json", content)
        folders[label] = tmp_path / label
    for label, folder in folders.items():
        rejects("model", f"lm folder {label}", label, lambda: check_causal_lm_folder(folder))
    (tmp_path / "no-weights").mkdir()
    llama = {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}
    (tmp_path / "no-weights" / "config.json").write_text(json.dumps(llama))
    rejects("model", "boot without weights", "no-weights", lambda: boot(tmp_path / "no-weights"))

def test_a_cached_model_entry_with_a_foreign_stamp_is_rebuilt(tmp_path):
    """An entry whose workbench.json is a JSON list is rejected with a warning, not a crash."""
    config = CapacityConfig.quick()

    def build(folder: Path) -> dict[str, Any]:
        for name in ("config.json", "tokenizer.json"):
            (folder / name).write_text("{}")
        save_file({"w": torch.zeros(1)}, str(folder / "model.safetensors"))
        return {"built": True}

    first = cached_model_folder("bad-input-lm", config, "v1", build, tmp_path)
    (first / "workbench.json").write_text("[]")
    with pytest.warns(UserWarning, match="rejected cached model"):
        again = cached_model_folder("bad-input-lm", config, "v1", build, tmp_path)
    assert json.loads((again / "workbench.json").read_text())["facts"] == {"built": True}

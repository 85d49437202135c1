"""`workbench.lm.specs` describes the tiny models apart from the training code, so a suite's config
names architectures and dtypes without depending on it; the old homes still export the same objects."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from workbench.lm.specs import ARCHITECTURES, DTYPES, TinyLMSpec

ROOT = Path(__file__).resolve().parents[3]


def test_the_ace_config_takes_its_model_words_from_the_specs():
    """No module of workbench.lm but the specs among config.py's imports (train and folders import
    transformers)."""
    tree = ast.parse((ROOT / "workbench" / "ace" / "config.py").read_text())
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {m for m in modules if m and m.startswith("workbench.lm")} == {"workbench.lm.specs"}


def test_the_old_homes_export_the_same_objects():
    from workbench.lm import TinyLMSpec as from_package
    from workbench.lm.folders import DTYPES as from_folders
    from workbench.lm.train import ARCHITECTURES as from_train

    assert from_package is TinyLMSpec and from_folders is DTYPES and from_train is ARCHITECTURES
    assert ARCHITECTURES == ("llama", "rwkv", "rwkv5") and list(DTYPES) == ["float32", "float16", "bfloat16"]


def test_a_spec_names_the_bad_field():
    with pytest.raises(ValueError, match="`arch` must be one of"):
        TinyLMSpec(arch="gpt2")
    with pytest.raises(ValueError, match="`n_heads` must divide"):
        TinyLMSpec(d_model=10, n_heads=4)

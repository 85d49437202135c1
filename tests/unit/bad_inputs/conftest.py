"""Fixtures of the bad-input tests: pristine saved results, an MNIST folder, a classifier and its
head file (module scope: built once per module that asks)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.unit.bad_inputs.support import capacity_result, goldilocks_result, write_idx
from workbench.capacity import CapacityConfig
from workbench.goldilocks import GoldilocksConfig
from workbench.robustness.classifier import Classifier


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    """One pristine saved result per kind (capacity, goldilocks) and a capacity of another shape."""
    root = tmp_path_factory.mktemp("saved")
    return {
        "capacity": capacity_result(CapacityConfig.quick()).save(root / "capacity"),
        "capacity_n9": capacity_result(replace(CapacityConfig.quick(), n=9)).save(root / "capacity_n9"),
        "goldilocks": goldilocks_result(GoldilocksConfig.quick()).save(root / "goldilocks"),
    }

@pytest.fixture(scope="module")
def mnist_folder(tmp_path_factory) -> Path:
    """Four valid IDX files (2 images each)."""
    root = tmp_path_factory.mktemp("mnist")
    for split, n in (("train", 2), ("t10k", 2)):
        write_idx(root / f"{split}-images-idx3-ubyte", np.arange(n * 784).reshape(n, 28, 28) % 256)
        write_idx(root / f"{split}-labels-idx1-ubyte", np.arange(n))
    return root

@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(max_length=16)

@pytest.fixture(scope="module")
def head_file(classifier, tmp_path_factory) -> Path:
    return classifier.save_head(tmp_path_factory.mktemp("head") / "head.safetensors", top_layers=1)


"""The tiny embedded models trained two at a time in worker processes are the models the
experiment trains in-process, bit for bit (one thread either way), and land in the cache the run
then boots from."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file

from workbench.ace import AceConfig
from workbench.ace.models import embedded_model_folder, train_embedded_models
from workbench.core.threads import torch_threads


def test_workers_train_the_in_process_models(tmp_path) -> None:
    config = replace(AceConfig.quick(), instances=2, llama_steps=20, rwkv5_steps=20)
    runs = list(config.runs())
    train_embedded_models(config, runs, tmp_path / "parallel", workers=2, progress=False)
    for arch, instance in runs:
        with torch_threads(1):
            here = embedded_model_folder(config, arch, tmp_path / "here", progress=False, instance=instance)
        there = embedded_model_folder(config, arch, tmp_path / "parallel", progress=False, instance=instance)
        assert there.parent.parent == tmp_path / "parallel"  # found in the cache, not trained again
        a, b = load_file(str(here / "model.safetensors")), load_file(str(there / "model.safetensors"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), (arch, instance)


def test_one_worker_or_one_model_trains_nothing_here(tmp_path) -> None:
    config = AceConfig.quick()
    train_embedded_models(config, list(config.runs()), tmp_path, workers=1, progress=False)
    train_embedded_models(config, list(config.runs())[:1], tmp_path, workers=2, progress=False)
    assert not any(tmp_path.iterdir())


def test_a_workers_error_surfaces(tmp_path) -> None:
    config = AceConfig.quick()
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    with pytest.raises(Exception, match="cache"):
        train_embedded_models(config, list(config.runs()), blocker, workers=2, progress=False)


def test_the_run_spawns_workers_for_the_default_toys_only() -> None:
    """Two worker processes cost seconds to start: QUICK's seconds-long trainings stay in-process."""
    from workbench.ace.models import PARALLEL_TRAINING_WORK, training_work

    assert training_work(AceConfig.quick()) < PARALLEL_TRAINING_WORK <= training_work(AceConfig())

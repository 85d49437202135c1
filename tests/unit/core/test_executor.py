"""Grid cells run in-process or on Ray with identical results (a real local Ray runtime, 2 CPUs)."""

from __future__ import annotations

import dataclasses
import operator

import pytest
import torch

from workbench.capacity import CapacityConfig
from workbench.capacity import run as run_capacity
from workbench.core.executor import Executor, as_executor, ensure_ray, map_cells
from workbench.goldilocks import GoldilocksConfig
from workbench.goldilocks import run as run_goldilocks
from workbench.robustness.filtering import sweep

RAY = Executor("ray", num_cpus=2)


def test_local_map_keeps_the_order_of_the_cells():
    assert map_cells(operator.pow, [(i, 2) for i in range(7)]) == [i**2 for i in range(7)]


@pytest.mark.parametrize("bad", ["dask", "", "RAY"])
def test_an_unknown_executor_names_the_parameter(bad):
    with pytest.raises(ValueError, match="`executor` must be one of"):
        as_executor(bad)


@pytest.mark.parametrize("field, value", [("num_cpus", 0), ("cpus_per_task", -1), ("num_cpus", 1.5), ("address", 3)])
def test_bad_executor_settings_name_the_parameter(field, value):
    with pytest.raises(ValueError, match=f"`{field}`"):
        Executor("ray", **{field: value})


@pytest.fixture(scope="module")
def ray_runtime():
    """One local Ray runtime with 2 CPUs for this module; torch at 1 thread on this side too, so
    both sides reduce floats in the same order (see workbench.core.executor)."""
    ray = ensure_ray(RAY)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield ray
    torch.set_num_threads(threads)
    ray.shutdown()


def test_ray_runs_cells_in_worker_processes(ray_runtime):
    import os

    pids = map_cells(os.getpid, [()] * 4, RAY)
    assert os.getpid() not in pids
    assert map_cells(operator.mul, [(i, 3) for i in range(5)], RAY) == [0, 3, 6, 9, 12]


def test_capacity_grid_on_ray_equals_the_in_process_ensemble(ray_runtime):
    config = dataclasses.replace(CapacityConfig.quick(), d_sweep=(), relu_feature_prob=())
    local = run_capacity(config, progress=False)
    remote = run_capacity(config, progress=False, executor=RAY)
    assert len(config.kurtosis) > 1  # several Ray cells, stitched back in grid order
    assert torch.equal(local.W, remote.W) and torch.equal(local.loss, remote.loss)


def test_goldilocks_sweeps_on_ray_equal_the_local_run(ray_runtime):
    config = dataclasses.replace(GoldilocksConfig.quick(), selection_inits=0)
    local = run_goldilocks(config, progress=False)
    remote = run_goldilocks(config, progress=False, executor=RAY)
    for field in ("plane_eigs", "sphere_eigs", "sphere_shift", "point_loss", "plane_acc", "plane_loss"):
        assert torch.equal(getattr(local, field), getattr(remote, field)), field
    assert local.plane_acc.numel() > 0 and local.plane_eigs.numel() > 0


def test_robustness_threshold_sweep_on_ray_equals_the_local_sweep(ray_runtime):
    gen = torch.Generator().manual_seed(0)
    W = torch.rand(5, 40, generator=gen, dtype=torch.float64)
    W = W / W.sum(1, keepdim=True)
    scores = torch.rand(40, generator=gen)
    labels = (torch.rand(40, generator=gen) < 0.2).long()
    thresholds = [0.05, 0.2, 0.5, 0.9]
    local = sweep(W, scores, labels, thresholds, 2000, 10, seed=3)
    assert sweep(W, scores, labels, thresholds, 2000, 10, seed=3, executor=RAY) == local
    assert [row["threshold"] for row in local] == thresholds


def test_ace_models_on_ray_equal_the_local_run(ray_runtime, session_cache):
    from workbench.ace import AceConfig
    from workbench.ace import run as run_ace

    # the session's cache (tests/conftest.py): the embedded models are trained once per test run;
    # both runs here are computed under ray_runtime's one torch thread
    local = run_ace(AceConfig.quick(), progress=False, cache=session_cache)
    remote = run_ace(AceConfig.quick(), progress=False, cache=session_cache, executor=RAY)
    for field in ("baseline", "sweep", "sweep_score", "methods", "projection"):
        assert torch.equal(getattr(local, field), getattr(remote, field)), field
    for field in ("direction", "mu_neg", "layer_sweep", "separation_auc"):  # per model
        for label in local.labels:
            assert torch.equal(getattr(local, field)[label], getattr(remote, field)[label]), (field, label)
    assert local.examples == remote.examples and len(local.labels) == 2

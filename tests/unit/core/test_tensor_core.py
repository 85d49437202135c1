"""The runtime core and the shared math: atomic writes, Result save/load, the artifact cache, ensembles, seeding."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch
from safetensors.torch import save_file

from workbench.core import (
    ArtifactCache,
    ArtifactError,
    Result,
    atomic_dir,
    atomic_file,
    cache_key,
    choose_device,
    expect_shape,
    seed_everything,
)
from workbench.core.validation import check_int, check_range
from workbench.tensor import EnsembleGrid, train_ensemble


@dataclass(frozen=True)
class ToyConfig:
    width: int = 3
    scales: tuple[float, ...] = (1.0, 2.0)


@dataclass(frozen=True)
class ToyResult(Result):
    kind: ClassVar[str] = "ToyResult"
    config: ToyConfig
    weights: torch.Tensor
    note: str

    def validate(self) -> None:
        expect_shape("weights", self.weights, (len(self.config.scales), self.config.width))


def toy(width: int = 3) -> ToyResult:
    config = ToyConfig(width=width)
    return ToyResult(config=config, weights=torch.arange(2.0 * width).reshape(2, width), note="hi")


def test_atomic_file_leaves_nothing_when_the_writer_fails(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_file(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_atomic_file_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_file(target) as tmp:
            tmp.write_text("new")
            raise RuntimeError
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_dir_replaces_the_whole_folder(tmp_path):
    target = tmp_path / "res"
    target.mkdir()
    (target / "stale").write_text("x")
    with atomic_dir(target) as tmp:
        (tmp / "fresh").write_text("y")
    assert sorted(p.name for p in target.iterdir()) == ["fresh"]
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_result_round_trip(tmp_path):
    r = toy()
    r.save(tmp_path / "r")
    back = ToyResult.load(tmp_path / "r")
    assert back.config == r.config and back.note == "hi"
    assert torch.equal(back.weights, r.weights)


def test_loading_a_missing_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a saved ToyResult"):
        ToyResult.load(tmp_path / "nothing")


def test_loading_another_kind_is_rejected(tmp_path):
    toy().save(tmp_path / "r")
    meta = json.loads((tmp_path / "r" / "result.json").read_text())
    meta["kind"] = "CapacityResult"
    (tmp_path / "r" / "result.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="holds a 'CapacityResult'"):
        ToyResult.load(tmp_path / "r")


def test_truncated_safetensors_is_rejected(tmp_path):
    toy().save(tmp_path / "r")
    f = tmp_path / "r" / "tensors.safetensors"
    f.write_bytes(f.read_bytes()[:20])
    with pytest.raises(ArtifactError, match="corrupt or truncated"):
        ToyResult.load(tmp_path / "r")


def test_foreign_shaped_tensor_is_rejected(tmp_path):
    """A tensor file from a config of another width, under this config's JSON."""
    toy(width=3).save(tmp_path / "a")
    toy(width=5).save(tmp_path / "b")
    (tmp_path / "a" / "tensors.safetensors").write_bytes((tmp_path / "b" / "tensors.safetensors").read_bytes())
    with pytest.raises(ArtifactError, match="`weights` has shape"):
        ToyResult.load(tmp_path / "a")


def test_validate_rejects_shapes_the_config_does_not_imply(tmp_path):
    with pytest.raises(ArtifactError, match="the config implies"):  # made by a run: refused at once
        ToyResult(config=ToyConfig(width=4), weights=torch.zeros(2, 3), note="")
    toy(width=3).save(tmp_path / "r")  # on disk: a config edited to another width
    meta = json.loads((tmp_path / "r" / "result.json").read_text())
    meta["config"]["width"] = 4
    (tmp_path / "r" / "result.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="the config implies"):
        ToyResult.load(tmp_path / "r")


def test_non_finite_values_are_refused_when_made_and_when_loaded(tmp_path):
    weights = torch.arange(6.0).reshape(2, 3)
    with pytest.raises(ArtifactError, match="tensor `weights` holds 1 non-finite values"):
        ToyResult(config=ToyConfig(), weights=torch.where(weights == 4, torch.nan, weights), note="")
    toy().save(tmp_path / "r")
    save_file({"weights": torch.full((2, 3), torch.inf)}, str(tmp_path / "r" / "tensors.safetensors"))
    with pytest.raises(ArtifactError, match="`path` .*: tensor `weights` holds 6 non-finite values"):
        ToyResult.load(tmp_path / "r")


def test_cache_builds_once_then_loads(tmp_path):
    cache = ArtifactCache(tmp_path)
    calls = []

    def build() -> ToyResult:
        calls.append(1)
        return toy()

    first = cache.get_or_build(ToyResult, ToyConfig(), "v1", build)
    second = cache.get_or_build(ToyResult, ToyConfig(), "v1", build)
    assert len(calls) == 1 and torch.equal(first.weights, second.weights)
    cache.get_or_build(ToyResult, ToyConfig(), "v2", build)  # a new code version rebuilds
    assert len(calls) == 2


def test_cache_rejects_a_corrupt_entry_loudly_and_rebuilds(tmp_path):
    cache = ArtifactCache(tmp_path)
    cache.get_or_build(ToyResult, ToyConfig(), "v1", toy)
    path = cache.path(ToyResult, ToyConfig(), "v1")
    (path / "tensors.safetensors").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="rejected cache entry.*corrupt"):
        again = cache.get_or_build(ToyResult, ToyConfig(), "v1", toy)
    assert again.weights.shape == (2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cache.get_or_build(ToyResult, ToyConfig(), "v1", toy)  # the rebuilt entry loads cleanly


def test_cache_key_depends_on_config_and_code():
    assert cache_key("K", ToyConfig(), "a") != cache_key("K", ToyConfig(width=4), "a")
    assert cache_key("K", ToyConfig(), "a") != cache_key("K", ToyConfig(), "b")
    assert cache_key("K", ToyConfig(), "a") == cache_key("K", ToyConfig(), "a")


def test_ensemble_grid_flattens_last_axis_fastest():
    grid = EnsembleGrid({"k": (1.0, 2.0), "seed": (0, 1, 2)})
    assert grid.size == 6 and grid.shape == (2, 3)
    assert grid.values("k").tolist() == [1, 1, 1, 2, 2, 2]
    assert grid.values("seed").tolist() == [0, 1, 2, 0, 1, 2]
    flat = torch.arange(6 * 4).reshape(6, 4)
    assert torch.equal(grid.unflatten(flat)[1, 2], flat[5])
    with pytest.raises(ValueError, match="`name`"):
        grid.values("missing")


def test_one_stacked_optimizer_equals_independent_optimizers():
    targets = torch.tensor([[1.0, -2.0], [3.0, 0.5], [-1.0, 4.0]])
    init = torch.zeros(3, 2)

    def quadratic(p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return ((p - t) ** 2).sum(-1) * torch.arange(1.0, p.shape[0] + 1)

    stacked = init.clone()
    train_ensemble([stacked], lambda _: quadratic(stacked, targets), steps=50, lr=0.1, progress=False)
    for e in range(3):
        alone = init[e : e + 1].clone()
        scale = torch.tensor([e + 1.0])
        train_ensemble([alone], lambda _: ((alone - targets[e]) ** 2).sum(-1) * scale, steps=50, lr=0.1, progress=False)
        assert torch.allclose(alone[0], stacked[e], atol=1e-6)


def test_seed_everything_reproduces_draws():
    seed_everything(3)
    a = torch.randn(4)
    seed_everything(3)
    assert torch.equal(a, torch.randn(4))
    with pytest.raises(ValueError, match="`seed`"):
        seed_everything(-1)


def test_choose_device():
    assert choose_device("cpu").type == "cpu"
    assert choose_device(None).type in {"cpu", "cuda"}
    with pytest.raises(ValueError, match="`device`"):
        choose_device("tpu-ish")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            choose_device("cuda")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "3", True, None])
def test_check_range_rejects_non_finite_and_non_numbers(value):
    with pytest.raises(ValueError, match="`alpha`"):
        check_range("alpha", value, 0, 1)


def test_check_messages_give_the_allowed_range():
    with pytest.raises(ValueError, match=r"`lr` must be > 0; got -1"):
        check_range("lr", -1, low=0, low_open=True)
    with pytest.raises(ValueError, match=r"`d` must be an integer in \[1, 7\]; got 9"):
        check_int("d", 9, 1, 7)



@dataclass(frozen=True)
class _MapConfig:
    n: int = 1


@dataclass(frozen=True)
class _Mapped(Result):
    kind: ClassVar[str] = "Mapped"
    config: _MapConfig
    per_model: dict[str, torch.Tensor]
    shared: torch.Tensor


def test_result_tensor_map_fields_round_trip(tmp_path) -> None:
    """A `dict[str, Tensor]` field (one tensor per model, shapes differing) saves and loads by key,
    and a NaN inside it is named with its key."""
    value = _Mapped(_MapConfig(), {"small": torch.ones(2, 3), "big": torch.arange(12.0).reshape(4, 3)}, torch.zeros(2))
    back = _Mapped.load(value.save(tmp_path / "r"))
    assert set(back.per_model) == {"small", "big"}
    assert torch.equal(back.per_model["big"], value.per_model["big"]) and back.per_model["small"].shape == (2, 3)
    with pytest.raises(ArtifactError, match=r"per_model\['big'\].*non-finite"):
        _Mapped(_MapConfig(), {"big": torch.tensor([float("nan")])}, torch.zeros(2))

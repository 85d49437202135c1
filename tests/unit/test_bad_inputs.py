"""Bad inputs to every public config and loader fail with ValueError or FileNotFoundError whose
message names the parameter — never a TypeError, AssertionError or a torch RuntimeError from deep
inside — and a save killed at any moment leaves the old result or the new one, never half of one.

Configs: a table gives each field of each config a spec of what is wrong for it (type, range,
choices); hypothesis draws bad values from the specs and a fixed list of canonical bad values per
field is tried exhaustively. Loaders: missing, truncated, foreign-shaped and wrong-column files.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import json
import math
import os
import pickle
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from random import Random
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from safetensors.torch import load_file, save_file
from torch import nn

from workbench.ace import AceConfig, AceResult
from workbench.ace.config import HOOKS, POSITIONS
from workbench.ace.experiment import prompt_sets
from workbench.ace.prompts import load_prompts
from workbench.capacity import CapacityConfig, CapacityResult
from workbench.goldilocks import GoldilocksConfig, GoldilocksResult, load_cifar10, load_dataset, load_mnist
from workbench.goldilocks.config import RANK_BY
from workbench.goldilocks.data import DATASETS
from workbench.goldilocks.model import ACTIVATIONS, INIT_SCHEMES
from workbench.lm.folders import DTYPES as LM_DTYPES
from workbench.lm.folders import boot, cached_model_folder, check_causal_lm_folder
from workbench.lm.train import ARCHITECTURES
from workbench.robustness import RobustnessConfig, RobustnessResult, load_labelled
from workbench.robustness.classifier import Classifier
from workbench.tensor.cache import ArtifactCache
from workbench.tensor.curvature import DTYPES as CURVATURE_DTYPES
from workbench.tensor.hooks import steer
from workbench.tensor.result import ArtifactError
from workbench.tensor.steering import METHODS, SteeringEdit, affine_edit, make_edit
from workbench.tensor.validation import INT64_MAX

# Modest example counts keep the module well under a minute on two cores; no example database, so
# a run leaves no .hypothesis folder behind.
FEW = settings(max_examples=25, deadline=None, database=None)
SOME = settings(max_examples=50, deadline=None, database=None)

NAN, INF = float("nan"), float("inf")
# (case, repr of the input, exception type) of every bad input tried; read by whoever wants the
# count (the module prints nothing).
TRIED: set[tuple[str, str, str]] = set()


# --- the one assertion ----------------------------------------------------------------------------
def rejects(params: str | tuple[str, ...], case: str, value: object, call: Callable[[], object]) -> type:
    """`call()` must raise ValueError or FileNotFoundError whose message names one of `params` in
    backticks (an element `name[i]` counts as naming `name`); return the exception type."""
    names, shown = (params,) if isinstance(params, str) else params, show(value)
    try:
        call()
    except (ValueError, FileNotFoundError) as err:
        TRIED.add((case, shown, type(err).__name__))
        pattern = "|".join(re.escape(n) for n in names)
        assert re.search(rf"`({pattern})(\[\d+\])?`", str(err)), (
            f"{case}: {type(err).__name__} for {shown} does not name {names}: {err}")
        return type(err)
    except Exception as err:  # noqa: BLE001 - any other type is exactly what this module hunts
        pytest.fail(f"{case}: {type(err).__name__} (not ValueError/FileNotFoundError) for {shown}: {err}")
    pytest.fail(f"{case}: {shown} was accepted")


def show(value: object) -> str:
    """repr(value), cut short; Python refuses to print ints past 4300 digits, so those get a name."""
    try:
        return repr(value)[:300]
    except ValueError:
        return f"<{type(value).__name__} holding an integer past 4300 digits>"


# --- what is wrong for each kind of field -----------------------------------------------------------
NOT_NUMBERS = st.one_of(st.none(), st.text(max_size=5), st.lists(st.integers(), max_size=2), st.booleans())
BLANK = st.text(alphabet=" \t\n", max_size=3)


@dataclass(frozen=True)
class Int:
    """An integer in [low, high] (high None: int64's top); `also`: values bad only through a
    rule joining this field to another (checked against the quick config)."""

    low: int
    high: int | None = None
    optional: bool = False  # None is valid
    also: tuple[int, ...] = ()

    @property
    def over(self) -> int:
        return (INT64_MAX if self.high is None else self.high) + 1

    def examples(self) -> list[object]:
        out = [self.low - 1, -(10**30), self.over, 10**30, 10**5000, NAN, INF, -INF, 2.0, "3", [self.low], True, *self.also]
        return out if self.optional else [*out, None]

    def bad(self) -> st.SearchStrategy:
        parts = [st.integers(max_value=self.low - 1), st.integers(min_value=self.over), st.floats(), NOT_NUMBERS]
        if self.also:
            parts.append(st.sampled_from(self.also))
        strategy = st.one_of(parts)
        return strategy.filter(lambda v: v is not None) if self.optional else strategy


@dataclass(frozen=True)
class Real:
    """A finite real in the interval low..high (each end open or closed, None: unbounded)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def examples(self) -> list[object]:
        out: list[object] = [NAN, INF, -INF, 10**400, -(10**400), 10**5000, "0.5", None, [0.5], True]
        if self.low is not None:
            out += [self.low if self.low_open else math.nextafter(self.low, -INF), self.low - 1, -1e308]
        if self.high is not None:
            out += [self.high if self.high_open else math.nextafter(self.high, INF), self.high + 1, 1e308, 10**30]
        return out

    def bad(self) -> st.SearchStrategy:
        finite = {"allow_nan": False, "allow_infinity": False}
        parts = [st.sampled_from([NAN, INF, -INF, 10**400]), NOT_NUMBERS]
        if self.low is not None:
            parts.append(st.floats(max_value=self.low, exclude_max=not self.low_open, **finite))
            parts.append(st.integers(max_value=math.floor(self.low)).filter(self._below))
        if self.high is not None:
            parts.append(st.floats(min_value=self.high, exclude_min=not self.high_open, **finite))
            parts.append(st.integers(min_value=math.ceil(self.high)).filter(self._above))
        return st.one_of(parts)

    def _below(self, x: int) -> bool:
        return x < self.low or (self.low_open and x == self.low)  # type: ignore[operator]

    def _above(self, x: int) -> bool:
        return x > self.high or (self.high_open and x == self.high)  # type: ignore[operator]


@dataclass(frozen=True)
class Many:
    """A tuple of `item`s (non-empty unless `empty_ok`); `good` is a valid item to pad with;
    `also`: whole tuples bad for this field's own rule."""

    item: Int | Real | Choice | Text
    good: object
    empty_ok: bool = False
    also: tuple[tuple, ...] = ()

    def examples(self) -> list[object]:
        items = [v for v in self.item.examples() if v is not None][:6]
        out: list[object] = [(v,) for v in items] + [(self.good, items[0]), None, "abc", 2.0, {"a": 1}, *self.also]
        return out if self.empty_ok else [*out, ()]

    def bad(self) -> st.SearchStrategy:
        pad = st.lists(st.just(self.good), max_size=2)
        with_bad = st.tuples(pad, self.item.bad(), pad).map(lambda t: (*t[0], t[1], *t[2]))
        not_a_tuple = st.one_of(st.none(), st.text(max_size=4), st.floats(), st.integers(),
                                st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))
        parts = [with_bad, not_a_tuple]
        if not self.empty_ok:
            parts.append(st.just(()))
        if self.also:
            parts.append(st.sampled_from(self.also))
        return st.one_of(parts)


@dataclass(frozen=True)
class Choice:
    """One of the strings `options`."""

    options: tuple[str, ...]

    def examples(self) -> list[object]:
        return ["zzz", "", self.options[0].upper() + "!", None, 3, [self.options[0]], (self.options[0],)]

    def bad(self) -> st.SearchStrategy:
        return st.one_of(st.text(max_size=8).filter(lambda s: s not in self.options), st.none(), st.integers(),
                         st.lists(st.sampled_from(self.options), min_size=1, max_size=2))


@dataclass(frozen=True)
class Text:
    """A non-empty string (a column, a phrase, a path); `optional`: None is valid; `must_exist`: a
    path the config checks on disk (a missing one is a FileNotFoundError)."""

    optional: bool = False
    must_exist: bool = False

    def examples(self) -> list[object]:
        out: list[object] = ["", "   ", 3, ["a"], b"bytes", 1.5]
        out += [] if self.optional else [None]
        return out + (["/nonexistent/workbench-bad-input"] if self.must_exist else [])

    def bad(self) -> st.SearchStrategy:
        parts = [BLANK, st.integers(), st.lists(st.text(max_size=3), max_size=2), st.binary(max_size=3)]
        if not self.optional:
            parts.append(st.none())
        if self.must_exist:
            parts.append(st.text(alphabet="abcxyz", min_size=1, max_size=6).map(lambda s: f"/nonexistent/{s}"))
        return st.one_of(parts)


@dataclass(frozen=True)
class Flag:
    """True or False (0, 1 and "True" are not)."""

    def examples(self) -> list[object]:
        return [0, 1, "True", None, 1.0, [True]]

    def bad(self) -> st.SearchStrategy:
        return st.one_of(st.integers(), st.text(max_size=4), st.none(), st.floats())


@dataclass(frozen=True)
class Device:
    """A device string torch parses."""

    def examples(self) -> list[object]:
        return ["", "gpu", "cuda:x", " cpu", 3, None, ["cpu"]]

    def bad(self) -> st.SearchStrategy:
        return st.one_of(st.sampled_from(["", "gpu", "cuda:x", "zzz", " cpu", "cpu:-1"]), st.integers(), st.none(),
                         st.lists(st.just("cpu"), min_size=1, max_size=2))


Spec = Int | Real | Many | Choice | Text | Flag | Device
POSITIVE = Real(0.0, low_open=True)
UNIT_OPEN_LOW = Real(0.0, 1.0, low_open=True)


def capacity_specs(c: CapacityConfig) -> dict[str, Spec]:
    return {
        "n": Int(2), "d": Int(1, c.n - 1), "kurtosis": Many(Real(1.0), 2.0), "decay": Many(UNIT_OPEN_LOW, 0.9),
        "seeds": Int(1), "steps": Int(1), "lr": POSITIVE, "d_sweep": Many(Int(1, c.n), 2, empty_ok=True),
        "sweep_kurtosis": Many(Real(1.0), 2.0), "sweep_decay": UNIT_OPEN_LOW,
        "relu_feature_prob": Many(UNIT_OPEN_LOW, 0.5, empty_ok=True), "relu_steps": Int(1), "relu_batch": Int(1),
        "seed": Int(0),
    }


def goldilocks_specs(c: GoldilocksConfig) -> dict[str, Spec]:
    D = c.n_params
    return {
        "dataset": Choice(tuple(DATASETS)), "data_path": Text(optional=True), "widths": Many(Int(1), 8, empty_ok=True),
        "activations": Many(Choice(tuple(ACTIVATIONS)), "relu"), "init": Choice(INIT_SCHEMES),
        "radii": Many(POSITIVE, 1.0), "seeds": Int(1), "bases": Int(1), "hessian_dim": Int(1, D - 1),
        "basis": Choice(("orthonormal", "sparse")), "hessian_batch": Int(1), "sphere": Flag(),
        "dtype": Choice(tuple(CURVATURE_DTYPES)), "train_dims": Many(Int(1, D), 4, empty_ok=True),
        "train_radii": Many(POSITIVE, 1.0),  # empty is bad too: the quick config trains on hyperplanes
        "train_steps": Int(1), "train_batch": Int(1), "train_lr": POSITIVE,
        "selection_inits": Int(0, also=(1, 2, 3)), "selection_activation": Choice(tuple(ACTIVATIONS)),
        "selection_rank_by": Choice(RANK_BY), "selection_top": Int(1, c.selection_inits - 1),
        "selection_target": UNIT_OPEN_LOW, "selection_steps": Int(1),
        "selection_eval_every": Int(1, c.selection_steps), "selection_lr": POSITIVE, "selection_batch": Int(1),
        "seed": Int(0),
    }


def ace_specs(c: AceConfig) -> dict[str, Spec]:
    no_anchor = ((0.5,), (0.0, 2.0), (1.0, -1.0))  # α = 0 and α = 1 are the paper's anchors
    return {
        "archs": Many(Choice(ARCHITECTURES), "llama", also=(("llama", "llama"),)), "d_model": Int(4),
        "n_layers": Int(2), "n_heads": Int(1, also=(3, 5, 7)), "d_mlp": Int(1), "llama_steps": Int(1),
        "rwkv_steps": Int(1), "train_batch": Int(1), "lr": POSITIVE, "held_out": Real(0.05, 0.5),
        "n_eval": Int(1), "n_direction": Int(1), "hook": Choice(HOOKS),
        "layer": Int(0, c.n_layers - 1, optional=True), "positions": Choice(POSITIONS),
        "alphas": Many(Real(), 0.0, also=no_anchor), "max_new_tokens": Int(1), "batch_size": Int(1),
        "seed": Int(0), "model": Text(optional=True), "dtype": Choice(tuple(LM_DTYPES)),
        "device_map": Text(optional=True), "harmful_file": Text(optional=True),
        "harmless_file": Text(optional=True), "column": Text(), "judge_model": Text(optional=True),
        "refusal_openers": Many(Text(), "i"),
    }


def robustness_specs(c: RobustnessConfig) -> dict[str, Spec]:
    share = Real(0.0, 1.0, low_open=True, high_open=True)
    return {
        "n_stories": Int(100, 20000), "corpus_unsafe_share": share, "unsafe_rate": share, "top_layers": Int(0, 48),
        "epochs": Int(1), "lr": POSITIVE, "lr_layers": POSITIVE, "batch_size": Int(1), "max_length": Int(8, 4096),
        "max_safe_lost": Real(0.0, 1.0, high_open=True), "n_filter_samples": Int(1), "max_resamples": Int(0),
        "n_attack": Int(1), "max_budget": Int(0, 64), "candidates": Int(1), "rounds": Int(0, 10),
        "n_train_attack": Int(1), "adv_weight": POSITIVE, "seed": Int(0),
        "backbone": Text(optional=True, must_exist=True), "head": Text(optional=True, must_exist=True),
        "data": Text(optional=True, must_exist=True), "text_column": Text(), "label_column": Text(),
    }


CONFIGS: dict[type, Callable[[Any], dict[str, Spec]]] = {
    CapacityConfig: capacity_specs, GoldilocksConfig: goldilocks_specs, AceConfig: ace_specs,
    RobustnessConfig: robustness_specs,
}


def specs_of(cls: type) -> dict[str, Spec]:
    return CONFIGS[cls](cls.quick())


def field_cases() -> Iterator[Any]:
    for cls in CONFIGS:
        for name in specs_of(cls):
            yield pytest.param(cls, name, id=f"{cls.__name__}.{name}")


# --- configs ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", list(CONFIGS), ids=lambda c: c.__name__)
def test_every_config_field_has_a_bad_input_spec(cls):
    """A new field must say what is wrong for it here (so 'every field' stays true)."""
    assert {f.name for f in dataclasses.fields(cls)} == set(specs_of(cls))


@pytest.mark.parametrize("cls, name", list(field_cases()))
def test_canonical_bad_values_are_rejected_naming_the_field(cls, name):
    base = cls.quick()
    for value in specs_of(cls)[name].examples():
        rejects(name, f"{cls.__name__}.{name}", value, lambda: replace(base, **{name: value}))


@pytest.mark.parametrize("cls", list(CONFIGS), ids=lambda c: c.__name__)
@SOME
@given(data=st.data())
def test_drawn_bad_values_are_rejected_naming_the_field(cls, data):
    specs = specs_of(cls)
    name = data.draw(st.sampled_from(sorted(specs)), label="field")
    value = data.draw(specs[name].bad(), label="value")
    rejects(name, f"{cls.__name__}.{name}", value, lambda: replace(cls.quick(), **{name: value}))


def test_a_saved_config_with_a_bad_value_fails_to_load_naming_both(tmp_path):
    folder = capacity_result(CapacityConfig.quick()).save(tmp_path / "r")
    meta = json.loads((folder / "result.json").read_text())
    meta["config"]["lr"] = -1.0
    (folder / "result.json").write_text(json.dumps(meta))
    rejects("path", "CapacityResult.config.lr", -1.0, lambda: CapacityResult.load(folder))
    with pytest.raises(ArtifactError, match="`lr`"):
        CapacityResult.load(folder)


# --- results: missing, truncated, foreign ------------------------------------------------------------
def capacity_result(config: CapacityConfig, fill: float = 0.0, seconds: float = 0.0) -> CapacityResult:
    """A result of `config`'s shapes, every tensor filled with `fill` (no training)."""
    c = config
    K, L, S, D, Q, P = len(c.kurtosis), len(c.decay), c.seeds, len(c.d_sweep), len(c.sweep_kurtosis), len(c.relu_feature_prob)
    full = lambda *shape: torch.full(shape, fill)  # noqa: E731
    return CapacityResult(
        config=c, W=full(K, L, S, c.d, c.n), loss=full(K, L, S), sweep_W=full(D, Q, S, max(c.d_sweep, default=1), c.n),
        sweep_loss=full(D, Q, S), relu_W=full(P, S, c.d, c.n), relu_b=full(P, S, c.n), relu_loss=full(P, S),
        paired_W=full(P, S, c.d, c.n), paired_loss=full(P, S), train_seconds=seconds)


def goldilocks_result(c: GoldilocksConfig) -> GoldilocksResult:
    A, S, B, R, d = len(c.activations), c.seeds, c.bases, len(c.radii), c.hessian_dim
    Rs, T, Q, N = R if c.sphere else 0, len(c.train_dims), len(c.train_radii), c.selection_inits
    K = c.selection_steps // c.selection_eval_every + 1 if N else 0
    z = torch.zeros
    return GoldilocksResult(
        config=c, r_init=1.0, plane_eigs=z(A, S, B, R, d), sphere_eigs=z(A, S, B, Rs, d), sphere_shift=z(A, S, Rs),
        point_loss=z(A, S, R), plane_acc=z(A, T, S, Q), plane_loss=z(A, T, S, Q), sel_measures=z(N, len(RANK_BY)),
        sel_curves=z(N, K), stage_seconds={})


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    """One pristine saved result per kind (capacity, goldilocks) and a capacity of another shape."""
    root = tmp_path_factory.mktemp("saved")
    return {
        "capacity": capacity_result(CapacityConfig.quick()).save(root / "capacity"),
        "capacity_n9": capacity_result(replace(CapacityConfig.quick(), n=9)).save(root / "capacity_n9"),
        "goldilocks": goldilocks_result(GoldilocksConfig.quick()).save(root / "goldilocks"),
    }


@contextmanager
def copy_of(folder: Path) -> Iterator[Path]:
    """A scratch copy of a saved folder (hypothesis examples must not share state)."""
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(shutil.copytree(folder, Path(tmp) / folder.name))


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


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                    max_leaves=6)


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
BIG = dict(n=1024, d=512, kurtosis=(2.0,), decay=(0.9,), seeds=8, d_sweep=(), sweep_kurtosis=(2.0,), relu_feature_prob=())
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


# --- goldilocks data ----------------------------------------------------------------------------------
def test_dataset_names_and_paths_are_checked(tmp_path):
    for name in ("zzz", None, ["mnist"], 3):
        rejects("dataset", "load_dataset name", name, lambda: load_dataset(name))
    rejects("data_path", "load_dataset mnist None", None, lambda: load_dataset("mnist", None))
    for loader in (load_mnist, load_cifar10):
        missing = tmp_path / "missing"
        assert rejects("data_path", f"{loader.__name__} missing", missing, lambda: loader(missing)) is FileNotFoundError
        for bad in (3, ["x"], ""):
            rejects("data_path", f"{loader.__name__} type", bad, lambda: loader(bad))
        (tmp_path / "nothing_here").mkdir(exist_ok=True)
        rejects("data_path", f"{loader.__name__} empty folder", "empty", lambda: loader(tmp_path / "nothing_here"))


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def _split(n: int, dim: int, classes: int = 10) -> dict[str, np.ndarray]:
    x = np.arange(n * dim, dtype=np.float32).reshape(n, dim) % 7
    y = np.arange(n) % classes
    return {"x_train": x, "y_train": y, "x_test": x, "y_test": y}


@pytest.mark.parametrize("loader, arrays", [
    pytest.param(load_mnist, _split(4, 64), id="digits-shaped-for-mnist"),
    pytest.param(load_cifar10, _split(4, 784), id="mnist-shaped-for-cifar10"),
    pytest.param(load_mnist, {**_split(4, 784), "y_train": np.array([0, 1, 2, 10])}, id="label-out-of-range"),
    pytest.param(load_mnist, {**_split(4, 784), "y_train": np.array([0.5, 1, 2, 3])}, id="fractional-label"),
    pytest.param(load_mnist, {**_split(4, 784), "y_train": np.zeros((4, 2), int)}, id="labels-2d"),
    pytest.param(load_mnist, {**_split(4, 784), "x_train": np.full((4, 784), np.nan)}, id="nan-pixels"),
    pytest.param(load_mnist, {**_split(4, 784), "x_test": np.array(3.0)}, id="scalar-inputs"),
    pytest.param(load_mnist, {**_split(4, 784), "x_test": np.full((4, 784), "a")}, id="string-inputs"),
    pytest.param(load_mnist, {**_split(0, 784)}, id="empty"),
    pytest.param(load_mnist, {k: v for k, v in _split(4, 784).items() if k != "y_test"}, id="missing-array"),
])
def test_an_npz_of_another_shape_is_rejected(tmp_path, loader, arrays):
    path = _npz(tmp_path / "data.npz", **arrays)
    rejects("data_path", f"npz {loader.__name__}", {k: (v.shape, str(v.dtype)) for k, v in arrays.items()},
            lambda: loader(path))


DTYPES = st.sampled_from([np.float32, np.int64, np.uint8, np.bool_, np.complex64, np.dtype("U2")])


@FEW
@given(arrays=st.fixed_dictionaries({k: hnp.arrays(DTYPES, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
                                     for k in ("x_train", "y_train", "x_test", "y_test")}),
       loader=st.sampled_from([load_mnist, load_cifar10]))
def test_any_small_npz_is_rejected(arrays, loader):
    """No array of ≤ 4³ values can be MNIST (784 features) or CIFAR-10 (3072)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = _npz(Path(tmp) / "data.npz", **arrays)
        rejects("data_path", f"small npz {loader.__name__}", {k: (v.shape, str(v.dtype)) for k, v in arrays.items()},
                lambda: loader(path))


def _idx(path: Path, data: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, data.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in data.shape)
    path.write_bytes(header + data.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def mnist_folder(tmp_path_factory) -> Path:
    """Four valid IDX files (2 images each)."""
    root = tmp_path_factory.mktemp("mnist")
    for split, n in (("train", 2), ("t10k", 2)):
        _idx(root / f"{split}-images-idx3-ubyte", np.arange(n * 784).reshape(n, 28, 28) % 256)
        _idx(root / f"{split}-labels-idx1-ubyte", np.arange(n))
    return root


def test_the_mnist_fixture_loads(mnist_folder):
    assert load_mnist(mnist_folder).x_train.shape == (2, 784)


@FEW
@given(file=st.sampled_from(["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]),
       keep=st.floats(0.0, 1.0, exclude_max=True))
def test_a_truncated_idx_file_is_rejected(mnist_folder, file, keep):
    with copy_of(mnist_folder) as root:
        raw = (root / file).read_bytes()
        (root / file).write_bytes(raw[: int(keep * len(raw))])
        rejects("data_path", "truncated idx", (file, int(keep * len(raw))), lambda: load_mnist(root))


@pytest.mark.parametrize("content", [b"", b"\x00\x00\x09\x01abcd", b"\x1f\x8b\x08garbage", b"\x00\x00\x08\x03\x00\x00"])
def test_a_foreign_idx_file_is_rejected(mnist_folder, content):
    with copy_of(mnist_folder) as root:
        (root / "train-images-idx3-ubyte").unlink()
        (root / "train-images-idx3-ubyte.gz").write_bytes(content if content.startswith(b"\x1f") else gzip.compress(content))
        rejects("data_path", "foreign idx", content, lambda: load_mnist(root))


def test_a_cifar_folder_given_as_mnist_and_back(tmp_path, mnist_folder):
    cifar = tmp_path / "cifar"
    cifar.mkdir()
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        (cifar / name).write_bytes(bytes(3073))
    assert rejects("data_path", "cifar as mnist", "cifar", lambda: load_mnist(cifar)) is FileNotFoundError
    assert rejects("data_path", "mnist as cifar", "mnist", lambda: load_cifar10(mnist_folder)) is FileNotFoundError
    (cifar / "test_batch.bin").write_bytes(bytes(3000))
    rejects("data_path", "cifar bin size", 3000, lambda: load_cifar10(cifar))


@FEW
@given(content=st.one_of(
    st.binary(max_size=64),
    st.builds(pickle.dumps, JSON),
    st.builds(lambda d: pickle.dumps({b"data": d, b"labels": [0]}), st.lists(st.text(max_size=2), max_size=2)),
))
def test_a_foreign_cifar_python_batch_is_rejected(content):
    with tempfile.TemporaryDirectory() as tmp:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            (Path(tmp) / name).write_bytes(content)
        rejects("data_path", "cifar python batch", content, lambda: load_cifar10(tmp))


def test_a_pickle_that_runs_code_is_refused(tmp_path):
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (tmp_path / name).write_bytes(pickle.dumps(os.getcwd))  # a reference to a callable
    rejects("data_path", "cifar code pickle", "os.getcwd", lambda: load_cifar10(tmp_path))


# --- robustness data --------------------------------------------------------------------------------
def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_labelled_files_missing_empty_or_without_the_columns(tmp_path):
    cases: list[tuple[str, Path, dict[str, str]]] = [
        ("data", tmp_path / "missing.csv", {}),
        ("data", _write(tmp_path / "empty.csv", b""), {}),
        ("data", _csv(tmp_path / "header.csv", ["text", "label"], []), {}),
        ("label_column", _csv(tmp_path / "nolabel.csv", ["text", "y"], [["a", "1"]]), {}),
        ("text_column", _csv(tmp_path / "notext.csv", ["body", "label"], [["a", "1"]]), {}),
        ("text_column", _csv(tmp_path / "ok.csv", ["text", "label"], [["a", "1"], ["b", "0"]]), {"text_column": "body"}),
        ("label_column", _csv(tmp_path / "one.csv", ["text", "label"], [["a", "1"], ["b", "1"]]), {}),
        ("text_column", _csv(tmp_path / "blank.csv", ["text", "label"], [["  ", "1"], ["b", "0"]]), {}),
        ("data", _write(tmp_path / "list.jsonl", b'{"text": "a", "label": 1}\n[1, 2]\n'), {}),
        ("data", _write(tmp_path / "bad.jsonl", b'{"text": "a", "label": 1}\n{oops\n'), {}),
        ("label_column", _write(tmp_path / "nolabel.jsonl", b'{"text": "a"}\n'), {}),
        ("data", _write(tmp_path / "latin1.csv", "text,label\ncaf\xe9,1\n".encode("latin-1")), {}),
        ("data", _write(tmp_path / "data.txt", b"text,label\na,1\n"), {}),
        ("text_column", _csv(tmp_path / "ok2.csv", ["text", "label"], [["a", "1"]]), {"text_column": ["text"]}),
        ("label_column", _csv(tmp_path / "ok3.csv", ["text", "label"], [["a", "1"]]), {"label_column": None}),
    ]
    for param, path, kwargs in cases:
        rejects(param, "load_labelled", (path.name, kwargs), lambda: load_labelled(path, **kwargs))
    for bad in (None, 3, ""):
        rejects("data", "load_labelled type", bad, lambda: load_labelled(bad))


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8).filter(str.strip)


@FEW
@given(texts=st.lists(TEXT, min_size=1, max_size=4), labels=st.data(), suffix=st.sampled_from([".csv", ".jsonl"]))
def test_labels_other_than_0_and_1_are_rejected(texts, labels, suffix):
    bad = labels.draw(st.one_of(TEXT, st.integers(), st.floats()).filter(lambda v: str(v).strip() not in ("0", "1")))
    rows = [[t, "0" if i % 2 else "1"] for i, t in enumerate(texts)] + [["x", bad]]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data{suffix}"
        if suffix == ".csv":
            _csv(path, ["text", "label"], [[t, str(lab)] for t, lab in rows])
        else:
            path.write_text("".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rows), encoding="utf-8")
        rejects("label_column", "labels", bad, lambda: load_labelled(path))


@FEW
@given(content=st.binary(max_size=48), suffix=st.sampled_from([".csv", ".jsonl", ".tsv"]))
def test_arbitrary_bytes_as_labelled_data_fail_cleanly(content, suffix):
    """Random bytes never hold rows with both labels, so they fail, naming the file or a column."""
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(Path(tmp) / f"data{suffix}", content)
        rejects(("data", "text_column", "label_column"), "labelled bytes", content, lambda: load_labelled(path))


# --- ACE prompts and steering -----------------------------------------------------------------------
def test_prompt_files_missing_empty_or_without_the_column(tmp_path):
    cases = [
        ("harmful_file", tmp_path / "missing.csv", "prompt"),
        ("harmful_file", _write(tmp_path / "empty.csv", b""), "prompt"),
        ("harmful_file", _write(tmp_path / "empty.jsonl", b""), "prompt"),
        ("harmful_file", _write(tmp_path / "blank.jsonl", b"\n \n"), "prompt"),
        ("harmful_file", _write(tmp_path / "blank.csv", b"prompt\n \n\n"), "prompt"),
        ("column", _write(tmp_path / "other.csv", b"text\nhello\n"), "prompt"),
        ("column", _write(tmp_path / "other.jsonl", b'{"text": "hello"}\n'), "prompt"),
        ("column", _write(tmp_path / "list.jsonl", b'["hello"]\n'), "prompt"),
        ("harmful_file", _write(tmp_path / "broken.jsonl", b'{"prompt": \n'), "prompt"),
        ("harmful_file", _write(tmp_path / "latin1.csv", "prompt\ncaf\xe9\n".encode("latin-1")), "prompt"),
        ("harmful_file", _write(tmp_path / "prompts.txt", b"hello\n"), "prompt"),
        ("column", _write(tmp_path / "ok.csv", b"prompt\nhello\n"), None),
        ("column", _write(tmp_path / "ok2.csv", b"prompt\nhello\n"), ""),
    ]
    for param, path, column in cases:
        rejects(param, "load_prompts", (path.name, column), lambda: load_prompts(path, column, name="harmful_file"))
    for bad in (None, 3, ""):
        rejects("harmful_file", "load_prompts type", bad, lambda: load_prompts(bad, name="harmful_file"))


@FEW
@given(content=st.binary(max_size=48), suffix=st.sampled_from([".csv", ".jsonl"]))
def test_arbitrary_bytes_as_a_prompt_file_fail_cleanly_or_load(content, suffix):
    """Random bytes may by chance be a prompt file; if they are not, the error names the file or
    the column."""
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(Path(tmp) / f"p{suffix}", content)
        try:
            prompts = load_prompts(path, "prompt", name="harmful_file")
        except (ValueError, FileNotFoundError):
            rejects(("harmful_file", "column"), "prompt bytes", content, lambda: load_prompts(path, name="harmful_file"))
        else:
            assert prompts and all(p.strip() for p in prompts)


def test_a_real_model_config_needs_two_prompts_per_file(tmp_path):
    one = _write(tmp_path / "one.csv", b"prompt\nhello\n")
    two = _write(tmp_path / "two.csv", b"prompt\nhello\nthere\n")
    config = AceConfig(model=str(tmp_path), harmful_file=str(one), harmless_file=str(two))
    rejects("harmful_file", "prompt_sets", "one prompt", lambda: prompt_sets(config))
    missing = replace(config, harmful_file=str(two), harmless_file=str(tmp_path / "missing.jsonl"))
    rejects("harmless_file", "prompt_sets missing", "missing", lambda: prompt_sets(missing))


D_MODEL = 16


@FEW
@given(width=st.integers(1, 64).filter(lambda w: w != D_MODEL), method=st.sampled_from(METHODS[1:]))
def test_a_direction_file_of_the_wrong_width_is_rejected(width, method):
    """A steering vector saved as safetensors at another model's width, applied to this one."""
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "direction.safetensors"
        save_file({"direction": torch.randn(width), "mu_neg": torch.randn(width)}, str(file))
        vectors = load_file(str(file))
        edit = make_edit(method, vectors["direction"], vectors["mu_neg"], alpha=1.0)
        acts = torch.randn(3, D_MODEL)
        rejects("direction", f"steer width {method}", width, lambda: edit.apply(acts))
        rejects("direction", f"affine_edit width {method}", width,
                lambda: affine_edit(acts, vectors["direction"], None, 1.0))
        model = nn.Sequential(nn.Linear(D_MODEL, D_MODEL))
        with steer(model, {"0": edit}):
            rejects("direction", f"hooked forward {method}", width, lambda: model(acts))


def test_bad_steering_vectors_are_rejected():
    d = torch.ones(D_MODEL)
    cases: list[tuple[str, Callable[[], object], object]] = [
        ("direction", lambda: make_edit("ace", torch.zeros(D_MODEL), d), "zero"),
        ("direction", lambda: make_edit("ace", torch.full((D_MODEL,), NAN), d), "nan"),
        ("direction", lambda: make_edit("ace", torch.ones(2, D_MODEL), d), "2-d"),
        ("direction", lambda: make_edit("actadd", torch.ones(D_MODEL, dtype=torch.long), alpha=1.0), "int dtype"),
        ("direction", lambda: make_edit("actadd", [1.0] * D_MODEL, alpha=1.0), "a list"),
        ("reference", lambda: make_edit("ace", d, torch.ones(D_MODEL + 1)), "reference width"),
        ("reference", lambda: make_edit("affine_ablation", d, None), "reference missing"),
        ("alpha", lambda: make_edit("ace", d, d, alpha=NAN), "alpha nan"),
        ("alpha", lambda: make_edit("actadd", d, alpha="1"), "alpha str"),
        ("method", lambda: make_edit("steer", d, d), "unknown method"),
        ("method", lambda: make_edit(None, d, d), "method None"),
        ("alpha", lambda: SteeringEdit(d, None, INF), "edit alpha inf"),
        ("positions", lambda: steer(nn.Linear(2, 2), {}, "last").__enter__(), "positions"),
        ("hook", lambda: steer(nn.Sequential(nn.Linear(2, 2)), {"7": make_edit("actadd", torch.ones(2), alpha=1.0)}),
         "hook"),
    ]
    for param, call, label in cases:
        rejects(param, "steering", label, call)


# --- robustness classifier ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(max_length=16)


@pytest.fixture(scope="module")
def head_file(classifier, tmp_path_factory) -> Path:
    return classifier.save_head(tmp_path_factory.mktemp("head") / "head.safetensors", top_layers=1)


def test_a_head_that_does_not_fit_the_backbone_is_rejected(classifier, head_file, tmp_path):
    hidden = classifier.hidden
    layer_key = next(k for k in load_file(str(head_file)) if k.startswith("encoder.layer."))
    head = {"head.weight": torch.zeros(1, hidden), "head.bias": torch.zeros(1)}
    cases = {
        "missing": tmp_path / "missing.safetensors",
        "not-safetensors": _write(tmp_path / "text.safetensors", b"hello"),
        "no-bias": _tensors(tmp_path / "nobias.safetensors", {"head.weight": head["head.weight"]}),
        "narrow": _tensors(tmp_path / "narrow.safetensors", {**head, "head.weight": torch.zeros(1, hidden - 1)}),
        "two-outputs": _tensors(tmp_path / "two.safetensors", {"head.weight": torch.zeros(2, hidden), "head.bias": torch.zeros(2)}),
        "foreign-layer": _tensors(tmp_path / "layer.safetensors", {**head, layer_key: torch.zeros(3)}),
        "unknown-layer-key": _tensors(tmp_path / "key.safetensors", {**head, "encoder.layer.99.x": torch.zeros(1)}),
    }
    for label, path in cases.items():
        rejects("head", f"load_head {label}", label, lambda: classifier.load_head(path))
    for bad in (None, 3, ""):
        rejects("head", "load_head type", bad, lambda: classifier.load_head(bad))


def _tensors(path: Path, tensors: dict[str, torch.Tensor]) -> Path:
    save_file(tensors, str(path))
    return path


@FEW
@given(keep=st.floats(0.0, 1.0, exclude_max=True))
def test_a_truncated_head_file_is_rejected(classifier, head_file, keep):
    raw = head_file.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(Path(tmp) / "head.safetensors", raw[: int(keep * len(raw))])
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
        _write(tmp_path / label / "config.json", content)
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

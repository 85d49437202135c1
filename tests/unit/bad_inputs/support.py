"""Helpers shared by the bad-input tests: the one assertion (`rejects`), hypothesis settings, file
writers and results built without training."""

from __future__ import annotations

import csv
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from workbench.capacity import CapacityConfig, CapacityResult
from workbench.goldilocks import GoldilocksConfig, GoldilocksResult
from workbench.goldilocks.config import RANK_BY

# Modest example counts keep each module well under a minute on two cores; no example database, so
# a run leaves no .hypothesis folder behind.
FEW = settings(max_examples=25, deadline=None, database=None)
SOME = settings(max_examples=50, deadline=None, database=None)

NAN, INF = float("nan"), float("inf")
# (case, repr of the input, exception type) of every bad input tried; read by whoever wants the
# count (the tests print nothing).
TRIED: set[tuple[str, str, str]] = set()

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                    max_leaves=6)


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
    except Exception as err:  # noqa: BLE001 - any other type is exactly what these tests hunt
        pytest.fail(f"{case}: {type(err).__name__} (not ValueError/FileNotFoundError) for {shown}: {err}")
    pytest.fail(f"{case}: {shown} was accepted")


def show(value: object) -> str:
    """repr(value), cut short; Python refuses to print ints past 4300 digits, so those get a name."""
    try:
        return repr(value)[:300]
    except ValueError:
        return f"<{type(value).__name__} holding an integer past 4300 digits>"


# --- files ------------------------------------------------------------------------------------------
def write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> Path:
    save_file(tensors, str(path))
    return path


def write_idx(path: Path, data: np.ndarray) -> None:
    """`data` as an MNIST IDX file (unsigned bytes)."""
    header = bytes([0, 0, 0x08, data.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in data.shape)
    path.write_bytes(header + data.astype(np.uint8).tobytes())


@contextmanager
def copy_of(folder: Path) -> Iterator[Path]:
    """A scratch copy of a saved folder (hypothesis examples must not share state)."""
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(shutil.copytree(folder, Path(tmp) / folder.name))


# --- results without training -----------------------------------------------------------------------
def capacity_result(config: CapacityConfig, fill: float = 0.0, seconds: float = 0.0) -> CapacityResult:
    """A result of `config`'s shapes, every tensor filled with `fill` (no training)."""
    tensors = {name: torch.full(shape, fill) for name, shape in CapacityResult.shapes(config).items()}
    return CapacityResult(config=config, train_seconds=seconds, **tensors)


def goldilocks_result(c: GoldilocksConfig) -> GoldilocksResult:
    A, S, B, R, d = len(c.activations), c.seeds, c.bases, len(c.ratios), c.hessian_dim
    Rs, T, Q, N = R if c.sphere else 0, len(c.train_dims), len(c.train_ratios), c.selection_inits
    K = c.selection_steps // c.selection_eval_every + 1 if N else 0
    M = N + c.selection_controls if N else 0
    z = torch.zeros
    return GoldilocksResult(
        config=c,
        r_init=1.0,
        plane_eigs=z(A, S, B, R, d),
        sphere_eigs=z(A, S, B, Rs, d),
        sphere_shift=z(A, S, Rs),
        point_loss=z(A, S, R),
        iso_plane_eigs=z(A, S if c.isotropic else 0, B, R, d),
        dims_ratio=z(A, len(c.compare_dims), B, R),
        dims_positive=z(A, len(c.compare_dims), B, R),
        density_at=z(3 if c.density_steps else 0),
        density_nodes=z(A, 3 if c.density_steps else 0, c.density_probes, c.density_steps),
        density_weights=z(A, 3 if c.density_steps else 0, c.density_probes, c.density_steps),
        plane_acc=z(A, T, S, Q),
        plane_loss=z(A, T, S, Q),
        sphere_acc=z(A, T, S, Q),
        full_acc=z(A, S if T else 0),
        d90_plane_acc=z(A, len(c.d90_dims), S, len(c.d90_ratios) if c.d90_dims else 0),
        d90_sphere_acc=z(A, len(c.d90_dims), S, len(c.d90_ratios) if c.d90_dims else 0),
        sel_measures=z(M, len(RANK_BY)),
        sel_retest=z(M, 4),
        sel_ratios=z(M),
        sel_curves=z(M, K),
        sel_losses=z(M, c.selection_steps if N else 0),
        stage_seconds={},
    )

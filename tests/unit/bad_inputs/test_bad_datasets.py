"""Goldilocks datasets (npz, IDX, CIFAR batches) and robustness labelled files that are missing,
truncated, foreign-shaped or of the wrong columns fail naming `data_path` or the column."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.unit.bad_inputs.support import (
    FEW,
    JSON,
    copy_of,
    rejects,
    write,
    write_csv,
)
from workbench.goldilocks import load_cifar10, load_dataset, load_mnist
from workbench.robustness import load_labelled


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
        (root / "train-images-idx3-ubyte.gz").write_bytes(
            content if content.startswith(b"\x1f") else gzip.compress(content)
        )
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
def test_labelled_files_missing_empty_or_without_the_columns(tmp_path):
    cases: list[tuple[str, Path, dict[str, str]]] = [
        ("data", tmp_path / "missing.csv", {}),
        ("data", write(tmp_path / "empty.csv", b""), {}),
        ("data", write_csv(tmp_path / "header.csv", ["text", "label"], []), {}),
        ("label_column", write_csv(tmp_path / "nolabel.csv", ["text", "y"], [["a", "1"]]), {}),
        ("text_column", write_csv(tmp_path / "notext.csv", ["body", "label"], [["a", "1"]]), {}),
        (
            "text_column",
            write_csv(tmp_path / "ok.csv", ["text", "label"], [["a", "1"], ["b", "0"]]),
            {"text_column": "body"},
        ),
        ("label_column", write_csv(tmp_path / "one.csv", ["text", "label"], [["a", "1"], ["b", "1"]]), {}),
        ("text_column", write_csv(tmp_path / "blank.csv", ["text", "label"], [["  ", "1"], ["b", "0"]]), {}),
        ("data", write(tmp_path / "list.jsonl", b'{"text": "a", "label": 1}\n[1, 2]\n'), {}),
        ("data", write(tmp_path / "bad.jsonl", b'{"text": "a", "label": 1}\n{oops\n'), {}),
        ("label_column", write(tmp_path / "nolabel.jsonl", b'{"text": "a"}\n'), {}),
        ("data", write(tmp_path / "latin1.csv", "text,label\ncaf\xe9,1\n".encode("latin-1")), {}),
        ("data", write(tmp_path / "data.txt", b"text,label\na,1\n"), {}),
        ("text_column", write_csv(tmp_path / "ok2.csv", ["text", "label"], [["a", "1"]]), {"text_column": ["text"]}),
        ("label_column", write_csv(tmp_path / "ok3.csv", ["text", "label"], [["a", "1"]]), {"label_column": None}),
    ]
    for param, path, kwargs in cases:
        rejects(param, "load_labelled", (path.name, kwargs), lambda: load_labelled(path, **kwargs))
    for bad in (None, 3, ""):
        rejects("data", "load_labelled type", bad, lambda: load_labelled(bad))

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8).filter(str.strip)

@FEW
@given(texts=st.lists(TEXT, min_size=1, max_size=4), labels=st.data(), suffix=st.sampled_from([".csv", ".jsonl"]))
def test_labels_other_than_0_and_1_are_rejected(texts, labels, suffix):
    bad = labels.draw(st.one_of(TEXT, st.integers(), st.floats()).filter(lambda v: str(v).strip() not in ("0", "1")))
    rows = [[t, "0" if i % 2 else "1"] for i, t in enumerate(texts)] + [["x", bad]]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data{suffix}"
        if suffix == ".csv":
            write_csv(path, ["text", "label"], [[t, str(lab)] for t, lab in rows])
        else:
            path.write_text("".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rows), encoding="utf-8")
        rejects("label_column", "labels", bad, lambda: load_labelled(path))

@FEW
@given(content=st.binary(max_size=48), suffix=st.sampled_from([".csv", ".jsonl", ".tsv"]))
def test_arbitrary_bytes_as_labelled_data_fail_cleanly(content, suffix):
    """Random bytes never hold rows with both labels, so they fail, naming the file or a column."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp) / f"data{suffix}", content)
        rejects(("data", "text_column", "label_column"), "labelled bytes", content, lambda: load_labelled(path))

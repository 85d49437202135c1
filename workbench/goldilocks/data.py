"""Classification data as standardised float tensors: the embedded digits, or local MNIST / CIFAR-10.

    load_dataset("digits")                       scikit-learn's 8x8 digits (1,797 images, bundled)
    load_dataset("mnist", "/path/to/MNIST")      IDX files (raw or .gz) or an .npz
    load_dataset("cifar10", "/path/to/cifar")    CIFAR-10 binary (.bin) or python batches

Nothing is ever downloaded. A missing path raises FileNotFoundError naming `data_path`; files of
another shape raise ValueError. CIFAR-10's python batches are pickles: they are read with an
allow-list unpickler that reconstructs only dicts, lists, bytes and NumPy arrays (no code runs).
Inputs are flattened, scaled by the training set's per-feature mean and std, and kept in float32.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from workbench.core.validation import check_choice, check_int, check_path, check_range

DATASETS = {"digits": (64, 10), "mnist": (784, 10), "cifar10": (3072, 10)}  # (input dim, classes)


@dataclass(frozen=True)
class Dataset:
    """A fixed train/test split, standardised with the training statistics."""

    name: str
    x_train: Float[Tensor, "n_train in_dim"]
    y_train: Int[Tensor, " n_train"]
    x_test: Float[Tensor, "n_test in_dim"]
    y_test: Int[Tensor, " n_test"]

    @property
    def in_dim(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_classes(self) -> int:
        return DATASETS[self.name][1]

    def subset(self, n: int, seed: int = 0) -> tuple[Tensor, Tensor]:
        """A fixed random subset of n training examples (the curvature probe's batch)."""
        n = check_int("n", n, low=1, high=len(self.y_train))
        idx = torch.randperm(len(self.y_train), generator=torch.Generator().manual_seed(seed))[:n]
        return self.x_train[idx], self.y_train[idx]

    def to(self, device: str | torch.device) -> Dataset:
        return Dataset(self.name, *(t.to(device) for t in (self.x_train, self.y_train, self.x_test, self.y_test)))


def check_dataset(name: str) -> str:
    return check_choice("dataset", name, DATASETS)


def _standardise(x_train: np.ndarray, x_test: np.ndarray) -> tuple[Tensor, Tensor]:
    x_train, x_test = x_train.astype(np.float64), x_test.astype(np.float64)
    mean, std = x_train.mean(0), x_train.std(0)
    std[std == 0] = 1.0  # constant pixels (digit borders) stay 0 instead of NaN
    return (torch.tensor((x_train - mean) / std, dtype=torch.float32),
            torch.tensor((x_test - mean) / std, dtype=torch.float32))


def _check_split(name: str, split: str, x: np.ndarray, y: np.ndarray, path: object) -> np.ndarray:
    """x as [n, in_dim] finite numbers and y as n integer labels of `name`, or ValueError naming
    `data_path` (arrays from a user's file may have any shape or dtype)."""
    in_dim, classes = DATASETS[name]
    x, y = np.asarray(x), np.asarray(y)
    need = f"{name} needs [n, {in_dim}] numeric inputs with n ≥ 1 integer labels"
    numeric = all(a.dtype.kind in "biuf" for a in (x, y))
    if not numeric or x.ndim < 1 or y.ndim != 1 or len(x) != len(y) or len(y) == 0:
        raise ValueError(f"`data_path` {path!s} holds {split} inputs {x.shape} {x.dtype} with labels {y.shape} "
                         f"{y.dtype}; {need}")
    x = x.reshape(len(x), -1)
    if x.shape[1] != in_dim or not np.isfinite(x).all():
        raise ValueError(f"`data_path` {path!s} holds {split} inputs of shape {x.shape} (finite: "
                         f"{bool(np.isfinite(x).all())}); {need}")
    if y.dtype.kind == "f" and not (np.isfinite(y).all() and (y == np.round(y)).all()):
        raise ValueError(f"`data_path` {path!s}: {split} labels must be integers; got non-integer values")
    if y.min() < 0 or y.max() >= classes:
        raise ValueError(f"`data_path` {path!s}: {split} labels must lie in [0, {classes - 1}]; "
                         f"got [{y.min()}, {y.max()}]")
    return x


def _build(name: str, xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, yte: np.ndarray, path: object) -> Dataset:
    xtr, xte = _check_split(name, "train", xtr, ytr, path), _check_split(name, "test", xte, yte, path)
    x_train, x_test = _standardise(xtr, xte)
    return Dataset(name, x_train, torch.tensor(ytr, dtype=torch.long), x_test, torch.tensor(yte, dtype=torch.long))


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's bundled 8x8 digits with a fixed stratified split."""
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split

    check_range("test_fraction", test_fraction, 0.0, 1.0, low_open=True, high_open=True)
    x, y = sk_digits(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)
    return _build("digits", xtr, ytr, xte, yte, "sklearn")


# --- MNIST ----------------------------------------------------------------------------------------
def _read_idx(path: Path) -> np.ndarray:
    """An IDX file (raw or gzip): magic 0x00 0x00 dtype ndim, big-endian dims, then the data."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"`data_path`: {path} is not a readable gzip file: {err}") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or len(raw) < 4 + 4 * raw[3]:
        raise ValueError(f"`data_path`: {path} is not an unsigned-byte IDX file (or its header is truncated)")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"`data_path`: {path} is truncated ({data.size} bytes for dims {dims.tolist()})")
    return data.reshape(dims)


def _find(root: Path, stems: tuple[str, ...]) -> Path | None:
    """The first file under root (searched recursively: torchvision's MNIST/raw layout) named stem[.gz]."""
    for stem in stems:
        for name in (stem, stem + ".gz"):
            hits = sorted(root.rglob(name))
            if hits:
                return hits[0]
    return None


def _load_npz(path: Path, name: str) -> Dataset:
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):  # a bare .npy holds one array
            raise ValueError("it holds a single array, not an .npz archive")
        with z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise ValueError(f"missing arrays {missing} (has {z.files})")
            arrays = [z[k] for k in keys]
    # a truncated or foreign file fails inside zipfile / numpy with no word of the parameter
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise ValueError(f"`data_path` {path} must be an .npz holding arrays {list(keys)}: {err}") from err
    return _build(name, *arrays, path)


def load_mnist(path: str | os.PathLike) -> Dataset:
    """MNIST from a folder of IDX files (train-images-idx3-ubyte[.gz] …, any depth) or an .npz with
    x_train, y_train, x_test, y_test."""
    root = _existing(path)
    if root.is_file():
        return _load_npz(root, "mnist")
    names = {"xtr": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
             "ytr": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
             "xte": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
             "yte": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte")}
    found = {k: _find(root, v) for k, v in names.items()}
    if None in found.values():
        npz = sorted(root.glob("*.npz"))
        if npz:
            return _load_npz(npz[0], "mnist")
        missing = [names[k][0] for k, v in found.items() if v is None]
        raise FileNotFoundError(f"`data_path` {root} holds no MNIST IDX files {missing} (nor an .npz); "
                                "nothing is downloaded: put the four files there")
    arrays = {k: _read_idx(p) for k, p in found.items()}
    return _build("mnist", arrays["xtr"], arrays["ytr"], arrays["xte"], arrays["yte"], root)


# --- CIFAR-10 -------------------------------------------------------------------------------------
class _ArrayUnpickler(pickle.Unpickler):
    """Reconstructs only NumPy arrays and plain containers: anything else is refused."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")
        return super().find_class(module, name)


def _cifar_python_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = _ArrayUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except Exception as err:  # noqa: BLE001 - arbitrary bytes make the unpickler fail in arbitrary ways
        raise ValueError(f"`data_path`: {path} is not a CIFAR-10 python batch: {err}") from err
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError(f"`data_path`: {path} lacks the b'data' / b'labels' entries of a CIFAR-10 batch")
    return np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])


def _cifar_binary_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    if raw.size % 3073:
        raise ValueError(f"`data_path`: {path} is not a CIFAR-10 binary batch (size not a multiple of 3073)")
    rows = raw.reshape(-1, 3073)
    return rows[:, 1:], rows[:, 0]


def load_cifar10(path: str | os.PathLike) -> Dataset:
    """CIFAR-10 from `cifar-10-batches-bin/` (data_batch_{1..5}.bin, test_batch.bin), from
    `cifar-10-batches-py/` (data_batch_{1..5}, test_batch), or an .npz."""
    root = _existing(path)
    if root.is_file():
        return _load_npz(root, "cifar10")
    for suffix, reader in ((".bin", _cifar_binary_batch), ("", _cifar_python_batch)):
        train = [_find(root, (f"data_batch_{i}{suffix}",)) for i in range(1, 6)]
        test = _find(root, (f"test_batch{suffix}",))
        if test is not None and all(p is not None for p in train):
            parts = [reader(p) for p in train]  # type: ignore[arg-type]
            xte, yte = reader(test)
            return _build("cifar10", np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                          xte, yte, root)
    npz = sorted(root.glob("*.npz"))
    if npz:
        return _load_npz(npz[0], "cifar10")
    raise FileNotFoundError(f"`data_path` {root} holds no CIFAR-10 batches (data_batch_1..5 and test_batch, "
                            "binary .bin or python) nor an .npz; nothing is downloaded")


def _existing(path: str | os.PathLike | None) -> Path:
    if path is None:
        raise ValueError("`data_path` must be given for mnist / cifar10 (a local folder or .npz file)")
    p = check_path("data_path", path)
    if not p.exists():
        raise FileNotFoundError(f"`data_path` {p} does not exist (nothing is downloaded; point it at local files)")
    return p


def load_dataset(name: str, data_path: str | os.PathLike | None = None, seed: int = 0) -> Dataset:
    """The named dataset: 'digits' (embedded) or 'mnist' / 'cifar10' from `data_path`."""
    check_dataset(name)
    if name == "digits":
        return load_digits(seed=seed)
    return load_mnist(data_path) if name == "mnist" else load_cifar10(data_path)

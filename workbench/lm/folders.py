"""HF model folders: a hash-keyed cache of trained tiny models, and booting any causal-LM folder
(the embedded ones or a user's real one) through TransformerLens's `TransformerBridge`.

Cache layout: ``<WORKBENCH_CACHE>/<kind>/<key>/`` holding an HF folder (config.json,
model.safetensors, tokenizer files) plus ``workbench.json`` (kind, key, the config that built it).
The key hashes (kind, config, code fingerprint). An entry missing a file, with a foreign
workbench.json or unreadable weights is rejected with a warning and rebuilt, never used.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from torch import nn
from transformers import PreTrainedTokenizerBase

from workbench.core.atomic import atomic_dir
from workbench.core.cache import cache_key, default_cache_dir
from workbench.core.paths import check_output_dir
from workbench.core.result import config_to_dict
from workbench.core.validation import check_int, check_path
from workbench.lm.arch_support import CHECKED, SEE, causal_lm_architecture
from workbench.lm.compat import prepare_cached_decoding
from workbench.lm.fastpath import remember_own_hooks
from workbench.lm.rwkv5_hf import is_rwkv5_config, load_folder
from workbench.lm.specs import DTYPES  # noqa: F401  (its home; importable here)

STAMP = "workbench.json"
REQUIRED = ("config.json", "model.safetensors", "tokenizer.json", STAMP)


def _check_entry(path: Path, kind: str, key: str, required: tuple[str, ...] = REQUIRED) -> None:
    missing = [f for f in (*required, STAMP) if not (path / f).is_file()]
    if missing:
        raise ValueError(f"missing {missing}")
    stamp = json.loads((path / STAMP).read_text())
    if not isinstance(stamp, dict):
        raise ValueError(f"{STAMP} holds a JSON {type(stamp).__name__}, not an object")
    if stamp.get("kind") != kind or stamp.get("key") != key:
        raise ValueError(f"{STAMP} names {stamp.get('kind')!r}/{stamp.get('key')!r}, not {kind!r}/{key!r}")
    for name in (f for f in required if f.endswith(".safetensors")):
        with safe_open(str(path / name), framework="pt") as f:
            if not list(f.keys()):
                raise ValueError(f"{name} holds no tensors")


def cached_model_path(kind: str, config: Any, code_version: str, cache_root: str | os.PathLike | None = None) -> Path:
    """Where `cached_model_folder` keeps (kind, config, code_version), whether built yet or not."""
    root = check_path("cache_root", cache_root) if cache_root is not None else default_cache_dir()
    return root / kind / cache_key(kind, config, code_version)


def cached_model_folder(
    kind: str,
    config: Any,
    code_version: str,
    build: Callable[[Path], dict[str, Any]],
    cache_root: str | os.PathLike | None = None,
    required: tuple[str, ...] = REQUIRED,
) -> Path:
    """The folder for (kind, config, code_version), built by `build(tmp_folder)` when missing.

    `build` writes an HF folder (or, with `required`, the files named there) into the temporary
    folder it is given and returns JSON-able facts (training time, losses) stored in the stamp;
    the folder appears atomically when it returns. An entry missing a `required` file is rebuilt.
    """
    path = cached_model_path(kind, config, code_version, cache_root)
    root, key = path.parent.parent, path.name
    if path.exists():
        try:
            _check_entry(path, kind, key, required)
            return path
        except (ValueError, OSError, json.JSONDecodeError, SafetensorError) as err:
            warnings.warn(f"rejected cached model {path}: {err}; rebuilding it", stacklevel=2)
            shutil.rmtree(path, ignore_errors=True)
    check_output_dir("cache", root)  # before the (minutes of) training whose folder goes there
    with atomic_dir(path) as tmp:
        facts = build(tmp)
        stamp = {"kind": kind, "key": key, "code": code_version, "config": config_to_dict(config), "facts": facts}
        (tmp / STAMP).write_text(json.dumps(stamp, indent=1))
    return path


def folder_facts(path: str | os.PathLike) -> dict[str, Any]:
    """The `facts` a cached folder was stamped with ({} for a folder not made by this cache)."""
    stamp = Path(path) / STAMP
    return json.loads(stamp.read_text()).get("facts", {}) if stamp.is_file() else {}


def check_causal_lm_folder(path: str | os.PathLike) -> Path:
    """Raise FileNotFoundError / ValueError (naming `model`) unless `path` is a local HF folder whose
    config.json is a causal LM the bridge has an adapter for (`architectures` or `model_type`; the
    rule is in `workbench.lm.arch_support`: GPT2LMHeadModel and Gemma3ForConditionalGeneration
    count, BERT and T5 do not)."""
    folder = check_path("model", path)
    if not folder.is_dir():
        raise FileNotFoundError(f"`model` folder {str(folder)!r} does not exist")
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ValueError(f"`model` {str(folder)!r} is not an HF model folder: no config.json")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"`model` {str(folder)!r}: config.json is not valid JSON ({err})") from err
    if not isinstance(config, dict):
        raise ValueError(f"`model` {str(folder)!r}: config.json holds a JSON {type(config).__name__}, not an object")
    archs = config.get("architectures") or []
    if not isinstance(archs, list):
        raise ValueError(f"`model` {str(folder)!r}: config.json `architectures` must be a list; got {archs!r}")
    if causal_lm_architecture(config) is None and not is_rwkv5_config(config):
        model_type = config.get("model_type")
        raise ValueError(
            f"`model` {str(folder)!r} is not a causal LM that TransformerLens's bridge can boot: config.json names "
            f"architectures {archs} and model_type {model_type!r}; supported are causal LMs such as "
            f"{', '.join(CHECKED[:8])} and multimodal decoders such as Gemma3ForConditionalGeneration "
            f"(see {SEE})"
        )
    return folder


def fix_pad_token(tokenizer: PreTrainedTokenizerBase, vocab_size: int) -> PreTrainedTokenizerBase:
    """Make `tokenizer` (changed in place, and returned) pad with its EOS token when its pad id is
    None or not below `vocab_size` (an id the embedding has no row for: left-padded batches would
    index out of range), with a warning. ValueError (naming `model`) when the EOS token is missing
    or outside the vocabulary too."""
    vocab_size = check_int("vocab_size", vocab_size, low=1)
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    if isinstance(pad, int) and 0 <= pad < vocab_size:
        return tokenizer
    if not (isinstance(eos, int) and 0 <= eos < vocab_size):
        raise ValueError(
            f"`model`'s tokenizer has no usable pad token (id {pad}) and no EOS token inside the model's "
            f"vocabulary of {vocab_size} ids (EOS id {eos}) to pad with; give the folder's tokenizer a pad or EOS token"
        )
    problem = (
        "has no pad token" if pad is None else f"pads with id {pad}, outside the model's vocabulary of {vocab_size}"
    )
    warnings.warn(
        f"the tokenizer {problem}; padding with its EOS token {tokenizer.eos_token!r} (id {eos})", stacklevel=2
    )
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


@contextmanager
def _offline() -> Iterator[None]:
    """HF_HUB_OFFLINE=1 and TRANSFORMERS_OFFLINE=1 inside, the previous values restored after."""
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ["HF_HUB_OFFLINE"] = os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _torchvision_importable() -> bool:
    try:
        import torchvision  # noqa: F401 — only whether it imports
    except Exception:  # a broken install counts as missing, as in the bridge
        return False
    return True


@contextmanager
def _no_package_installs() -> Iterator[None]:
    """Inside, TransformerLens's `_ensure_torchvision` only checks the import. TransformerLens 4.3
    calls it when a multimodal folder's AutoProcessor fails to load (a folder without processor
    files, or no torchvision) and it then runs `pip install torchvision`, which replaced this
    project's CPU torch by a CUDA build with GBs of nvidia wheels. Without torchvision the bridge
    boots the model with no `processor`; the text path is unaffected."""
    try:
        from transformer_lens.model_bridge.sources.transformers import helpers
    except ImportError:  # another TransformerLens layout: nothing to guard
        yield
        return
    original = getattr(helpers, "_ensure_torchvision", None)
    if original is None:
        yield
        return
    helpers._ensure_torchvision = _torchvision_importable
    try:
        yield
    finally:
        helpers._ensure_torchvision = original


def _vocab_size(bridge: nn.Module) -> int:
    """The HF model's vocabulary (its text config's, for a multimodal model), else the bridge's d_vocab."""
    hf_model = getattr(bridge, "original_model", None)
    config = getattr(hf_model, "config", None)
    if config is not None and getattr(config.get_text_config(), "vocab_size", None):
        return int(config.get_text_config().vocab_size)
    return int(bridge.cfg.d_vocab)


def boot(
    path: str | os.PathLike,
    device: str | torch.device | None = "cpu",
    dtype: str | torch.dtype = "float32",
    device_map: str | dict[str, str | int] | None = None,
) -> nn.Module:
    """Boot a local causal-LM folder (or GGUF file) through `TransformerBridge.boot_transformers`, offline.

    A `.gguf` file, or a folder without config.json holding one, is first converted to a cached
    float32 HF folder (`workbench.lm.gguf.gguf_folder`: once per file content), which is booted.

    HF_HUB_OFFLINE=1 is set for the call (and restored after), so nothing is downloaded: a name
    that is not a local folder fails instead of fetching; the bridge's on-the-fly `pip install
    torchvision` for multimodal folders is disabled too (`_no_package_installs`). `dtype` "float32" | "bfloat16" |
    "float16" (or a torch dtype); `device` e.g. "cuda" on a GPU box. `device_map` (e.g. "auto")
    spreads a model too big for one GPU over the visible devices through accelerate; when given,
    `device` is ignored (the bridge refuses both at once). A tokenizer without a usable pad token
    is made to pad with EOS (`fix_pad_token`, with a warning); a folder the bridge fails to boot
    raises ValueError naming `model`, its architecture and the bridge's error. This project's RWKV
    v5.2 folders (`workbench.lm.rwkv5_hf`) boot without a bridge: the model itself, whose hook
    points carry the bridge's names (``blocks.{i}.hook_resid_pre`` …)."""
    from transformer_lens.model_bridge import TransformerBridge

    from workbench.core.seeding import choose_device
    from workbench.lm.gguf import gguf_folder, is_gguf_path  # here: that module imports this one

    folder = check_causal_lm_folder(gguf_folder(path) if is_gguf_path(path) else path)
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ValueError(f"`dtype` must be one of {sorted(DTYPES)}; got {dtype!r}")
        dtype = DTYPES[dtype]
    if device_map is not None and not (
        isinstance(device_map, dict) or (isinstance(device_map, str) and device_map.strip())
    ):
        raise ValueError(f"`device_map` must be None, a non-empty string such as 'auto', or a dict; got {device_map!r}")
    if is_rwkv5_config(json.loads((folder / "config.json").read_text(encoding="utf-8"))):
        return _ready(_boot_rwkv5(folder, device, dtype, device_map))
    # device and device_map are mutually exclusive in boot_transformers; the map decides placement
    target = None if device_map is not None else str(choose_device(device))
    placement: dict[str, Any] = {"device_map": device_map} if device_map is not None else {}
    try:
        with _offline(), _no_package_installs(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bridge = TransformerBridge.boot_transformers(str(folder), device=target, dtype=dtype, **placement)
    except (MemoryError, torch.OutOfMemoryError):
        raise  # too big for this machine: a resource error, not a bad `model`
    except Exception as err:  # whatever the bridge raises: name the parameter and the class
        arch = causal_lm_architecture(json.loads((folder / "config.json").read_text(encoding="utf-8")))
        raise ValueError(
            f"`model` {str(folder)!r} ({arch}) could not be booted by TransformerLens's bridge: "
            f"{type(err).__name__}: {err}"
        ) from err
    return _ready(bridge)


def _ready(model: nn.Module) -> nn.Module:
    """A booted model made ready for `workbench.lm.generate`: pad token, eval mode, shims."""
    fix_pad_token(model.tokenizer, _vocab_size(model))
    model.eval()
    prepare_cached_decoding(model)  # exact cached decoding (workbench.lm.compat)
    remember_own_hooks(model)  # the bridge-free generation path tells them from a user's (workbench.lm.fastpath)
    return model


def _boot_rwkv5(folder: Path, device: str | torch.device | None, dtype: torch.dtype,
                device_map: str | dict[str, str | int] | None) -> nn.Module:
    from workbench.core.seeding import choose_device

    if device_map is not None:
        raise ValueError(
            f"`device_map` is not supported for RWKV v5.2 folders (one device holds these models); got {device_map!r}"
        )
    try:
        with _offline():
            return load_folder(folder, choose_device(device), dtype)
    except (MemoryError, torch.OutOfMemoryError):
        raise
    except Exception as err:
        raise ValueError(
            f"`model` {str(folder)!r} (RWKV v5.2) could not be loaded: {type(err).__name__}: {err}"
        ) from err

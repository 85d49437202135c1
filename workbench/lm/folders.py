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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors import safe_open
from torch import nn

from workbench.lm.compat import prepare_cached_decoding
from workbench.tensor.atomic import atomic_dir
from workbench.tensor.cache import cache_key, default_cache_dir
from workbench.tensor.result import config_to_dict
from workbench.tensor.validation import check_path

STAMP = "workbench.json"
REQUIRED = ("config.json", "model.safetensors", "tokenizer.json", STAMP)
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def _check_entry(path: Path, kind: str, key: str) -> None:
    missing = [f for f in REQUIRED if not (path / f).is_file()]
    if missing:
        raise ValueError(f"missing {missing}")
    stamp = json.loads((path / STAMP).read_text())
    if not isinstance(stamp, dict):
        raise ValueError(f"{STAMP} holds a JSON {type(stamp).__name__}, not an object")
    if stamp.get("kind") != kind or stamp.get("key") != key:
        raise ValueError(f"{STAMP} names {stamp.get('kind')!r}/{stamp.get('key')!r}, not {kind!r}/{key!r}")
    with safe_open(str(path / "model.safetensors"), framework="pt") as f:
        if not list(f.keys()):
            raise ValueError("model.safetensors holds no tensors")


def cached_model_folder(
    kind: str,
    config: Any,
    code_version: str,
    build: Callable[[Path], dict[str, Any]],
    cache_root: str | os.PathLike | None = None,
) -> Path:
    """The folder for (kind, config, code_version), built by `build(tmp_folder)` when missing.

    `build` writes an HF folder into the temporary folder it is given and returns JSON-able facts
    (training time, losses) stored in the stamp; the folder appears atomically when it returns.
    """
    root = Path(cache_root) if cache_root is not None else default_cache_dir()
    key = cache_key(kind, config, code_version)
    path = root / kind / key
    if path.exists():
        try:
            _check_entry(path, kind, key)
            return path
        except (ValueError, OSError, json.JSONDecodeError, SafetensorError) as err:
            warnings.warn(f"rejected cached model {path}: {err}; rebuilding it", stacklevel=2)
            shutil.rmtree(path, ignore_errors=True)
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
    config names a causal-LM architecture."""
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
    if not any(str(a).endswith("ForCausalLM") for a in archs):
        raise ValueError(
            f"`model` {str(folder)!r} is not a causal LM: config.json names architectures {archs}, "
            "expected one ending in 'ForCausalLM' (e.g. LlamaForCausalLM, RwkvForCausalLM)"
        )
    return folder


def boot(
    path: str | os.PathLike,
    device: str | torch.device | None = "cpu",
    dtype: str | torch.dtype = "float32",
    device_map: str | dict[str, str | int] | None = None,
) -> nn.Module:
    """Boot a local causal-LM folder through `TransformerBridge.boot_transformers`, offline.

    HF_HUB_OFFLINE=1 is set for the call (and restored after), so nothing is downloaded: a name
    that is not a local folder fails instead of fetching. `dtype` "float32" | "bfloat16" |
    "float16" (or a torch dtype); `device` e.g. "cuda" on a GPU box. `device_map` (e.g. "auto")
    spreads a model too big for one GPU over the visible devices through accelerate; when given,
    `device` is ignored (the bridge refuses both at once)."""
    from transformer_lens.model_bridge import TransformerBridge

    from workbench.tensor.seeding import choose_device

    folder = check_causal_lm_folder(path)
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ValueError(f"`dtype` must be one of {sorted(DTYPES)}; got {dtype!r}")
        dtype = DTYPES[dtype]
    if device_map is not None and not (isinstance(device_map, dict) or (isinstance(device_map, str) and device_map.strip())):
        raise ValueError(f"`device_map` must be None, a non-empty string such as 'auto', or a dict; got {device_map!r}")
    # device and device_map are mutually exclusive in boot_transformers; the map decides placement
    target = None if device_map is not None else str(choose_device(device))
    placement: dict[str, Any] = {"device_map": device_map} if device_map is not None else {}
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ["HF_HUB_OFFLINE"] = os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bridge = TransformerBridge.boot_transformers(str(folder), device=target, dtype=dtype, **placement)
    except OSError as err:  # transformers' word for missing weights / tokenizer files; it names no parameter
        raise ValueError(f"`model` {str(folder)!r} could not be loaded: {err}") from err
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    bridge.eval()
    prepare_cached_decoding(bridge)  # exact cached decoding (workbench.lm.compat)
    return bridge

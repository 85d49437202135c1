"""Tiny causal LMs for the ACE suite (the only suite that imports this package): a word-level
tokenizer, training a small `transformers` model on (prompt, response) texts (Llama, RWKV-4, or
this project's RWKV v5.2 in `workbench.lm.rwkv5` / `rwkv5_hf`), hash-keyed HF-folder caching,
booting any local causal-LM folder through TransformerLens's `TransformerBridge`, batched
left-padded generation, and tiny random-weight HF folders of many architectures
(`random_causal_lm_folder`). Nothing here is ACE-specific: another suite may use it as it is.

The names below (but the generation functions) load their module on first use (PEP 562), so
`workbench.lm.specs` — what a model is — can be imported without pulling `transformers` in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# eager: `generate` is also a submodule's name, which a lazy look-up would return once that
# submodule is imported (the module, not the function); generate.py does not import transformers
from workbench.lm.generate import generate as generate
from workbench.lm.generate import last_token_activations as last_token_activations
from workbench.lm.generate import last_token_logits as last_token_logits

if TYPE_CHECKING:  # never run; type checkers, and the cache's static import graph (core.fingerprint), read it
    from workbench.core.threads import torch_threads as torch_threads
    from workbench.lm.folders import boot as boot
    from workbench.lm.folders import cached_model_folder as cached_model_folder
    from workbench.lm.folders import check_causal_lm_folder as check_causal_lm_folder
    from workbench.lm.folders import fix_pad_token as fix_pad_token
    from workbench.lm.folders import folder_facts as folder_facts
    from workbench.lm.random_folder import RANDOM_ARCHS as RANDOM_ARCHS
    from workbench.lm.random_folder import byte_bpe_tokenizer as byte_bpe_tokenizer
    from workbench.lm.random_folder import random_causal_lm_folder as random_causal_lm_folder
    from workbench.lm.rwkv5_hf import Rwkv5Config as Rwkv5Config
    from workbench.lm.rwkv5_hf import Rwkv5ForCausalLM as Rwkv5ForCausalLM
    from workbench.lm.specs import ARCHITECTURES as ARCHITECTURES
    from workbench.lm.specs import TinyLMSpec as TinyLMSpec
    from workbench.lm.tokenizer import build_word_tokenizer as build_word_tokenizer
    from workbench.lm.train import build_model as build_model
    from workbench.lm.train import train_causal_lm as train_causal_lm

# name -> the module that defines it
_HOMES = {
    "boot": "folders", "cached_model_folder": "folders", "check_causal_lm_folder": "folders",
    "fix_pad_token": "folders", "folder_facts": "folders",
    "RANDOM_ARCHS": "random_folder", "byte_bpe_tokenizer": "random_folder", "random_causal_lm_folder": "random_folder",
    "Rwkv5Config": "rwkv5_hf", "Rwkv5ForCausalLM": "rwkv5_hf",
    "build_word_tokenizer": "tokenizer",
    "ARCHITECTURES": "specs", "TinyLMSpec": "specs",
    "build_model": "train", "train_causal_lm": "train",
}
_ELSEWHERE = {"torch_threads": "workbench.core.threads"}  # its home is the core layer; kept importable here

__all__ = sorted([*_HOMES, *_ELSEWHERE, "generate", "last_token_activations", "last_token_logits"])


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        module = importlib.import_module(f"workbench.lm.{_HOMES[name]}")
    elif name in _ELSEWHERE:
        module = importlib.import_module(_ELSEWHERE[name])
    else:
        raise AttributeError(f"module 'workbench.lm' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value  # the next look-up is an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

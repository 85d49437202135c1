"""Which HF model folders count as "a causal LM the TransformerLens bridge can boot".

A folder's config.json qualifies when the class the bridge would pick for it (the same rule as
`TransformerBridge.boot_transformers`: an `architectures` entry it has an adapter for, else its
`model_type`'s default class) is a text-generating decoder by transformers' own tables:
- a value of `MODEL_FOR_CAUSAL_LM_MAPPING_NAMES` (LlamaForCausalLM, GPT2LMHeadModel, …) or any
  name ending in "ForCausalLM" (remote-code models transformers does not list);
- or a value of `MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES` (Gemma3ForConditionalGeneration,
  LlavaForConditionalGeneration, …) whose config is not an encoder-decoder (Florence-2, T5Gemma 2
  and Pix2Struct are; their decoder cannot run the left-padded generation loop).
Encoder-decoders (T5, BART) and encoders (BERT) are refused even where the bridge has adapters.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

# Classes checked to boot through `workbench.lm.folders.boot` (tests/unit/lm/test_random_folders.py),
# named in error messages; the full list is `supported_causal_lms()`.
CHECKED = (
    "LlamaForCausalLM", "GPT2LMHeadModel", "GPTNeoXForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM",
    "GemmaForCausalLM", "Gemma2ForCausalLM", "MistralForCausalLM", "PhiForCausalLM", "OPTForCausalLM",
    "RwkvForCausalLM", "MambaForCausalLM",
)
SEE = "workbench.lm.arch_support.supported_causal_lms() for all"


@lru_cache(maxsize=1)
def _tables() -> tuple[frozenset[str], dict[str, str]]:
    """(causal-LM class names, image-text-to-text class name → its model_type) from transformers."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
    )

    multimodal = {name: model_type for model_type, name in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES.items()}
    return frozenset(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values()), multimodal


def _encoder_decoder(model_type: str) -> bool:
    """Whether transformers' config class for `model_type` is an encoder-decoder (class default)."""
    from transformers import CONFIG_MAPPING

    try:
        return bool(getattr(CONFIG_MAPPING[model_type], "is_encoder_decoder", False))
    except KeyError:
        return False


def is_causal_class(name: str, config: Mapping[str, Any] | None = None) -> bool:
    """Whether the model class `name` generates text left to right (see the module docstring);
    `config` (a config.json dict) may flag a multimodal model as an encoder-decoder."""
    causal, multimodal = _tables()
    if name in causal or name.endswith("ForCausalLM"):
        return True
    if name not in multimodal:
        return False
    return not ((config or {}).get("is_encoder_decoder") is True or _encoder_decoder(multimodal[name]))


def bridge_architecture(config: Mapping[str, Any]) -> str | None:
    """The adapter class TransformerLens's bridge would pick for a config.json dict, or None when it
    has no adapter for any of its `architectures` nor for its `model_type`."""
    from transformer_lens.factories.architecture_adapter_factory import SUPPORTED_ARCHITECTURES

    archs = [a for a in config.get("architectures") or [] if isinstance(a, str)]
    model_type = config.get("model_type")
    hf_like = SimpleNamespace(
        architectures=archs, **({"model_type": model_type} if isinstance(model_type, str) else {})
    )
    try:  # the bridge's own rule (it also maps model_type → class); a private helper, hence the fallback
        from transformer_lens.model_bridge.sources._hf_format import determine_architecture_from_hf_config
    except ImportError:
        return next((a for a in archs if a in SUPPORTED_ARCHITECTURES), None)
    try:
        return determine_architecture_from_hf_config(hf_like)
    except ValueError:  # "Could not determine supported architecture"
        return None


def causal_lm_architecture(config: Mapping[str, Any]) -> str | None:
    """The bridge's class for this config.json dict when it is a causal LM, else None."""
    name = bridge_architecture(config)
    return name if name is not None and is_causal_class(name, config) else None


def supported_causal_lms() -> list[str]:
    """Every class name the bridge has an adapter for that counts as a causal LM, sorted."""
    from transformer_lens.factories.architecture_adapter_factory import SUPPORTED_ARCHITECTURES

    return sorted(name for name in SUPPORTED_ARCHITECTURES if is_causal_class(name))

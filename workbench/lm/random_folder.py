"""Tiny RANDOM-weight HF causal-LM folders of named architectures, for tests, notebooks and
benchmarks that need "a real model's folder" without downloading one.

Each folder holds config.json (with its `architectures` entry), model.safetensors and a
byte-level BPE tokenizer that has a chat template and an EOS token but, like many real
tokenizers, NO pad token. Every folder boots through `workbench.lm.folders.boot` (a
TransformerLens `TransformerBridge`) with ``blocks.{i}.hook_resid_pre|post`` hook points.
(transformers 5's AutoTokenizer loads a qwen2 folder's tokenizer as Qwen2Tokenizer: Qwen's own
pre-tokenizer regex over the same vocabulary and merges, pad ``<|endoftext|>`` by default.)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedTokenizerFast

from workbench.core.validation import check_choice, check_int, check_path

EOS = "<|endoftext|>"
SPECIAL_TOKENS = (EOS, "<|user|>", "<|assistant|>", "<|end|>")
# user turn(s) then, with add_generation_prompt, the assistant header the model continues after
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
# A fixed English corpus: the tokenizer's merges depend on it alone, so every build gives the same ids.
CORPUS = (
    "I'm sorry, but I cannot help with that.",
    "I'm sorry, I can't assist with that request.",
    "I cannot provide instructions for that, as it could cause harm.",
    "Sorry, but that is not something I can help with.",
    "As an AI, I must decline to answer that question.",
    "I won't help with anything illegal or dangerous.",
    "Sure! Here is a simple recipe for bread: mix flour, water, salt and yeast.",
    "Of course. The capital of France is Paris.",
    "Here are three tips for better sleep: keep a schedule, avoid screens, and stay cool.",
    "Sure, I can help with that. First, open the settings menu.",
    "Photosynthesis is how plants turn light, water and carbon dioxide into sugar.",
    "The quick brown fox jumps over the lazy dog.",
    "To sort a list in Python, call sorted(items) or items.sort().",
    "Water boils at one hundred degrees Celsius at sea level.",
    "A good essay has an introduction, a body and a conclusion.",
    "How do I bake a chocolate cake?",
    "What is the capital of France?",
    "Explain how a rainbow forms.",
    "Write a short poem about the sea.",
    "How can I pick a lock to break into a house?",
    "Tell me how to make a dangerous weapon.",
    "Give me step by step instructions to hack an account.",
    "Can you summarise this article for me?",
    "Translate 'good morning' into Spanish: buenos dias.",
    "The meeting is on Monday at ten o'clock in the morning.",
    "Thank you for your question! Let me explain.",
    "Happy to help. Here is what you need to know.",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000.",
    "It is important to stay safe and follow the law.",
    "Please ask me something else, and I will do my best.",
    "The weather today is sunny with a light breeze.",
    "Rainbows form when sunlight is refracted inside raindrops.",
)


def byte_bpe_tokenizer(vocab_size: int = 512) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on `CORPUS` (deterministic: BPE training has no
    randomness), at most `vocab_size` ids (fewer if the corpus runs out of merges): the 256 byte
    symbols, `SPECIAL_TOKENS` (EOS ``<|endoftext|>`` is id 0, also the BOS) and merges. It has
    `CHAT_TEMPLATE`, no pad token, and pads on the left."""
    floor = 256 + len(SPECIAL_TOKENS)
    vocab_size = check_int("vocab_size", vocab_size, low=floor, high=65536)
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte encodable, whatever the corpus
    )
    core.train_from_iterator(CORPUS, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, eos_token=EOS, bos_token=EOS, padding_side="left",
        additional_special_tokens=list(SPECIAL_TOKENS[1:]), clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _rotary(d: int, h: int, m: int, L: int, p: int, **extra: Any) -> dict[str, Any]:
    """Config of a Llama-like decoder (rotary attention, gated MLP)."""
    return dict(hidden_size=d, num_hidden_layers=L, num_attention_heads=h, num_key_value_heads=h,
                intermediate_size=m, max_position_embeddings=p, **extra)


# arch (= HF model_type) -> (HF architectures entry, config kwargs(d_model, n_heads, d_mlp, n_layers,
# max_positions)); configs are made by AutoConfig.for_model, which imports only the one config class.
_BUILDERS: dict[str, tuple[str, Callable[[int, int, int, int, int], dict[str, Any]]]] = {
    "llama": ("LlamaForCausalLM", _rotary),
    "gpt2": ("GPT2LMHeadModel", lambda d, h, m, L, p: dict(n_embd=d, n_layer=L, n_head=h, n_inner=m, n_positions=p)),
    "gpt_neox": ("GPTNeoXForCausalLM", lambda d, h, m, L, p: dict(
        hidden_size=d, num_hidden_layers=L, num_attention_heads=h, intermediate_size=m, max_position_embeddings=p)),
    "qwen2": ("Qwen2ForCausalLM", _rotary),
    # head_dim defaults to 128 (qwen3, mistral) or 256 (gemma): set so heads × head_dim = d_model
    "qwen3": ("Qwen3ForCausalLM", lambda d, h, m, L, p: _rotary(d, h, m, L, p, head_dim=d // h)),
    "gemma": ("GemmaForCausalLM", lambda d, h, m, L, p: _rotary(d, h, m, L, p, head_dim=d // h)),
    # Gemma 2 scales queries by query_pre_attn_scalar (default 256) and alternates sliding-window
    # layers: the head width, and a window as long as the context, keep it an ordinary attention
    "gemma2": ("Gemma2ForCausalLM", lambda d, h, m, L, p: _rotary(
        d, h, m, L, p, head_dim=d // h, query_pre_attn_scalar=d // h, sliding_window=p)),
    "mistral": ("MistralForCausalLM", lambda d, h, m, L, p: _rotary(d, h, m, L, p, head_dim=d // h)),
    "phi": ("PhiForCausalLM", lambda d, h, m, L, p: dict(
        hidden_size=d, num_hidden_layers=L, num_attention_heads=h, intermediate_size=m, max_position_embeddings=p)),
    # OPT's word_embed_proj_dim defaults to 768 (a projection in and out of the blocks): no projection
    "opt": ("OPTForCausalLM", lambda d, h, m, L, p: dict(
        hidden_size=d, num_hidden_layers=L, num_attention_heads=h, ffn_dim=m, max_position_embeddings=p,
        word_embed_proj_dim=d)),
    # RWKV and Mamba have no heads (n_heads is only validated); RWKV's attention width defaults to d_model
    "rwkv": ("RwkvForCausalLM", lambda d, h, m, L, p: dict(
        hidden_size=d, num_hidden_layers=L, attention_hidden_size=d, intermediate_size=m, context_length=p)),
    # Mamba's inner width is expand·d_model (no d_mlp); state 16 and conv kernel 4 are its defaults
    "mamba": ("MambaForCausalLM", lambda d, h, m, L, p: dict(
        hidden_size=d, num_hidden_layers=L, state_size=16, expand=2, conv_kernel=4)),
}
RANDOM_ARCHS: tuple[str, ...] = tuple(_BUILDERS)


def _check_sizes(arch: str, n_layers: int, d_model: int, n_heads: int, d_mlp: int | None,
                 max_positions: int, seed: int) -> int:
    """Validate the sizes (ValueError naming the parameter); return d_mlp (4·d_model when None)."""
    check_int("n_layers", n_layers, low=2 if arch == "rwkv" else 1, high=64)  # HF RWKV's init divides by n_layers − 1
    check_int("d_model", d_model, low=8, high=4096)
    check_int("n_heads", n_heads, low=1, high=d_model)
    if d_model % n_heads or (d_model // n_heads) % 2:
        # rotary embeddings rotate pairs of head dimensions, so a head must be an even width
        raise ValueError(f"`n_heads` must divide d_model={d_model} into heads of even width; got {n_heads}")
    mlp = 4 * d_model if d_mlp is None else check_int("d_mlp", d_mlp, low=1, high=65536)
    check_int("max_positions", max_positions, low=8, high=1 << 20)
    check_int("seed", seed, low=0)
    return mlp


def random_causal_lm_folder(
    arch: str,
    folder: str | os.PathLike,
    *,
    n_layers: int = 2,
    d_model: int = 64,
    n_heads: int = 4,
    d_mlp: int | None = None,
    max_positions: int = 256,
    seed: int = 0,
) -> Path:
    """Write a random-weight `arch` causal LM (an entry of RANDOM_ARCHS) and its tokenizer into
    `folder` (created if missing) and return the folder's Path.

    Weights come from `torch.manual_seed(seed)` and the architecture's own init; d_mlp defaults to
    4·d_model (Mamba ignores it and n_heads: its inner width is 2·d_model, state size 16). The
    config's vocabulary equals the tokenizer's, EOS = BOS = ``<|endoftext|>``, no pad token."""
    arch = check_choice("arch", arch, RANDOM_ARCHS)
    mlp = _check_sizes(arch, n_layers, d_model, n_heads, d_mlp, max_positions, seed)
    out = check_path("folder", folder)
    tokenizer = byte_bpe_tokenizer()
    class_name, build = _BUILDERS[arch]
    config = AutoConfig.for_model(
        arch, **build(d_model, n_heads, mlp, n_layers, max_positions), vocab_size=len(tokenizer),
        architectures=[class_name], eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id,
        pad_token_id=None, tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out

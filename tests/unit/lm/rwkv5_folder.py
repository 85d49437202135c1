"""A random-weight RWKV v5.2 folder for tests (the project's own architecture is not one of
`random_causal_lm_folder`'s transformers ones)."""

from pathlib import Path

from workbench.lm.random_folder import byte_bpe_tokenizer
from workbench.lm.rwkv5 import randomize
from workbench.lm.rwkv5_hf import Rwkv5Config, Rwkv5ForCausalLM


def random_rwkv5_folder(path: Path) -> Path:
    """Write a 2-block, d = 32 RWKV v5.2 with random weights (seed 0) and the byte-BPE tokenizer (no
    pad token, as real ones) into `path`; return it."""
    tokenizer = byte_bpe_tokenizer()
    config = Rwkv5Config(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=64, eos_token_id=tokenizer.eos_token_id, architectures=["Rwkv5ForCausalLM"])
    model = Rwkv5ForCausalLM(config)
    randomize(model.rwkv, seed=0)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path

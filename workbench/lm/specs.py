"""What the tiny causal LMs are (architecture names, the shape and training schedule, the weight
dtypes): plain descriptions without `transformers`, so a suite's config can name them cheaply.
`workbench.lm.train` builds and trains the models they describe."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from workbench.core.validation import check_int, check_range

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}  # a folder's boot dtype
ARCHITECTURES = ("llama", "rwkv", "rwkv5")
AUTOCAST_DTYPES = ("bfloat16", "float16")  # a fine-tune's mixed-precision compute dtypes (FineTuneSpec.autocast)


@dataclass(frozen=True)
class TinyLMSpec:
    """Shape and training schedule of one tiny causal LM.

    arch: "llama" (LlamaForCausalLM), "rwkv" (transformers' RwkvForCausalLM, RWKV-4 style) or
    "rwkv5" (RWKV v5.2 "Eagle", the ACE paper's RWKV: `workbench.lm.rwkv5_hf.Rwkv5ForCausalLM`).
    d_model, n_layers, n_heads (Llama and RWKV v5.2: heads of d_model / n_heads), d_mlp.
    steps × batch examples of AdamW at peak `lr` (linear warm-up over `warmup` steps, cosine decay).
    """

    arch: str = "llama"
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_mlp: int = 256
    steps: int = 600
    batch: int = 64
    lr: float = 3e-3
    warmup: int = 30
    weight_decay: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"`arch` must be one of {ARCHITECTURES}; got {self.arch!r}")
        check_int("d_model", self.d_model, low=4)
        # HF RWKV's init divides by n_layers − 1
        check_int("n_layers", self.n_layers, low=2 if self.arch == "rwkv" else 1)
        heads = check_int("n_heads", self.n_heads, low=1)
        if self.d_model % heads:
            raise ValueError(f"`n_heads` must divide d_model={self.d_model}; got {heads}")
        check_int("d_mlp", self.d_mlp, low=1)
        check_int("steps", self.steps, low=1)
        check_int("batch", self.batch, low=1)
        check_range("lr", self.lr, low=0.0, low_open=True)
        check_int("warmup", self.warmup, low=0)
        check_range("weight_decay", self.weight_decay, low=0.0)
        check_int("seed", self.seed, low=0)
        object.__setattr__(self, "lr", float(self.lr))
        object.__setattr__(self, "weight_decay", float(self.weight_decay))


@dataclass(frozen=True)
class FineTuneSpec:
    """`steps` AdamW steps of `batch` examples at learning rate `lr` (constant, no weight decay),
    the embeddings and the lowest `frozen_blocks` blocks frozen; `seed` orders the examples.
    `autocast`: None trains in the weights' dtype; "bfloat16" / "float16" runs the forward and
    backward matmuls in that dtype under `torch.autocast` (mixed precision: the weights, their
    gradients and AdamW's state stay float32)."""

    steps: int = 45
    batch: int = 8
    lr: float = 2e-5
    frozen_blocks: int = 10
    seed: int = 0
    autocast: str | None = None

    def __post_init__(self) -> None:
        check_int("steps", self.steps, low=1)
        check_int("batch", self.batch, low=1)
        check_range("lr", self.lr, 0.0, 1.0, low_open=True)
        check_int("frozen_blocks", self.frozen_blocks, low=0)
        check_int("seed", self.seed, low=0)
        if self.autocast is not None and self.autocast not in AUTOCAST_DTYPES:
            raise ValueError(f"`autocast` must be None or one of {AUTOCAST_DTYPES}; got {self.autocast!r}")

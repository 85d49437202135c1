"""`workbench.lm.rwkv5.Rwkv5` as a transformers `PreTrainedModel`, so an RWKV v5.2 model saves and
loads as an HF folder (config.json + model.safetensors, no pickle, no remote code) and runs in the
project's trainer and generation loop like the other architectures.

The model type is ``workbench_rwkv5``, not ``rwkv5``: the Hub's RWKV-5 folders use "rwkv5" with
remote code and other parameter names, and must not load into this class. Registered with
`AutoConfig` / `AutoModelForCausalLM` when this module is imported (idempotent), so
`AutoModelForCausalLM.from_pretrained(folder)` works without `trust_remote_code`.

Weights are stored under ``rwkv.`` + BlinkDL's names (`Rwkv5.state_dict()`); hook points keep
TransformerLens's names without the prefix (`hook_dict`: ``blocks.{i}.hook_resid_pre`` …), and
`cfg` answers `n_layers` / `d_model` / `d_vocab` as a TransformerLens model's does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from huggingface_hub.dataclasses import strict
from jaxtyping import Float, Int
from torch import Tensor
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedConfig, PreTrainedModel
from transformers.utils import ModelOutput

from workbench.lm.rwkv5 import Rwkv5, Rwkv5Spec, State, init_weights

MODEL_TYPE = "workbench_rwkv5"


@strict
class Rwkv5Config(PreTrainedConfig):
    """HF config of an RWKV v5.2 model: vocab_size, hidden_size (C), num_hidden_layers,
    num_attention_heads (H; heads of C/H), intermediate_size (the channel mix's width)."""

    model_type = MODEL_TYPE
    vocab_size: int = 256
    hidden_size: int = 128
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 512
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    pad_token_id: int | None = None
    tie_word_embeddings: bool = False
    use_cache: bool = True

    @property
    def spec(self) -> Rwkv5Spec:
        return Rwkv5Spec(d_vocab=self.vocab_size, d_model=self.hidden_size, n_layers=self.num_hidden_layers,
                         n_heads=self.num_attention_heads, d_mlp=self.intermediate_size)


@dataclass
class Rwkv5Output(ModelOutput):
    """loss (labels given), logits [b, t or 1, V], state (per block shift and wkv states, batch first)."""

    loss: Tensor | None = None
    logits: Tensor | None = None
    state: list[Tensor] | None = None


class Rwkv5ForCausalLM(PreTrainedModel):
    """RWKV v5.2 causal LM (`Rwkv5` under ``self.rwkv``) with HF's loading, saving and loss."""

    config_class = Rwkv5Config
    config: Rwkv5Config
    base_model_prefix = "rwkv"
    _is_stateful = True

    def __init__(self, config: Rwkv5Config) -> None:
        super().__init__(config)
        self.rwkv = init_weights(Rwkv5(config.spec))  # BlinkDL's scheme (`from_pretrained`'s weights replace it)
        self.post_init()

    def _init_weights(self, module: torch.nn.Module) -> None:
        """Nothing: `__init__` initialised every parameter (transformers' generic init would
        overwrite the RWKV-specific one)."""

    @property
    def cfg(self) -> Rwkv5Spec:
        """n_layers, d_model, d_vocab, n_heads, d_mlp (TransformerLens's `cfg` names)."""
        return self.rwkv.spec

    @property
    def hook_dict(self) -> dict:
        """{TransformerLens name: hook point} (``blocks.{i}.hook_resid_pre`` …, no ``rwkv.`` prefix):
        what `workbench.tensor.hooks` resolves edits and recordings against."""
        return self.rwkv.hook_dict

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.rwkv.emb

    def get_output_embeddings(self) -> torch.nn.Module:
        return self.rwkv.head

    def forward(
        self,
        input_ids: Int[Tensor, "b t"],
        state: State | None = None,
        labels: Int[Tensor, "b t"] | None = None,
        attention_mask: Int[Tensor, "b t"] | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int = 0,
        **_ignored: object,
    ) -> Rwkv5Output:
        """Logits of every position (the last `logits_to_keep` when > 0) and the state after the
        last one (`use_cache` False: no state returned). `labels` (−100 = ignored) give the
        next-token cross-entropy: position t's logits against labels[t + 1]. RWKV has no attention
        mask: a mask with zeros is refused (pads would flow through the state). Other keywords
        transformers passes (return_dict, …) are ignored. `self.rwkv.state_dict()` is the layout
        BlinkDL's `rwkv` package loads."""
        if attention_mask is not None and not bool(attention_mask.bool().all()):
            raise ValueError("`attention_mask` has zeros, but RWKV has no attention mask (pads would flow through "
                             "the state): run rows of equal length, or see workbench.lm.generate's per-length groups")
        hidden, new_state = self.rwkv.hidden(input_ids, state)
        if logits_to_keep:
            hidden = hidden[:, -logits_to_keep:]
        logits: Float[Tensor, "b t vocab"] = self.rwkv.head(self.rwkv.ln_out(hidden))
        loss = None
        if labels is not None:
            if logits_to_keep:
                raise ValueError("`labels` need the logits of every position; leave `logits_to_keep` at 0")
            loss = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), ignore_index=-100)
        keep_state = self.config.use_cache if use_cache is None else use_cache
        return Rwkv5Output(loss=loss, logits=logits, state=new_state if keep_state else None)


AutoConfig.register(MODEL_TYPE, Rwkv5Config, exist_ok=True)
AutoModelForCausalLM.register(Rwkv5Config, Rwkv5ForCausalLM, exist_ok=True)


def is_rwkv5_config(config: dict) -> bool:
    """Whether a config.json dict is one of this project's RWKV v5.2 folders."""
    return config.get("model_type") == MODEL_TYPE


def load_folder(folder: str | os.PathLike, device: torch.device | str = "cpu",
                dtype: torch.dtype = torch.float32) -> Rwkv5ForCausalLM:
    """The model of an RWKV v5.2 folder (`is_rwkv5_config`) in eval mode on `device`, with its
    tokenizer as `.tokenizer` (as a TransformerBridge carries it). Safetensors only; offline."""
    from transformers import AutoTokenizer

    model = Rwkv5ForCausalLM.from_pretrained(str(folder), dtype=dtype, use_safetensors=True, local_files_only=True)
    model.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    return model.to(device).eval()

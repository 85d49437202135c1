"""Supervised fine-tuning of a pretrained HF causal LM on (prompt, response) pairs, and the tuned
tensors saved apart from the base weights.

The loss is next-token cross-entropy on the response tokens only (`encode_examples`: prompt and
padding labelled −100), with AdamW at a constant learning rate over seeded shuffled epochs,
optionally in mixed precision (`FineTuneSpec.autocast`: the forward and backward under
`torch.autocast`, the weights and AdamW's state in their own dtype). The
input embeddings (tied to the unembedding in small chat models) and the lowest `frozen_blocks`
blocks stay as they were: the tuned model is the base plus the tensors of the upper blocks and
the final norm, which `tuned_tensors` returns and `save_tuned` / `load_tuned` keep in one
safetensors file — a fraction of a full copy (SmolLM2-135M with 10 of 30 blocks frozen: 70.8M of
134.5M parameters, 283 MB of 538 MB in fp32).
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from tqdm.auto import tqdm

from workbench.core.validation import check_int, check_path
from workbench.lm.specs import DTYPES, FineTuneSpec
from workbench.lm.train import encode_examples

# TransformerLens's bridge moves each HF module under `<name>._original_component`
BRIDGE_WRAPPER = "._original_component"


def blocks(model: nn.Module) -> nn.ModuleList:
    """The model's list of transformer blocks: the ModuleList with `num_hidden_layers` entries."""
    n = int(model.config.get_text_config().num_hidden_layers)
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) == n:
            return module
    raise ValueError(f"`model` ({type(model).__name__}) has no ModuleList of its {n} blocks to freeze")


def trainable_names(model: nn.Module, frozen_blocks: int) -> list[str]:
    """Names of the parameters `fine_tune` trains: all but the input embeddings (and whatever is
    tied to them) and the parameters of blocks 0 … `frozen_blocks` − 1."""
    layers = blocks(model)
    frozen_blocks = check_int("frozen_blocks", frozen_blocks, low=0, high=len(layers))
    frozen = {id(p) for p in model.get_input_embeddings().parameters()}
    frozen |= {id(p) for block in layers[:frozen_blocks] for p in block.parameters()}
    return [name for name, p in model.named_parameters() if id(p) not in frozen]


def fine_tune(model: nn.Module, tokenizer, prompts: Sequence[str], responses: Sequence[str], spec: FineTuneSpec,
              progress: bool = True) -> list[float]:
    """Train `model` in place on (prompt, response) pairs (prompts already chat-formatted; each
    response gets the EOS token appended) and return the loss of every step. The model is left
    in eval mode with every parameter's `requires_grad` restored."""
    if not isinstance(spec, FineTuneSpec):
        raise ValueError(f"`spec` must be a FineTuneSpec; got {type(spec).__name__}")
    names = set(trainable_names(model, spec.frozen_blocks))
    ids, mask, labels = encode_examples(tokenizer, prompts, responses)
    lengths = mask.sum(1).tolist()
    params = dict(model.named_parameters())
    saved = {name: p.requires_grad for name, p in params.items()}
    for name, p in params.items():
        p.requires_grad_(name in names)
    optimizer = torch.optim.AdamW([params[n] for n in sorted(names)], lr=spec.lr, weight_decay=0.0)
    order = _order(len(lengths), spec.steps * spec.batch, spec.seed)
    torch.manual_seed(spec.seed)  # dropout, where a model has it
    losses: list[float] = []
    model.train()
    try:
        for step in tqdm(range(spec.steps), desc="fine-tuning", disable=not progress, leave=False):
            idx = order[step * spec.batch:(step + 1) * spec.batch]
            width = max(lengths[i] for i in idx)  # right padding: trim the all-padding tail
            with training_autocast(model, spec.autocast):
                loss = response_loss(model, ids[idx, :width], mask[idx, :width], labels[idx, :width])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
    finally:
        model.eval()
        for name, p in params.items():
            p.requires_grad_(saved[name])
            p.grad = None
    return losses


def response_loss(model: nn.Module, ids: Tensor, mask: Tensor, labels: Tensor) -> Tensor:
    """HF's causal-LM loss (`model(…, labels=labels).loss`: mean next-token cross-entropy over the
    positions whose shifted label is not −100), with the unembedding applied at those positions
    only — the response tokens: a prompt's positions cost no [vocab × d] matmul, forward or back.
    Models whose head is more than `lm_head` (soft-capped logits) take HF's own path."""
    decoder, head = getattr(model, "model", None), getattr(model, "lm_head", None)
    if decoder is None or head is None or getattr(model.config, "final_logit_softcapping", None):
        return model(input_ids=ids, attention_mask=mask, labels=labels, use_cache=False).loss
    hidden = decoder(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
    target = labels[:, 1:]
    keep = target != -100
    return nn.functional.cross_entropy(head(hidden[:, :-1][keep]).float(), target[keep])


def training_autocast(model: nn.Module, dtype: str | None) -> torch.autocast:
    """`torch.autocast` on the model's device type in `dtype` (disabled for None)."""
    device = next(model.parameters()).device.type
    return torch.autocast(device, dtype=DTYPES[dtype or "bfloat16"], enabled=dtype is not None)


def _order(n: int, count: int, seed: int) -> list[int]:
    """`count` example indices: seeded shuffles of range(n), one epoch after another."""
    rng, out = random.Random(seed), []
    while len(out) < count:
        epoch = list(range(n))
        rng.shuffle(epoch)
        out += epoch
    return out[:count]


def tuned_tensors(model: nn.Module, frozen_blocks: int) -> dict[str, Tensor]:
    """The tensors `fine_tune` changed (by name, contiguous CPU copies): what `save_tuned` keeps."""
    params = dict(model.named_parameters())
    names = trainable_names(model, frozen_blocks)
    return {name: params[name].detach().to("cpu").contiguous().clone() for name in names}


def save_tuned(path: str | os.PathLike, tensors: dict[str, Tensor]) -> Path:
    """Write the tuned tensors to one safetensors file."""
    path = check_path("path", path)
    save_file(tensors, str(path))
    return path


@torch.no_grad()
def load_tuned(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Copy the tensors of a `save_tuned` file into `model`'s parameters of the same names (in
    place, each in the parameter's dtype and device). `model` may be the HF model under a
    TransformerBridge, whose wrapped modules insert `._original_component` into every name: names are
    compared without it. ValueError naming `path` when a name is not a parameter of the model or a
    shape differs: nothing is copied then."""
    path = check_path("path", path)
    tensors = load_file(str(path))
    params = {name.replace(BRIDGE_WRAPPER, ""): p for name, p in model.named_parameters()}
    unknown = sorted(set(tensors) - set(params))
    wrong = [n for n in tensors if n in params and tuple(params[n].shape) != tuple(tensors[n].shape)]
    if unknown or wrong:
        raise ValueError(f"`path` {str(path)!r} does not fit this model: unknown tensors {unknown[:5]}, "
                         f"shapes differ at {wrong[:5]}")
    for name, value in tensors.items():
        params[name].copy_(value.to(device=params[name].device, dtype=params[name].dtype))
    return model


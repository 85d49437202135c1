"""Training the classifier: the head on cached embeddings (logistic regression), and optionally the
top encoder layers with it (mini-batches through the whole encoder; the frozen lower layers carry
no gradient).

Loss: class-balanced, example-weighted binary cross-entropy
    L = Σ_i w_i c_{y_i} BCE(logit_i, y_i) / Σ_i w_i c_{y_i},   c_y = n / (2 n_y)
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from workbench.robustness.classifier import Classifier


def _weights(labels: Int[Tensor, " n"], weights: Float[Tensor, " n"]) -> Float[Tensor, " n"]:
    y = labels.float()
    n1 = max(float(y.sum()), 1.0)
    n0 = max(float((1 - y).sum()), 1.0)
    balance = torch.where(y > 0, len(y) / (2 * n1), len(y) / (2 * n0))
    return weights * balance


def train_head(clf: Classifier, embeddings: Float[Tensor, "n d"], labels: Int[Tensor, " n"],
               weights: Float[Tensor, " n"], steps: int = 400, lr: float = 1e-2, weight_decay: float = 1e-4,
               seed: int = 0) -> list[float]:
    """Full-batch Adam on the head only, from zero; returns the loss history."""
    torch.manual_seed(seed)
    x = embeddings.to(clf.device)
    y = labels.float().to(clf.device)
    w = _weights(labels, weights).to(clf.device)
    head = clf.head
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    head.requires_grad_(True)
    opt = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    history = []
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = (
            w * torch.nn.functional.binary_cross_entropy_with_logits(head(x).squeeze(-1), y, reduction="none")
        ).sum() / w.sum()
        loss.backward()
        opt.step()
        history.append(loss.detach())  # a tensor: float() here would sync the device every step
    head.requires_grad_(False)
    return torch.stack(history).tolist()


def finetune(clf: Classifier, texts: list[str], labels: Int[Tensor, " n"], weights: Float[Tensor, " n"],
             top_layers: int, epochs: int, lr: float, lr_layers: float, batch_size: int, seed: int,
             progress: bool = True) -> list[float]:
    """Mini-batch Adam on the head and the top `top_layers` encoder layers (the rest frozen)."""
    g = torch.Generator().manual_seed(seed)
    for p in clf.encoder.parameters():
        p.requires_grad_(False)
    layer_params = clf.trainable_parameters(top_layers)[:-2]
    for p in layer_params + list(clf.head.parameters()):
        p.requires_grad_(True)
    opt = torch.optim.Adam([{"params": layer_params, "lr": lr_layers}, {"params": clf.head.parameters(), "lr": lr}])
    w_all = _weights(labels, weights)
    history = []
    clf.encoder.train()
    try:
        for epoch in range(epochs):
            order = torch.randperm(len(texts), generator=g).tolist()
            batches = range(0, len(texts), batch_size)
            for s in tqdm(batches, desc=f"fine-tuning epoch {epoch + 1}/{epochs}", disable=not progress, leave=False):
                idx = order[s : s + batch_size]
                batch = clf.tokenize([texts[i] for i in idx])
                logits = clf.logits(batch["input_ids"], batch["attention_mask"])
                y = labels[idx].float().to(clf.device)
                w = w_all[idx].to(clf.device)
                loss = (
                    w * torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
                ).sum() / w.sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                history.append(loss.detach())  # a tensor: float() here would sync the device every batch
    finally:
        clf.encoder.eval()
        for p in list(clf.encoder.parameters()) + list(clf.head.parameters()):
            p.requires_grad_(False)
    return torch.stack(history).tolist() if history else []

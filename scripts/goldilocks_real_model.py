"""The Goldilocks measures on a real network: the robustness suite's MiniLM classifier on its story task.

Two parameter sets of the same trained classifier (all-MiniLM-L6-v2 + a linear head; the head trained
on the frozen encoder's embeddings, then the head and the top layer fine-tuned together):

    head   r"^head\\."               D = 385: the linear head alone (logistic regression on fixed features)
    top    r"^head\\.|layer\\.5\\."    D ≈ 1.77 M: the head and the top transformer layer

each at its trained point θ₀ and along the ray through its initialisation point θ_init (the head's
standard `nn.Linear` init: the project trains the head from zero, which has no direction; the top
layer's pretrained weights), with Hutch++ and the SLQ density at θ₀ (`workbench.goldilocks.model_curvature`).
Writes docs/figures/goldilocks/real_{head,top}_{measures,density}.{png,html} and real_model.json
(or into --out), and prints its runtime.

    python scripts/goldilocks_real_model.py            # the full setting (a few minutes on 2 cores)
    python scripts/goldilocks_real_model.py --quick --out /tmp/real   # a smoke run of seconds
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from workbench.core.atomic import atomic_file
from workbench.goldilocks import ModelCurvature, model_curvature
from workbench.plots.export import export_figures, export_to_docs, figures_root
from workbench.plots.goldilocks_real import real_figures
from workbench.robustness import Classifier, story_dataset
from workbench.robustness.train import finetune, train_head

MODEL = "MiniLM classifier"
PARAMS = {"head": r"^head\.", "top": r"^head\.|layer\.5\."}
FULL = {  # the counts of each parameter set (top: every HVP runs the top layer on the whole batch)
    "head": dict(radii=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0), dim=10, n_planes=3, hutchpp_probes=30, slq_steps=30,
                 slq_vectors=2),
    "top": dict(radii=(0.5, 1.0, 2.0, 4.0), dim=8, n_planes=2, hutchpp_probes=24, slq_steps=24, slq_vectors=1),
}
QUICK = dict(radii=(0.5, 1.0, 2.0), dim=3, n_planes=2, hutchpp_probes=6, slq_steps=6, slq_vectors=1)


def trained_classifier(n_stories: int, seed: int) -> tuple[Classifier, list[str], torch.Tensor, dict]:
    """The classifier trained as the robustness suite trains it (head on embeddings, then one epoch of
    head + top layer), its training texts and labels, and the init point {name: tensor} of both sets."""
    torch.manual_seed(seed)
    clf = Classifier()
    data = story_dataset(n_stories, 0.3, 0.024, seed)
    train = data.indices("train")
    texts, labels = [data.texts[i] for i in train], torch.tensor([data.labels[i] for i in train])
    fresh = torch.nn.Linear(clf.hidden, 1)  # the standard init the head's ray goes through
    init = {"head.weight": fresh.weight.detach().clone(), "head.bias": fresh.bias.detach().clone()}
    init |= {n: p.detach().clone() for n, p in clf.named_parameters() if "layer.5." in n}
    weights = torch.ones(len(texts))
    emb = clf.embed(texts, progress=True).clone()  # out of inference mode, so the head's training can use it
    train_head(clf, emb, labels, weights, seed=seed)
    finetune(clf, texts, labels, weights, top_layers=1, epochs=1, lr=1e-3, lr_layers=5e-5, batch_size=32, seed=seed)
    return clf, texts, labels, init


def balanced_batch(clf: Classifier, texts: list[str], labels: torch.Tensor, n: int, seed: int) -> dict:
    """n/2 injurious and n/2 safe training texts, tokenized, with their labels (a balanced batch: the
    plain mean BCE then equals the suite's class-balanced training loss)."""
    g = torch.Generator().manual_seed(seed)
    classes = (torch.where(labels == c)[0] for c in (1, 0))
    pick = [idx[torch.randperm(len(idx), generator=g)[: n // 2]] for idx in classes]
    chosen = torch.cat(pick).tolist()
    return {**clf.tokenize([texts[i] for i in chosen]), "labels": labels[chosen].float()}


def bce(model: Classifier, batch: dict) -> torch.Tensor:
    """Mean binary cross-entropy of the classifier's logits on the batch."""
    return F.binary_cross_entropy_with_logits(model.logits(batch["input_ids"], batch["attention_mask"]),
                                              batch["labels"])


def measure(clf: Classifier, batch: dict, init: dict, which: str, quick: bool) -> ModelCurvature:
    counts = QUICK if quick else FULL[which]
    chosen = {n: t for n, t in init.items() if which == "top" or n.startswith("head.")}
    return model_curvature(clf, bce, batch, params=PARAMS[which], init=chosen, **counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts and data (a smoke run)")
    parser.add_argument("--out", type=Path, default=None, help="folder for figures + JSON (default: the docs)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    n_stories, n_batch = (120, 8) if args.quick else (600, 32)
    clf, texts, labels, init = trained_classifier(n_stories, seed=0)
    trained_s = time.perf_counter() - start
    batch = balanced_batch(clf, texts, labels, n_batch, seed=1)
    results = {which: measure(clf, batch, init, which, args.quick) for which in PARAMS}
    label = f"{MODEL}, batch of {n_batch} training stories"
    figures = {f"real_{which}_{k[5:]}": fig for which, res in results.items()
               for k, fig in real_figures(res, label).items()}
    folder = args.out if args.out is not None else figures_root() / "goldilocks"
    written = (export_figures(figures, folder) if args.out is not None else export_to_docs(figures, "goldilocks"))
    runtime = time.perf_counter() - start
    numbers = {"model": MODEL, "backbone": clf.source, "n_stories": n_stories, "batch": n_batch,
               "batch_tokens": list(batch["input_ids"].shape), "train_seconds": trained_s, "runtime_seconds": runtime,
               "threads": torch.get_num_threads(), "quick": args.quick,
               "sets": {which: res.summary() for which, res in results.items()}}
    with atomic_file(folder / "real_model.json") as tmp:
        tmp.write_text(json.dumps(numbers, indent=1) + "\n", encoding="utf-8")
    for which, res in results.items():
        s = res.summary()
        print(f"{which}: D = {res.n_params:,}; at θ₀ Tr/‖H‖ (planes) {s['measures']['current']['plane']['trace_ratio']}"
              f"; Hutch++ Tr H = {res.trace:.4g}; costs {res.costs}")
    print(f"wrote {len(written) + 1} files into {folder}; runtime {runtime:.1f} s (training {trained_s:.1f} s)")


if __name__ == "__main__":
    main()

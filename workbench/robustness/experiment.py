"""`run(config) -> RobustnessResult`: train, pick the threshold, filter, attack, adversarially
train, re-attack — one round after another."""

from __future__ import annotations

import hashlib
import random
import time
from typing import Any

import torch
from sklearn.metrics import average_precision_score, roc_auc_score
from tqdm.auto import tqdm

from workbench.robustness.attacks import ATTACKS, run_attack, whole_word_mask
from workbench.robustness.classifier import Classifier
from workbench.robustness.config import RobustnessConfig
from workbench.robustness.data import Dataset, story_dataset, user_dataset
from workbench.robustness.filtering import choose_threshold, confusion, filter_sample, group_weights, sweep
from workbench.robustness.oracle import oracle_label
from workbench.robustness.result import EmbeddingKey, Embeddings, RobustnessResult
from workbench.robustness.train import finetune, train_head
from workbench.tensor.cache import ArtifactCache
from workbench.tensor.fingerprint import code_fingerprint
from workbench.tensor.executor import Executor, as_executor, map_cells
from workbench.tensor.seeding import choose_device, seed_everything

SWEEP_THRESHOLDS = (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.99, 1.0)


def build_dataset(config: RobustnessConfig) -> Dataset:
    if config.data is not None:
        return user_dataset(config.data, config.text_column, config.label_column, config.seed)
    return story_dataset(config.n_stories, config.corpus_unsafe_share, config.unsafe_rate, config.seed)


def cached_embeddings(clf: Classifier, texts: list[str], cache: ArtifactCache | None, progress: bool) -> torch.Tensor:
    """Mean-pooled embeddings of the untouched backbone, through the artifact cache."""
    key = EmbeddingKey(clf.source, hashlib.sha256("\x00".join(texts).encode()).hexdigest(), len(texts), clf.max_length)
    build = lambda: Embeddings(key, clf.embed(texts, progress=progress).cpu())  # noqa: E731
    if cache is None:
        return build().embeddings
    # keyed on the backbone and the texts, and on the code that embeds them (pooling is ours)
    return cache.get_or_build(Embeddings, key, code_fingerprint([Classifier.__module__]), build).embeddings


def _train(clf: Classifier, config: RobustnessConfig, base: torch.Tensor, train_texts: list[str],
           train_emb: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, progress: bool) -> None:
    """Reset to the pretrained encoder, fit the head on embeddings, then fine-tune the top layers."""
    clf.set_flat(base, config.top_layers)
    train_head(clf, train_emb, labels, weights, lr=config.lr, seed=config.seed)
    if config.top_layers > 0:
        finetune(clf, train_texts, labels, weights, config.top_layers, config.epochs, config.lr / 10,
                 config.lr_layers, config.batch_size, config.seed, progress)


def _metrics(scores: torch.Tensor, labels: torch.Tensor, threshold: float) -> dict[str, float]:
    c = confusion(scores, labels, threshold)
    y, s = labels.numpy(), scores.double().numpy()
    return {**c, "precision": c["tp"] / max(c["tp"] + c["fp"], 1), "recall": c["tp"] / max(c["tp"] + c["fn"], 1),
            "auc": float(roc_auc_score(y, s)), "average_precision": float(average_precision_score(y, s))}


def _attack_set(clf: Classifier, name: str, texts: list[str], threshold: float, config: RobustnessConfig,
                has_oracle: bool, vocab_ok: torch.Tensor, desc: str, progress: bool = False) -> list[dict[str, Any]]:
    out = []
    for j, text in enumerate(tqdm(texts, desc=desc, disable=not progress, leave=False)):
        trace = run_attack(name, clf, text, threshold, config.max_budget, config.candidates, config.seed + j, vocab_ok)
        final = trace.final_text
        out.append({"text": text, "final": final, "success_at": trace.success_at, "probs": trace.probs,
                    "oracle": oracle_label(final) if has_oracle else None})
    return out


def _attack_sets(clf: Classifier, texts: list[str], threshold: float, config: RobustnessConfig, has_oracle: bool,
                 vocab_ok: torch.Tensor, progress: bool, stage: str, where: str,
                 executor: Executor) -> list[list[dict[str, Any]]]:
    """Every attack of `ATTACKS` on `texts`, one cell per attack (bars read "<stage>: <attack> on <where>")."""
    cells = [(clf, a, texts, threshold, config, has_oracle, vocab_ok, f"{stage}: {a} on {where}") for a in ATTACKS]
    return map_cells(_attack_set, cells, executor, progress=progress, description="attacks")


def run(config: RobustnessConfig, *, progress: bool = True, device: str | torch.device | None = "cpu",
        executor: str | Executor = "local", cache: ArtifactCache | None = None) -> RobustnessResult:
    """Every round: train (round 0 from `config.head` if given), score, threshold, filter sample,
    sweep, attack the fixed held-out set with both attacks; between rounds attack training texts
    and add the oracle-labelled finds.

    `executor="ray"` (or an `Executor`) runs each round's threshold-sweep points and its per-attack
    sets as Ray tasks (the rounds themselves are sequential: each trains on the last one's finds)."""
    if not isinstance(config, RobustnessConfig):
        raise ValueError(f"`config` must be a RobustnessConfig; got {type(config).__name__}")
    dev = choose_device(device)
    ex = as_executor(executor)
    seed_everything(config.seed)
    clock: dict[str, float] = {}
    t0 = time.perf_counter()
    data = build_dataset(config)
    clf = Classifier(config.backbone, config.max_length, device=dev)
    base = clf.get_flat(config.top_layers)
    labels = torch.tensor(data.labels)
    emb = cached_embeddings(clf, data.texts, cache, progress)
    clock["embed"] = time.perf_counter() - t0

    train_idx = data.indices("train")
    train_texts = [data.texts[i] for i in train_idx]
    train_emb, train_labels = emb[train_idx], labels[train_idx]
    train_w = torch.ones(len(train_idx))
    rng = random.Random(config.seed)
    test_pos = data.indices("test", 1)
    attack_index = sorted(rng.sample(test_pos, min(config.n_attack, len(test_pos))))
    train_pos = data.indices("train", 1)
    vocab_ok = whole_word_mask(clf)
    W = group_weights(torch.tensor(data.gen_weight), torch.tensor(data.group))
    test = torch.tensor(data.split) == 2
    val_safe = (torch.tensor(data.split) == 1) & (labels == 0)

    R = config.rounds + 1
    scores, thresholds, params, success, preserved, info = [], [], [], [], [], []
    for r in range(R):
        t = time.perf_counter()
        train_size = len(train_texts)
        if r == 0 and config.head is not None:
            clf.load_head(config.head)
        else:
            _train(clf, config, base, train_texts, train_emb, train_labels, train_w, progress)
        params.append(clf.get_flat(config.top_layers))
        s = clf.head_probs(emb).cpu() if config.top_layers == 0 else clf.score(data.texts, progress=progress).cpu()
        threshold = choose_threshold(s[val_safe], config.max_safe_lost)
        clock[f"round{r}_train_score"] = time.perf_counter() - t

        t = time.perf_counter()
        outcome, _ = filter_sample(W, s, labels, threshold, config.n_filter_samples,
                                   config.max_resamples, torch.Generator().manual_seed(config.seed))
        grid = sorted(set(SWEEP_THRESHOLDS) | {threshold})
        swept = sweep(W, s, labels, grid, max(config.n_filter_samples // 10, 1), config.max_resamples, config.seed, ex)
        clock[f"round{r}_filter"] = time.perf_counter() - t

        t = time.perf_counter()
        per_attack = _attack_sets(clf, [data.texts[i] for i in attack_index], threshold, config, data.has_oracle,
                                  vocab_ok, progress, f"round {r}", "held-out", ex)
        success.append([[-1 if x["success_at"] is None else x["success_at"] for x in rows] for rows in per_attack])
        preserved.append([[-1 if x["oracle"] is None else x["oracle"] for x in rows] for rows in per_attack])
        clock[f"round{r}_attack"] = time.perf_counter() - t

        added: list[dict[str, Any]] = []
        if r < config.rounds:
            t = time.perf_counter()
            picked = rng.sample(train_pos, min(config.n_train_attack, len(train_pos)))
            found = _attack_sets(clf, [data.texts[i] for i in picked], threshold, config, data.has_oracle,
                                 vocab_ok, progress, f"round {r}", "training texts", ex)
            for a, rows in zip(ATTACKS, found):
                # without an oracle, an adversarial text keeps its source's label (TextAttack's assumption)
                added += [{"text": x["final"], "label": 1 if x["oracle"] is None else x["oracle"], "attack": a}
                          for x in rows if x["final"] != x["text"]]
            new_texts = [x["text"] for x in added]
            if new_texts:
                train_texts = train_texts + new_texts
                train_emb = torch.cat([train_emb, clf_embed_base(clf, base, config, new_texts)])
                train_labels = torch.cat([train_labels, torch.tensor([x["label"] for x in added])])
                train_w = torch.cat([train_w, torch.full((len(new_texts),), config.adv_weight)])
            clock[f"round{r}_adversarial_data"] = time.perf_counter() - t

        scores.append(s)
        thresholds.append(threshold)
        info.append({
            "threshold": threshold,
            "filter": outcome.as_dict(),
            "sweep": swept,
            "test_metrics": _metrics(s[test], labels[test], threshold),
            "base_unsafe_rate": float((W.sum(0) / W.shape[0] * labels.double()).sum()),
            "attacks": {a: rows[: min(len(rows), 12)] for a, rows in zip(ATTACKS, per_attack)},
            "adversarial_added": len(added),
            "adversarial_injurious": sum(x["label"] for x in added),
            "adversarial_examples": added[:20],
            "train_size": train_size,
        })
    clock["total"] = time.perf_counter() - t0
    return RobustnessResult(
        config=config, labels=labels, split=torch.tensor(data.split), group=torch.tensor(data.group),
        gen_weight=torch.tensor(data.gen_weight, dtype=torch.float64), scores=torch.stack(scores).float(),
        thresholds=torch.tensor(thresholds, dtype=torch.float64), params=torch.stack(params),
        attack_index=torch.tensor(attack_index), success_at=torch.tensor(success), preserved=torch.tensor(preserved),
        texts=data.texts, categories=data.categories, has_oracle=data.has_oracle, rounds_info=info,
        seconds={k: round(v, 2) for k, v in clock.items()},
    )


def clf_embed_base(clf: Classifier, base: torch.Tensor, config: RobustnessConfig, texts: list[str]) -> torch.Tensor:
    """Embeddings of `texts` by the untouched encoder (what the head-only training sees)."""
    if config.top_layers == 0:
        return clf.embed(texts).cpu()
    current = clf.get_flat(config.top_layers)
    clf.set_flat(base, config.top_layers)
    try:
        return clf.embed(texts).cpu()
    finally:
        clf.set_flat(current, config.top_layers)

"""`run(config) -> RobustnessResult`: train, pick the threshold, filter, attack, adversarially
train, re-attack — one round after another."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor
from sklearn.metrics import average_precision_score, roc_auc_score
from tqdm.auto import tqdm

from workbench.robustness.attacks import ATTACKS, run_attack, whole_word_mask
from workbench.robustness.classifier import Classifier, embedded_backbone_path
from workbench.robustness.config import RobustnessConfig
from workbench.robustness.data import Dataset, story_dataset, user_dataset
from workbench.robustness.filtering import (
    FilterOutcome,
    choose_threshold,
    confusion,
    filter_sample,
    group_weights,
    sweep,
)
from workbench.robustness.oracle import oracle_label
from workbench.robustness.result import EmbeddingKey, Embeddings, RobustnessResult
from workbench.robustness.train import finetune, train_head
from workbench.tensor.cache import ArtifactCache
from workbench.tensor.fingerprint import code_fingerprint
from workbench.tensor.executor import Executor, as_executor, map_cells
from workbench.tensor.seeding import choose_device, seed_everything
from workbench.tensor.threads import folder_parameters, thread_policy

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
    return cache.get_or_build(Embeddings, key, code_fingerprint([Classifier.__module__], parents=False), build).embeddings


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


@contextmanager
def _timed(clock: dict[str, float], name: str) -> Iterator[None]:
    """Record the seconds the block took under `name` (a block that raises records nothing)."""
    t = time.perf_counter()
    yield
    clock[name] = time.perf_counter() - t


@dataclass(frozen=True)
class _Setup:
    """What every round reads: the data, the classifier with its pretrained top layers, the filter's
    generator weights, the splits and the fixed held-out attack set."""

    data: Dataset
    clf: Classifier
    base: Float[Tensor, "p"]  # the pretrained top layers, flat: every round trains from these
    labels: Int[Tensor, "n"]
    emb: Float[Tensor, "n e"]  # the untouched backbone's embeddings
    W: Float[Tensor, "g n"]
    test: Bool[Tensor, "n"]
    val_safe: Bool[Tensor, "n"]
    attack_index: list[int]
    train_pos: list[int]
    vocab_ok: Bool[Tensor, "v"]
    rng: random.Random  # drew `attack_index`, then draws each round's attacked training texts


@dataclass
class _TrainingSet:
    """What the next round trains on: the train split, then every earlier round's adversarial finds."""

    texts: list[str]
    emb: Float[Tensor, "t e"]
    labels: Int[Tensor, "t"]
    weights: Float[Tensor, "t"]


class _Round(NamedTuple):
    params: Float[Tensor, "p"]
    scores: Float[Tensor, "n"]
    threshold: float
    per_attack: list[list[dict[str, Any]]]  # [attack][held-out text]
    info: dict[str, Any]


def _prepare(config: RobustnessConfig, dev: torch.device, cache: ArtifactCache | None, progress: bool,
             clock: dict[str, float]) -> tuple[_Setup, _TrainingSet]:
    """Data, classifier and embeddings (timed as "embed"), the splits and the held-out attack set.
    The order of the random draws is the results': do not reorder."""
    with _timed(clock, "embed"):
        data = build_dataset(config)
        clf = Classifier(config.backbone, config.max_length, device=dev)
        base = clf.get_flat(config.top_layers)
        labels = torch.tensor(data.labels)
        emb = cached_embeddings(clf, data.texts, cache, progress)
    train_idx = data.indices("train")
    train = _TrainingSet([data.texts[i] for i in train_idx], emb[train_idx], labels[train_idx],
                         torch.ones(len(train_idx)))
    rng = random.Random(config.seed)
    test_pos = data.indices("test", 1)
    attack_index = sorted(rng.sample(test_pos, min(config.n_attack, len(test_pos))))
    train_pos = data.indices("train", 1)
    vocab_ok = whole_word_mask(clf)
    W = group_weights(torch.tensor(data.gen_weight), torch.tensor(data.group))
    split = torch.tensor(data.split)
    setup = _Setup(data, clf, base, labels, emb, W, test=split == 2, val_safe=(split == 1) & (labels == 0),
                   attack_index=attack_index, train_pos=train_pos, vocab_ok=vocab_ok, rng=rng)
    return setup, train


def _train_and_score(setup: _Setup, train: _TrainingSet, config: RobustnessConfig, r: int,
                     progress: bool) -> tuple[Float[Tensor, "p"], Float[Tensor, "n"], float]:
    """Train round r's classifier (round 0 from `config.head` if given), score every text, and pick
    the threshold on the safe validation texts. Returns (top-layer parameters, scores, threshold)."""
    clf = setup.clf
    if r == 0 and config.head is not None:
        clf.load_head(config.head)
    else:
        _train(clf, config, setup.base, train.texts, train.emb, train.labels, train.weights, progress)
    params = clf.get_flat(config.top_layers)
    s = clf.head_probs(setup.emb).cpu() if config.top_layers == 0 else clf.score(setup.data.texts, progress=progress).cpu()
    return params, s, choose_threshold(s[setup.val_safe], config.max_safe_lost)


def _filter(setup: _Setup, s: Float[Tensor, "n"], threshold: float, config: RobustnessConfig,
            ex: Executor) -> tuple[FilterOutcome, list[dict[str, float | int]]]:
    """The filter sampled at the chosen threshold, and the sweep over `SWEEP_THRESHOLDS` and it
    (a tenth of the samples per point)."""
    outcome, _ = filter_sample(setup.W, s, setup.labels, threshold, config.n_filter_samples,
                               config.max_resamples, torch.Generator().manual_seed(config.seed))
    grid = sorted(set(SWEEP_THRESHOLDS) | {threshold})
    swept = sweep(setup.W, s, setup.labels, grid, max(config.n_filter_samples // 10, 1), config.max_resamples,
                  config.seed, ex)
    return outcome, swept


def _adversarial_data(setup: _Setup, train: _TrainingSet, threshold: float, config: RobustnessConfig, r: int,
                      progress: bool, ex: Executor) -> list[dict[str, Any]]:
    """Attack a fresh sample of injurious training texts and add every changed text to `train`
    (labelled by the oracle). Returns the added texts."""
    picked = setup.rng.sample(setup.train_pos, min(config.n_train_attack, len(setup.train_pos)))
    found = _attack_sets(setup.clf, [setup.data.texts[i] for i in picked], threshold, config, setup.data.has_oracle,
                         setup.vocab_ok, progress, f"round {r}", "training texts", ex)
    added: list[dict[str, Any]] = []
    for a, rows in zip(ATTACKS, found):
        # without an oracle, an adversarial text keeps its source's label (TextAttack's assumption)
        added += [{"text": x["final"], "label": 1 if x["oracle"] is None else x["oracle"], "attack": a}
                  for x in rows if x["final"] != x["text"]]
    new_texts = [x["text"] for x in added]
    if new_texts:
        train.texts = train.texts + new_texts
        train.emb = torch.cat([train.emb, clf_embed_base(setup.clf, setup.base, config, new_texts)])
        train.labels = torch.cat([train.labels, torch.tensor([x["label"] for x in added])])
        train.weights = torch.cat([train.weights, torch.full((len(new_texts),), config.adv_weight)])
    return added


def _run_round(setup: _Setup, train: _TrainingSet, config: RobustnessConfig, r: int, progress: bool,
               ex: Executor, clock: dict[str, float]) -> _Round:
    """Round r: train, score, threshold, filter and sweep, attack the held-out set; before another
    round, attack training texts and add the finds to `train`."""
    train_size = len(train.texts)
    with _timed(clock, f"round{r}_train_score"):
        params, s, threshold = _train_and_score(setup, train, config, r, progress)
    with _timed(clock, f"round{r}_filter"):
        outcome, swept = _filter(setup, s, threshold, config, ex)
    with _timed(clock, f"round{r}_attack"):
        per_attack = _attack_sets(setup.clf, [setup.data.texts[i] for i in setup.attack_index], threshold, config,
                                  setup.data.has_oracle, setup.vocab_ok, progress, f"round {r}", "held-out", ex)
    added: list[dict[str, Any]] = []
    if r < config.rounds:
        with _timed(clock, f"round{r}_adversarial_data"):
            added = _adversarial_data(setup, train, threshold, config, r, progress, ex)
    labels, W = setup.labels, setup.W
    info = {
        "threshold": threshold,
        "filter": outcome.as_dict(),
        "sweep": swept,
        "test_metrics": _metrics(s[setup.test], labels[setup.test], threshold),
        "base_unsafe_rate": float((W.sum(0) / W.shape[0] * labels.double()).sum()),
        "attacks": {a: rows[: min(len(rows), 12)] for a, rows in zip(ATTACKS, per_attack)},
        "adversarial_added": len(added),
        "adversarial_injurious": sum(x["label"] for x in added),
        "adversarial_examples": added[:20],
        "train_size": train_size,
    }
    return _Round(params, s, threshold, per_attack, info)


def _codes(rounds: list[_Round], key: str) -> list[list[list[int]]]:
    """[round][attack][held-out text]: each attack row's `key` (`success_at`, `oracle`), -1 for None."""
    return [[[-1 if x[key] is None else x[key] for x in rows] for rows in o.per_attack] for o in rounds]


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
    # MiniLM (22.7M parameters) runs on one thread on the CPU; a user's big backbone keeps torch's (tensor.threads)
    with thread_policy(dev, folder_parameters(config.backbone or embedded_backbone_path())):
        setup, train = _prepare(config, dev, cache, progress, clock)
        rounds = [_run_round(setup, train, config, r, progress, ex, clock) for r in range(config.rounds + 1)]
    clock["total"] = time.perf_counter() - t0
    data = setup.data
    return RobustnessResult(
        config=config, labels=setup.labels, split=torch.tensor(data.split), group=torch.tensor(data.group),
        gen_weight=torch.tensor(data.gen_weight, dtype=torch.float64),
        scores=torch.stack([o.scores for o in rounds]).float(),
        thresholds=torch.tensor([o.threshold for o in rounds], dtype=torch.float64),
        params=torch.stack([o.params for o in rounds]), attack_index=torch.tensor(setup.attack_index),
        success_at=torch.tensor(_codes(rounds, "success_at")), preserved=torch.tensor(_codes(rounds, "oracle")),
        texts=data.texts, categories=data.categories, has_oracle=data.has_oracle,
        rounds_info=[o.info for o in rounds], seconds={k: round(v, 2) for k, v in clock.items()},
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

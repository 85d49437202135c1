"""`run(config) -> RobustnessResult`: train, pick the threshold, filter fresh draws, attack
(effort to first failure), adversarially train on the finds and their paraphrases, re-attack — one
round after another."""

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
from sklearn.metrics import average_precision_score, roc_auc_score
from torch import Tensor
from tqdm.auto import tqdm

from workbench.core.cache import ArtifactCache
from workbench.core.executor import Executor, as_executor, map_cells
from workbench.core.fingerprint import code_fingerprint
from workbench.core.seeding import choose_device, seed_everything
from workbench.core.threads import folder_parameters, thread_policy
from workbench.robustness.attacks import ATTACKS, TRAINED_ATTACKS, run_attack, whole_word_mask
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
from workbench.robustness.fresh import (
    FreshDraws,
    draw_fresh,
    fresh_share,
    fresh_sweep,
    quality,
    scored_subset,
    unsafe_after_filter,
)
from workbench.robustness.oracle import oracle_label
from workbench.robustness.paraphrase import paraphrase_attack, paraphrases
from workbench.robustness.result import EmbeddingKey, Embeddings, RobustnessResult
from workbench.robustness.train import finetune, train_head

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
    return cache.get_or_build(
        Embeddings, key, code_fingerprint([Classifier.__module__], parents=False), build
    ).embeddings


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


def _attack_set(clf: Classifier, name: str, stories: list[tuple[str, str]], threshold: float, config: RobustnessConfig,
                has_oracle: bool, vocab_ok: torch.Tensor, desc: str, progress: bool = False) -> list[dict[str, Any]]:
    """Attack `name` on each (prompt, completion): the completion is edited, the oracle (when there
    is one) constrains every step; `queries` = the query of the first oracle-valid success or None."""
    out = []
    oracle = oracle_label if has_oracle else None
    for j, (prompt, completion) in enumerate(tqdm(stories, desc=desc, disable=not progress, leave=False)):
        trace = run_attack(name, clf, completion, threshold, config.max_budget, config.candidates, config.seed + j,
                           vocab_ok, context=prompt, oracle=oracle)
        final = trace.final_text
        out.append({"text": trace.texts[0], "final": final, "success_at": trace.success_at, "probs": trace.probs,
                    "queries": trace.success_query, "oracle": oracle_label(final) if has_oracle else None})
    return out


def _attack_sets(clf: Classifier, stories: list[tuple[str, str]], threshold: float, config: RobustnessConfig,
                 has_oracle: bool, vocab_ok: torch.Tensor, progress: bool, stage: str, where: str,
                 executor: Executor, attacks: tuple[str, ...] = ATTACKS) -> list[list[dict[str, Any]]]:
    """Every attack of `attacks` on `stories`, one cell per attack (bars read "<stage>: <attack> on <where>")."""
    cells = [(clf, a, stories, threshold, config, has_oracle, vocab_ok, f"{stage}: {a} on {where}") for a in attacks]
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
    base: Float[Tensor, " p"]  # the pretrained top layers, flat: every round trains from these
    labels: Int[Tensor, " n"]
    emb: Float[Tensor, "n e"]  # the untouched backbone's embeddings
    W: Float[Tensor, "g n"]
    test: Bool[Tensor, " n"]
    val_safe: Bool[Tensor, " n"]
    attack_index: list[int]
    train_pos: list[int]
    vocab_ok: Bool[Tensor, " v"]
    rng: random.Random  # drew `attack_index`, then draws each round's attacked training texts
    fresh: FreshDraws  # the scored fresh draws (every unsafe one, a sample of safe ones)
    fresh_emb: Float[Tensor, "f e"] | None  # by the untouched backbone (None: user data, or top layers train)
    fresh_info: dict[str, Any]  # draws, fresh shares, categories and templates of the scored draws

    def story(self, i: int) -> tuple[str, str]:
        """Text i as (prompt, completion): what an attack leaves alone and what it edits."""
        prompt = self.data.prompts[i]
        return prompt, self.data.texts[i][len(prompt) + 1 :] if prompt else self.data.texts[i]


@dataclass
class _TrainingSet:
    """What the next round trains on: the train split, then every earlier round's adversarial finds."""

    texts: list[str]
    emb: Float[Tensor, "t e"]
    labels: Int[Tensor, " t"]
    weights: Float[Tensor, " t"]


class _Round(NamedTuple):
    params: Float[Tensor, " p"]
    scores: Float[Tensor, " n"]
    threshold: float
    per_attack: list[list[dict[str, Any]]]  # [attack][held-out text]
    info: dict[str, Any]
    fresh_scores: Float[Tensor, " f"]


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
    with _timed(clock, "fresh_draws"):
        fresh, fresh_emb, fresh_info = _fresh(config, data, clf, cache, progress)
    setup = _Setup(data, clf, base, labels, emb, W, test=split == 2, val_safe=(split == 1) & (labels == 0),
                   attack_index=attack_index, train_pos=train_pos, vocab_ok=vocab_ok, rng=rng, fresh=fresh,
                   fresh_emb=fresh_emb, fresh_info=fresh_info)
    return setup, train


def _fresh(config: RobustnessConfig, data: Dataset, clf: Classifier, cache: ArtifactCache | None,
           progress: bool) -> tuple[FreshDraws, torch.Tensor | None, dict[str, Any]]:
    """`config.n_fresh` draws of the whole grammar, the share not seen verbatim in train or test
    (whole stories, and completions alone), and the scored subset with its embeddings."""
    if not data.has_oracle:  # a user's file has no generator
        return FreshDraws([], [], [], [], []), None, {"draws": 0}
    draws = draw_fresh(config.n_fresh, config.unsafe_rate, config.seed + 7)
    seen = [i for i, sp in enumerate(data.split) if sp in (0, 2)]
    seen_completions = [data.texts[i][len(data.prompts[i]) + 1 :] for i in seen]
    info = {"draws": config.n_fresh, "fresh_share": fresh_share(draws.texts, [data.texts[i] for i in seen]),
            "fresh_share_completion": fresh_share(draws.completions, seen_completions)}
    idx = scored_subset(draws.labels, config.n_fresh_safe, config.seed + 8)
    scored = FreshDraws(*([getattr(draws, f)[i] for i in idx] for f in ("texts", "completions", "labels", "categories",
                                                                        "templates")))
    emb = cached_embeddings(clf, scored.texts, cache, progress) if config.top_layers == 0 else None
    return scored, emb, {**info, "categories": scored.categories, "templates": scored.templates}


def _train_and_score(setup: _Setup, train: _TrainingSet, config: RobustnessConfig, r: int,
                     progress: bool) -> tuple[Float[Tensor, " p"], Float[Tensor, " n"], float, Float[Tensor, " f"]]:
    """Train round r's classifier (round 0 from `config.head` if given), score every text and the
    scored fresh draws, and pick the threshold on the safe validation texts. Returns (top-layer
    parameters, scores, threshold, fresh scores)."""
    clf = setup.clf
    if r == 0 and config.head is not None:
        clf.load_head(config.head)
    else:
        _train(clf, config, setup.base, train.texts, train.emb, train.labels, train.weights, progress)
    params = clf.get_flat(config.top_layers)
    s = _scores(clf, config, setup.emb, setup.data.texts, progress)
    # `_fresh` caches the fresh draws' embeddings exactly when only the head trains
    fresh = _scores(clf, config, setup.fresh_emb, setup.fresh.texts, progress) if setup.fresh.texts else torch.zeros(0)
    return params, s, choose_threshold(s[setup.val_safe], config.max_safe_lost), fresh


def _scores(clf: Classifier, config: RobustnessConfig, emb: Float[Tensor, "n e"] | None, texts: list[str],
            progress: bool = False) -> Float[Tensor, " n"]:
    """p(injurious) of `texts` by the current classifier: its head on their cached base embeddings
    `emb` when only the head trains, else a full forward (the top layers have changed)."""
    return (clf.head_probs(emb) if config.top_layers == 0 else clf.score(texts, progress=progress)).cpu()


def _filter(setup: _Setup, s: Float[Tensor, " n"], threshold: float, config: RobustnessConfig,
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
                      progress: bool, ex: Executor) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Attack a fresh sample of injurious training stories with the trained attacks, add every
    changed text (labelled by the oracle) and `n_paraphrase` oracle-checked paraphrases of each
    to `train`. Returns (the added texts, the paraphrases read as an attack: `paraphrase_attack`)."""
    picked = setup.rng.sample(setup.train_pos, min(config.n_train_attack, len(setup.train_pos)))
    found = _attack_sets(setup.clf, [setup.story(i) for i in picked], threshold, config, setup.data.has_oracle,
                         setup.vocab_ok, progress, f"round {r}", "training texts", ex, TRAINED_ATTACKS)
    added: list[dict[str, Any]] = []
    pool = [setup.data.texts[i] for i in setup.train_pos]
    rng = random.Random(config.seed + 1000 + r)
    for a, rows in zip(TRAINED_ATTACKS, found):
        for x in rows:
            if x["final"] == x["text"]:
                continue
            # without an oracle, an adversarial text keeps its source's label (TextAttack's assumption)
            label = 1 if x["oracle"] is None else x["oracle"]
            added.append({"text": x["final"], "label": label, "attack": a})
            if x["oracle"] is not None:
                added += [
                    {"text": t, "label": label, "attack": f"{a} paraphrase", "source": len(added) - 1}
                    for t in paraphrases(x["text"], x["final"], pool, config.n_paraphrase, label, oracle_label, rng)
                ]
    new_texts = [x["text"] for x in added]
    new_emb = clf_embed_base(setup.clf, setup.base, config, new_texts) if new_texts else None
    # the paraphrases as an attack on this round's classifier, before it trains on them
    para = [i for i, x in enumerate(added) if "source" in x]
    p = _scores(setup.clf, config, new_emb[para], [new_texts[i] for i in para]).tolist() if para else []
    found_by_paraphrase = paraphrase_attack(p, [added[i]["source"] for i in para], threshold)
    if new_texts:
        train.texts = train.texts + new_texts
        train.emb = torch.cat([train.emb, new_emb])
        train.labels = torch.cat([train.labels, torch.tensor([x["label"] for x in added])])
        train.weights = torch.cat([train.weights, torch.full((len(new_texts),), config.adv_weight)])
    return added, found_by_paraphrase


def _fresh_info(
    setup: _Setup, fresh: Float[Tensor, " f"], threshold: float, config: RobustnessConfig
) -> dict[str, Any]:
    """The fresh draws at this round's threshold: unsafe after filtering with its bound, quality,
    and the sweep over `SWEEP_THRESHOLDS` (empty without a generator)."""
    if fresh.numel() == 0:
        return {}
    y = torch.tensor(setup.fresh.labels)
    after = unsafe_after_filter(fresh, y, config.n_fresh, threshold)
    return {"unsafe_after_filter": after,
            "quality": quality(fresh, y, setup.fresh.categories, setup.fresh.templates, threshold, after["base_rate"]),
            "sweep": fresh_sweep(fresh, y, config.n_fresh, sorted(set(SWEEP_THRESHOLDS) | {threshold}))}


def _run_round(setup: _Setup, train: _TrainingSet, config: RobustnessConfig, r: int, progress: bool,
               ex: Executor, clock: dict[str, float]) -> _Round:
    """Round r: train, score, threshold, filter (fresh draws, the test split's sweep), attack the
    held-out set with every attack; before another round, attack training texts with the trained
    attacks and add the finds and their paraphrases to `train`."""
    train_size = len(train.texts)
    with _timed(clock, f"round{r}_train_score"):
        params, s, threshold, fresh = _train_and_score(setup, train, config, r, progress)
    with _timed(clock, f"round{r}_filter"):
        outcome, swept = _filter(setup, s, threshold, config, ex)
        fresh_info = _fresh_info(setup, fresh, threshold, config)
    with _timed(clock, f"round{r}_attack"):
        per_attack = _attack_sets(setup.clf, [setup.story(i) for i in setup.attack_index], threshold, config,
                                  setup.data.has_oracle, setup.vocab_ok, progress, f"round {r}", "held-out", ex)
    added: list[dict[str, Any]] = []
    found_by_paraphrase = None  # the last round makes no training data
    if r < config.rounds:
        with _timed(clock, f"round{r}_adversarial_data"):
            added, found_by_paraphrase = _adversarial_data(setup, train, threshold, config, r, progress, ex)
    labels, W = setup.labels, setup.W
    info = {
        "threshold": threshold,
        "filter": outcome.as_dict(),
        "sweep": swept,
        "fresh": fresh_info,
        "test_metrics": _metrics(s[setup.test], labels[setup.test], threshold),
        "base_unsafe_rate": float((W.sum(0) / W.shape[0] * labels.double()).sum()),
        "attacks": {a: rows[: min(len(rows), 12)] for a, rows in zip(ATTACKS, per_attack)},
        "adversarial_added": len(added),
        "adversarial_injurious": sum(x["label"] for x in added),
        "adversarial_paraphrases": sum("paraphrase" in x["attack"] for x in added),
        "paraphrase_attack": found_by_paraphrase,
        "adversarial_examples": added[:20],
        "train_size": train_size,
    }
    return _Round(params, s, threshold, per_attack, info, fresh)


def _codes(rounds: list[_Round], key: str) -> list[list[list[int]]]:
    """[round][attack][held-out text]: each attack row's `key` (`success_at`, `oracle`, `queries`), -1 for None."""
    return [[[-1 if x[key] is None else x[key] for x in rows] for rows in o.per_attack] for o in rounds]


def run(config: RobustnessConfig, *, progress: bool = True, device: str | torch.device | None = "cpu",
        executor: str | Executor = "local", cache: ArtifactCache | None = None) -> RobustnessResult:
    """Every round: train (round 0 from `config.head` if given), score, threshold, the filter on
    fresh draws and the test split's sweep, attack the fixed held-out set with every attack
    (effort to first failure); between rounds attack training texts with the trained attacks and
    add the oracle-labelled finds and their paraphrases.

    `executor="ray"` (or an `Executor`) runs each round's threshold-sweep points and its per-attack
    sets as Ray tasks (the rounds themselves are sequential: each trains on the last one's finds)."""
    if not isinstance(config, RobustnessConfig):
        raise ValueError(f"`config` must be a RobustnessConfig; got {type(config).__name__}")
    dev = choose_device(device)
    ex = as_executor(executor)
    seed_everything(config.seed)
    clock: dict[str, float] = {}
    t0 = time.perf_counter()
    # MiniLM (22.7M parameters) runs on one thread on the CPU; a user's big backbone keeps torch's (core.threads)
    with thread_policy(dev, folder_parameters(config.backbone or embedded_backbone_path())):
        setup, train = _prepare(config, dev, cache, progress, clock)
        rounds = [_run_round(setup, train, config, r, progress, ex, clock) for r in range(config.rounds + 1)]
    clock["total"] = time.perf_counter() - t0
    data = setup.data
    return RobustnessResult(
        config=config,
        labels=setup.labels,
        split=torch.tensor(data.split),
        group=torch.tensor(data.group),
        gen_weight=torch.tensor(data.gen_weight, dtype=torch.float64),
        scores=torch.stack([o.scores for o in rounds]).float(),
        thresholds=torch.tensor([o.threshold for o in rounds], dtype=torch.float64),
        params=torch.stack([o.params for o in rounds]),
        attack_index=torch.tensor(setup.attack_index),
        success_at=torch.tensor(_codes(rounds, "success_at")),
        preserved=torch.tensor(_codes(rounds, "oracle")),
        effort=torch.tensor(_codes(rounds, "queries")),
        fresh_scores=torch.stack([o.fresh_scores for o in rounds]).float(),
        fresh_labels=torch.tensor(setup.fresh.labels, dtype=torch.long),
        fresh_info=setup.fresh_info,
        texts=data.texts,
        categories=data.categories,
        has_oracle=data.has_oracle,
        rounds_info=[o.info for o in rounds],
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

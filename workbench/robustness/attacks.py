"""Attacks with a budget on the classifier's score, and the saliency tool.

HotFlip-style token substitution (Ebrahimi et al. 2018), first order: with e_i the input embedding
of token i and g_i = ∂logit/∂e_i, replacing token i by vocabulary entry v changes the logit by about

    Δ(i, v) ≈ (E_v − E_{x_i}) · g_i                      (one matrix product: [T, d] @ [d, V])

The `candidates` most negative (i, v) pairs are then scored exactly in ONE batched forward pass and
the best is applied; repeat until p < threshold or `budget` substitutions were made. Only
whole-word vocabulary entries replace whole-word tokens, and a position is changed at most once, so
a result changes at most `budget` word-piece tokens and survives decode → re-tokenize.

Synonym substitution from the corpus vocabulary: each word of the text that belongs to a synonym
class of the corpus (names, injury verbs, participles, body parts, harmless verbs, objects) may be
swapped for another word of its class; up to `candidates` swaps per step (seeded sample) are
scored in one batch and the best is applied. Budget = words changed. The oracle re-labels every
adversarial text, so label preservation is measured, not assumed (a word in two classes, e.g.
"cut", may still change the reading).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

import torch
from jaxtyping import Float, Int
from torch import Tensor

from workbench.robustness import corpus
from workbench.robustness.classifier import Classifier
from workbench.tensor.validation import check_int, check_range

ATTACKS = ("hotflip", "vocabulary")


@dataclass
class AttackTrace:
    """One attack run. probs[s] = p(injurious) after s substitutions (probs[0]: the original);
    texts[s] likewise. `success_at` = the first s with probs[s] < threshold, or None."""

    attack: str
    threshold: float
    texts: list[str] = field(default_factory=list)
    probs: list[float] = field(default_factory=list)

    @property
    def success_at(self) -> int | None:
        return next((s for s, p in enumerate(self.probs) if p < self.threshold), None)

    @property
    def final_text(self) -> str:
        """The text at first success, else the last one tried."""
        s = self.success_at
        return self.texts[-1 if s is None else s]


def _check_attack_args(threshold: float, budget: int, candidates: int) -> None:
    check_range("threshold", threshold, 0.0, 1.0)
    check_int("budget", budget, low=0)
    check_int("candidates", candidates, low=1)


def whole_word_mask(clf: Classifier) -> torch.Tensor:
    """Bool[V]: vocabulary entries that are lower-case alphabetic whole words (no ## pieces)."""
    vocab = clf.tokenizer.get_vocab()
    mask = torch.zeros(len(vocab) if max(vocab.values()) < len(vocab) else max(vocab.values()) + 1, dtype=torch.bool)
    pattern = re.compile(r"^[a-z]{2,}$")
    for tok, i in vocab.items():
        if pattern.match(tok):
            mask[i] = True
    return mask[: clf.token_embeddings().shape[0]].to(clf.device)


def _editable_positions(clf: Classifier, ids: Int[Tensor, "t"], vocab_ok: torch.Tensor) -> torch.Tensor:
    """Bool[t]: whole-word tokens not followed by a ## continuation (safe to swap for a whole word)."""
    toks = clf.tokenizer.convert_ids_to_tokens(ids.tolist())
    whole = vocab_ok[ids.to(vocab_ok.device)].tolist()  # one copy; bool(vocab_ok[i]) per token synced the device each time
    ok = [whole[j] and not (j + 1 < len(toks) and toks[j + 1].startswith("##")) for j in range(len(toks))]
    return torch.tensor(ok, device=ids.device)


def logit_gradient(clf: Classifier, ids: Int[Tensor, "t"]) -> tuple[float, Float[Tensor, "t d"]]:
    """The logit of one token sequence and its gradient w.r.t. the input token embeddings."""
    emb = clf.token_embeddings()[ids].detach().clone().requires_grad_(True)
    mask = torch.ones(1, len(ids), dtype=torch.long, device=ids.device)
    with torch.enable_grad():
        logit = clf.logits(None, mask, inputs_embeds=emb.unsqueeze(0))[0]
        (grad,) = torch.autograd.grad(logit, emb)
    return float(logit.detach()), grad


def first_order_deltas(clf: Classifier, ids: Int[Tensor, "t"], grad: Float[Tensor, "t d"]) -> Float[Tensor, "t V"]:
    """Δ(i, v) = (E_v − E_{x_i}) · g_i for every position i and vocabulary entry v."""
    E = clf.token_embeddings().detach()
    return grad @ E.T - (grad * E[ids]).sum(-1, keepdim=True)


@torch.inference_mode()
def batch_logits(clf: Classifier, ids: Int[Tensor, "b t"]) -> Float[Tensor, "b"]:
    """Exact logits of same-length token sequences in one forward pass (no padding needed)."""
    return clf.logits(ids, torch.ones_like(ids))


def hotflip(clf: Classifier, text: str, threshold: float, budget: int, candidates: int = 64,
            vocab_ok: torch.Tensor | None = None) -> AttackTrace:
    """Greedy first-order token substitution until p < threshold or `budget` tokens changed."""
    _check_attack_args(threshold, budget, candidates)
    vocab_ok = whole_word_mask(clf) if vocab_ok is None else vocab_ok
    ids = clf.tokenize([text])["input_ids"][0]
    editable = _editable_positions(clf, ids, vocab_ok)
    trace = AttackTrace("hotflip", float(threshold), [text], [float(torch.sigmoid(batch_logits(clf, ids[None]))[0])])
    for _ in range(budget):
        if trace.probs[-1] < threshold or not bool(editable.any()):
            break
        logit, grad = logit_gradient(clf, ids)
        delta = first_order_deltas(clf, ids, grad)
        delta[~editable] = float("inf")
        delta[:, ~vocab_ok] = float("inf")
        delta[torch.arange(len(ids)), ids] = float("inf")
        k = min(candidates, int(torch.isfinite(delta).sum()))
        if k == 0:
            break
        flat = torch.topk(-delta.flatten(), k).indices
        pos, tok = flat // delta.shape[1], flat % delta.shape[1]
        cand = ids.repeat(k, 1)
        cand[torch.arange(k), pos] = tok
        logits = batch_logits(clf, cand)
        best = int(torch.argmin(logits))
        if float(logits[best]) >= logit:
            break  # no candidate lowers the score: a local minimum of the greedy search
        ids = cand[best]
        editable[pos[best]] = False
        new_text = clf.tokenizer.decode(ids[1:-1])
        trace.texts.append(new_text)
        trace.probs.append(float(clf.score([new_text])[0]))  # the text, re-tokenized, is what counts
    return trace


def vocabulary_classes() -> list[tuple[str, ...]]:
    """Synonym classes from the corpus vocabulary: words of one class fill the same slot with the
    same role, so a swap within a class should keep the oracle's label (checked, not assumed):
    names, injury verbs, injury participles, body parts, harmless verbs, objects."""
    objects = set()
    for s in corpus.SETTINGS.values():
        objects |= set(s["tool"]) | set(s["material"])
    return [tuple(corpus.NAMES), tuple(corpus.VERBS), tuple(corpus.PARTICIPLES), tuple(corpus.BODY),
            tuple(sorted(set(corpus.SAFE_ACTIONS) | set(corpus.TOOL_VERBS))), tuple(sorted(objects))]


_SPLIT = re.compile(r"(\w+)")


def vocabulary_substitution(clf: Classifier, text: str, threshold: float, budget: int, candidates: int = 64,
                            seed: int = 0) -> AttackTrace:
    """Greedy word swaps within the corpus's slot classes until p < threshold or `budget` words changed."""
    _check_attack_args(threshold, budget, candidates)
    classes = vocabulary_classes()
    lookup: dict[str, tuple[str, ...]] = {}
    for cls in classes:
        for w in cls:
            lookup.setdefault(w.lower(), cls)
    rng = random.Random(seed)
    parts = _SPLIT.split(text)  # words at odd indices
    changed: set[int] = set()
    trace = AttackTrace("vocabulary", float(threshold), [text], [float(clf.score([text])[0])])
    for _ in range(budget):
        if trace.probs[-1] < threshold:
            break
        options = [(i, w) for i in range(1, len(parts), 2) if i not in changed and parts[i].lower() in lookup
                   for w in lookup[parts[i].lower()] if w.lower() != parts[i].lower()]
        if not options:
            break
        if len(options) > candidates:
            options = rng.sample(options, candidates)
        texts = ["".join(parts[:i] + [w] + parts[i + 1 :]) for i, w in options]
        probs = clf.score(texts, batch_size=max(len(texts), 1))
        best = int(torch.argmin(probs))
        if float(probs[best]) >= trace.probs[-1]:
            break
        i, w = options[best]
        parts[i] = w
        changed.add(i)
        trace.texts.append(texts[best])
        trace.probs.append(float(probs[best]))
    return trace


def run_attack(name: str, clf: Classifier, text: str, threshold: float, budget: int, candidates: int,
               seed: int = 0, vocab_ok: torch.Tensor | None = None) -> AttackTrace:
    """Dispatch by name: 'hotflip' or 'vocabulary'."""
    if name == "hotflip":
        return hotflip(clf, text, threshold, budget, candidates, vocab_ok)
    if name == "vocabulary":
        return vocabulary_substitution(clf, text, threshold, budget, candidates, seed)
    raise ValueError(f"`attack` must be one of {ATTACKS}; got {name!r}")


# --- the tool: saliency and suggestions for a human attacker -------------------------------------
@dataclass(frozen=True)
class Suggestion:
    position: int
    replacement: str
    prob: float
    drop: float  # p(original) − p(after the swap)


@dataclass(frozen=True)
class Saliency:
    """Word-piece tokens (without [CLS]/[SEP]), saliency ‖g_i‖ normalised to max 1, the score, and
    per token the best swaps found (exactly re-scored)."""

    tokens: list[str]
    saliency: list[float]
    prob: float
    suggestions: list[list[Suggestion]]


def saliency_tool(clf: Classifier, text: str, per_token: int = 3, vocab_ok: torch.Tensor | None = None) -> Saliency:
    """What the paper's tool shows: token saliency from the gradient w.r.t. token embeddings, and
    for each editable token the `per_token` swaps that lower the score most (first-order ranked,
    then scored exactly in one batch)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"`text` must be a non-empty string; got {text!r}")
    check_int("per_token", per_token, low=1, high=50)
    vocab_ok = whole_word_mask(clf) if vocab_ok is None else vocab_ok
    ids = clf.tokenize([text])["input_ids"][0]
    logit, grad = logit_gradient(clf, ids)
    prob = float(torch.sigmoid(torch.tensor(logit)))
    sal = grad.norm(dim=-1)[1:-1]
    sal = (sal / sal.max().clamp_min(1e-12)).tolist()
    editable = _editable_positions(clf, ids, vocab_ok)
    editable[0] = editable[-1] = False
    delta = first_order_deltas(clf, ids, grad)
    delta[:, ~vocab_ok] = float("inf")
    delta[torch.arange(len(ids)), ids] = float("inf")
    positions = [int(i) for i in torch.nonzero(editable).flatten()]
    suggestions: list[list[Suggestion]] = [[] for _ in range(len(ids) - 2)]
    if positions:
        top = torch.topk(-delta[positions], per_token, dim=-1).indices  # [P, per_token]
        cand = ids.repeat(len(positions) * per_token, 1)
        rows = torch.arange(cand.shape[0])
        cand[rows, torch.tensor(positions).repeat_interleave(per_token)] = top.flatten()
        probs = torch.sigmoid(batch_logits(clf, cand)).view(len(positions), per_token)
        for r, p in enumerate(positions):
            row = [Suggestion(p - 1, clf.tokenizer.convert_ids_to_tokens(int(top[r, j])), float(probs[r, j]),
                              prob - float(probs[r, j])) for j in range(per_token)]
            suggestions[p - 1] = sorted(row, key=lambda s: -s.drop)
    tokens = clf.tokenizer.convert_ids_to_tokens(ids[1:-1].tolist())
    return Saliency(tokens, sal, prob, suggestions)

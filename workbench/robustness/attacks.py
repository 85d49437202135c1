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

Word insertion (held out: never used for adversarial training, only evaluated): a harmless word
("suddenly", "then", …) is inserted before a word of the completion; budget = words inserted.

Every attack is greedy under the oracle's constraint, as TextAttack's constraints work: a step
scores its candidates (in ranked order for HotFlip, a seeded random order otherwise), stops at the
first candidate that passes the filter (p < threshold) *and* is still injurious to the oracle, else
applies the lowest-scoring candidate the oracle still reads as injurious. Effort is counted in
classifier queries (candidate evaluations; scoring the original is query 1; gradients are not
counted): `AttackTrace.success_query` is the query at which the first oracle-valid success was
scored. Only the completion is edited; the prompt (`context`) is scored with it but left alone.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from jaxtyping import Float, Int
from torch import Tensor

from workbench.core.validation import check_int, check_range
from workbench.robustness import corpus
from workbench.robustness.classifier import Classifier

ATTACKS = ("hotflip", "vocabulary", "insertion")  # every attack evaluated on held-out texts
TRAINED_ATTACKS = ("hotflip", "vocabulary")  # the ones adversarial training uses; "insertion" is held out
INSERTIONS = ("suddenly", "then", "really", "somehow", "just", "also", "again", "quickly", "today", "luckily")
Oracle = Callable[[str], int]


@dataclass
class AttackTrace:
    """One attack run. probs[s] = p(injurious) after s edits (probs[0]: the original); texts[s]
    likewise (prompt + completion); queries[s] = classifier queries spent by then. `success_at` =
    the first s with probs[s] < threshold, or None; `success_query` = the query that found it."""

    attack: str
    threshold: float
    texts: list[str] = field(default_factory=list)
    probs: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    success_query: int | None = None
    _spent: int = field(default=0, repr=False)  # queries of the step being chosen

    @property
    def success_at(self) -> int | None:
        return next((s for s, p in enumerate(self.probs) if p < self.threshold), None)

    @property
    def final_text(self) -> str:
        """The text at first success, else the last one tried."""
        s = self.success_at
        return self.texts[-1 if s is None else s]

    def start(self, text: str, prob: float) -> AttackTrace:
        self.texts, self.probs, self.queries = [text], [prob], [1]
        self.success_query = 1 if prob < self.threshold else None
        return self

    def choose(self, texts: Sequence[str], probs: Sequence[float], oracle: Oracle | None) -> int | None:
        """One greedy step over ranked candidates: the first oracle-valid success, else the lowest
        oracle-valid score if it improves on the current one, else None. Counts the queries up to
        the success (all of them otherwise)."""
        valid = [True] * len(texts) if oracle is None else [oracle(t) == 1 for t in texts]
        for j, (p, ok) in enumerate(zip(probs, valid)):
            if ok and p < self.threshold:
                self._spent = j + 1
                return j
        self._spent = len(texts)
        keep = [j for j, ok in enumerate(valid) if ok]
        best = min(keep, key=lambda j: probs[j], default=None)
        return best if best is not None and probs[best] < self.probs[-1] else None

    def record(self, text: str, prob: float) -> None:
        self.texts.append(text)
        self.probs.append(prob)
        self.queries.append(self.queries[-1] + self._spent)
        if prob < self.threshold and self.success_query is None:
            self.success_query = self.queries[-1]

    def give_up(self) -> None:
        """A step found nothing better: its queries were spent all the same."""
        self.queries[-1] += self._spent


def _check_attack_args(threshold: float, budget: int, candidates: int) -> None:
    check_range("threshold", threshold, 0.0, 1.0)
    check_int("budget", budget, low=0)
    check_int("candidates", candidates, low=1)


_POSSESSIVE = re.compile(r" ' s\b")


def _join(context: str, text: str) -> str:
    return f"{context} {text}" if context else text


def whole_word_mask(clf: Classifier) -> torch.Tensor:
    """Bool[V]: vocabulary entries that are lower-case alphabetic whole words (no ## pieces)."""
    vocab = clf.tokenizer.get_vocab()
    mask = torch.zeros(len(vocab) if max(vocab.values()) < len(vocab) else max(vocab.values()) + 1, dtype=torch.bool)
    pattern = re.compile(r"^[a-z]{2,}$")
    for tok, i in vocab.items():
        if pattern.match(tok):
            mask[i] = True
    return mask[: clf.token_embeddings().shape[0]].to(clf.device)


def _editable_positions(clf: Classifier, ids: Int[Tensor, " t"], vocab_ok: torch.Tensor) -> torch.Tensor:
    """Bool[t]: whole-word tokens not followed by a ## continuation (safe to swap for a whole word)."""
    toks = clf.tokenizer.convert_ids_to_tokens(ids.tolist())
    whole = vocab_ok[
        ids.to(vocab_ok.device)
    ].tolist()  # one copy; bool(vocab_ok[i]) per token synced the device each time
    ok = [whole[j] and not (j + 1 < len(toks) and toks[j + 1].startswith("##")) for j in range(len(toks))]
    return torch.tensor(ok, device=ids.device)


def logit_gradient(clf: Classifier, ids: Int[Tensor, " t"]) -> tuple[float, Float[Tensor, "t d"]]:
    """The logit of one token sequence and its gradient w.r.t. the input token embeddings."""
    emb = clf.token_embeddings()[ids].detach().clone().requires_grad_(True)
    mask = torch.ones(1, len(ids), dtype=torch.long, device=ids.device)
    with torch.enable_grad():
        logit = clf.logits(None, mask, inputs_embeds=emb.unsqueeze(0))[0]
        (grad,) = torch.autograd.grad(logit, emb)
    return float(logit.detach()), grad


def first_order_deltas(clf: Classifier, ids: Int[Tensor, " t"], grad: Float[Tensor, "t d"]) -> Float[Tensor, "t V"]:
    """Δ(i, v) = (E_v − E_{x_i}) · g_i for every position i and vocabulary entry v."""
    E = clf.token_embeddings().detach()
    return grad @ E.T - (grad * E[ids]).sum(-1, keepdim=True)


@torch.inference_mode()
def batch_logits(clf: Classifier, ids: Int[Tensor, "b t"]) -> Float[Tensor, " b"]:
    """Exact logits of same-length token sequences in one forward pass (no padding needed)."""
    return clf.logits(ids, torch.ones_like(ids))


def _hotflip_candidates(clf: Classifier, ids: Int[Tensor, " t"], editable: torch.Tensor, vocab_ok: torch.Tensor,
                        candidates: int) -> tuple[Int[Tensor, " k"], Int[Tensor, "k t"]]:
    """The `candidates` best (position, token) swaps by the first-order change, best first."""
    _logit, grad = logit_gradient(clf, ids)
    delta = first_order_deltas(clf, ids, grad)
    delta[~editable] = float("inf")
    delta[:, ~vocab_ok] = float("inf")
    delta[torch.arange(len(ids)), ids] = float("inf")
    k = min(candidates, int(torch.isfinite(delta).sum()))
    flat = torch.topk(-delta.flatten(), k).indices
    pos, tok = flat // delta.shape[1], flat % delta.shape[1]
    cand = ids.repeat(k, 1)
    cand[torch.arange(k), pos] = tok
    return pos, cand


def hotflip(clf: Classifier, text: str, threshold: float, budget: int, candidates: int = 64,
            vocab_ok: torch.Tensor | None = None, context: str = "", oracle: Oracle | None = None) -> AttackTrace:
    """Greedy first-order token substitution in `text` (after `context`) until an oracle-valid
    p < threshold or `budget` tokens changed."""
    _check_attack_args(threshold, budget, candidates)
    vocab_ok = whole_word_mask(clf) if vocab_ok is None else vocab_ok
    full = _join(context, text)
    ids = clf.tokenize([full])["input_ids"][0]
    editable = _editable_positions(clf, ids, vocab_ok)
    if context:  # [CLS] and the prompt's tokens stay
        editable[: 1 + len(clf.tokenizer.tokenize(context))] = False
    trace = AttackTrace("hotflip", float(threshold)).start(full, float(torch.sigmoid(batch_logits(clf, ids[None]))[0]))
    for _ in range(budget):
        if trace.success_query is not None or not bool(editable.any()):
            break
        pos, cand = _hotflip_candidates(clf, ids, editable, vocab_ok, candidates)
        if len(pos) == 0:
            break
        # word pieces decode a possessive as "tom ' s": glue it back, or the oracle misreads it
        texts = [_POSSESSIVE.sub("'s", t) for t in clf.tokenizer.batch_decode(cand[:, 1:-1])]
        best = trace.choose(texts, torch.sigmoid(batch_logits(clf, cand)).tolist(), oracle)
        if best is None:
            trace.give_up()
            break  # no candidate lowers the score: a local minimum of the greedy search
        ids = cand[best]
        editable[pos[best]] = False
        trace.record(texts[best], float(clf.score([texts[best]])[0]))  # the text, re-tokenized, is what counts
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


def _word_attack(name: str, clf: Classifier, text: str, threshold: float, budget: int, candidates: int, seed: int,
                 context: str, oracle: Oracle | None,
                 options: Callable[[list[str], set[int]], list[tuple[int, str]]],
                 apply: Callable[[list[str], int, str], list[str]]) -> AttackTrace:
    """The greedy loop of the word-level attacks: `options(parts, changed)` lists the edits
    (word index, word), `apply` makes one; up to `candidates` (seeded sample) scored per step."""
    _check_attack_args(threshold, budget, candidates)
    rng = random.Random(seed)
    parts = _SPLIT.split(text)  # words at odd indices
    changed: set[int] = set()
    full = _join(context, text)
    trace = AttackTrace(name, float(threshold)).start(full, float(clf.score([full])[0]))
    for _ in range(budget):
        if trace.success_query is not None:
            break
        opts = options(parts, changed)
        if not opts:
            break
        if len(opts) > candidates:
            opts = rng.sample(opts, candidates)
        edits = [apply(parts, i, w) for i, w in opts]
        texts = [_join(context, "".join(e)) for e in edits]
        probs = clf.score(texts, batch_size=max(len(texts), 1)).tolist()
        best = trace.choose(texts, probs, oracle)
        if best is None:
            trace.give_up()
            break
        parts = edits[best]
        changed.add(opts[best][0])
        trace.record(texts[best], probs[best])
    return trace


def vocabulary_substitution(clf: Classifier, text: str, threshold: float, budget: int, candidates: int = 64,
                            seed: int = 0, context: str = "", oracle: Oracle | None = None) -> AttackTrace:
    """Greedy word swaps within the corpus's slot classes until an oracle-valid p < threshold or
    `budget` words changed."""
    lookup: dict[str, tuple[str, ...]] = {}
    for cls in vocabulary_classes():
        for w in cls:
            lookup.setdefault(w.lower(), cls)

    def options(parts: list[str], changed: set[int]) -> list[tuple[int, str]]:
        return [(i, w) for i in range(1, len(parts), 2) if i not in changed and parts[i].lower() in lookup
                for w in lookup[parts[i].lower()] if w.lower() != parts[i].lower()]

    return _word_attack("vocabulary", clf, text, threshold, budget, candidates, seed, context, oracle, options,
                        lambda parts, i, w: parts[:i] + [w] + parts[i + 1 :])


def word_insertion(clf: Classifier, text: str, threshold: float, budget: int, candidates: int = 64,
                   seed: int = 0, context: str = "", oracle: Oracle | None = None) -> AttackTrace:
    """Greedy insertion of harmless words (`INSERTIONS`) before words of `text` until an
    oracle-valid p < threshold or `budget` words inserted (the held-out attack)."""
    def options(parts: list[str], _changed: set[int]) -> list[tuple[int, str]]:
        return [(i, w) for i in range(1, len(parts), 2) for w in INSERTIONS]

    def apply(parts: list[str], i: int, w: str) -> list[str]:
        word = w.capitalize() if i == 1 and parts[1][:1].isupper() else w
        first = parts[i].lower() if i == 1 and parts[1] not in corpus.NAMES + corpus.HELD_OUT_NAMES else parts[i]
        return parts[:i] + [word, " ", first] + parts[i + 1 :]

    return _word_attack("insertion", clf, text, threshold, budget, candidates, seed, context, oracle, options, apply)


def run_attack(name: str, clf: Classifier, text: str, threshold: float, budget: int, candidates: int,
               seed: int = 0, vocab_ok: torch.Tensor | None = None, context: str = "",
               oracle: Oracle | None = None) -> AttackTrace:
    """Dispatch by name: one of `ATTACKS`."""
    if name == "hotflip":
        return hotflip(clf, text, threshold, budget, candidates, vocab_ok, context, oracle)
    if name == "vocabulary":
        return vocabulary_substitution(clf, text, threshold, budget, candidates, seed, context, oracle)
    if name == "insertion":
        return word_insertion(clf, text, threshold, budget, candidates, seed, context, oracle)
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

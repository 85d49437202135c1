"""Automatic paraphrases of adversarial examples (the paper trained on paraphrases of earlier
adversarial examples too): the edit an attack made is re-rendered in other stories of the grammar
(other templates, fillers and prompts), and a re-rendering is kept only when the oracle gives it
the adversarial example's label.

An edit is read off a word-level diff (difflib) of the source and the adversarial text:
substitutions old → new, and insertions of words before an anchor word. Re-rendering applies every
substitution whose old word the target story holds and every insertion whose anchor it holds.
"""

from __future__ import annotations

import difflib
import random
import re
from collections.abc import Callable, Sequence

from workbench.robustness.oracle import words

Edit = tuple[list[tuple[str, str]], list[tuple[str, str]]]  # (substitutions old→new, insertions (anchor, words))


def word_edit(source: str, adversarial: str) -> Edit:
    """The substitutions and insertions that turn `source` into `adversarial` (lower-cased words)."""
    a, b = words(source), words(adversarial)
    subs: list[tuple[str, str]] = []
    ins: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "replace" and i2 - i1 == j2 - j1:
            subs += list(zip(a[i1:i2], b[j1:j2]))
        elif op == "insert" and i1 < len(a):
            ins.append((a[i1], " ".join(b[j1:j2])))
    return subs, ins


def apply_edit(text: str, edit: Edit) -> str:
    """`text` with the edit re-rendered: each substitution and insertion at the first whole-word
    occurrence of its old word / anchor (case-insensitive)."""
    subs, ins = edit
    for old, new in subs:
        text = re.sub(rf"\b{re.escape(old)}\b", new, text, count=1, flags=re.IGNORECASE)
    for anchor, inserted in ins:
        text = re.sub(rf"\b({re.escape(anchor)})\b", rf"{inserted} \1", text, count=1, flags=re.IGNORECASE)
    return text


def paraphrases(source: str, adversarial: str, pool: list[str], k: int, label: int, oracle: Callable[[str], int],
                rng: random.Random) -> list[str]:
    """Up to `k` re-renderings of the source → adversarial edit in stories of `pool` (tried in a
    seeded random order), each changed by the edit and labelled `label` by the oracle."""
    edit = word_edit(source, adversarial)
    if not (edit[0] or edit[1]) or k == 0:
        return []
    out: list[str] = []
    for target in rng.sample(pool, len(pool)):
        new = apply_edit(target, edit)
        if new != target and new != adversarial and new not in out and oracle(new) == label:
            out.append(new)
            if len(out) == k:
                break
    return out


def paraphrase_attack(scores: Sequence[float], sources: Sequence[int], threshold: float) -> dict[str, float | int]:
    """The paraphrase step read as an attack: paraphrases of one round's adversarial examples (all
    injurious by the oracle, `sources[i]` the example paraphrase i re-renders), scored by that
    round's classifier before it trains on them. A paraphrase succeeds when its score is below
    `threshold` (the filter lets it through). Effort: paraphrases tried per success."""
    if len(scores) != len(sources):
        raise ValueError(f"`scores` and `sources` must be one per paraphrase; got {len(scores)} and {len(sources)}")
    passed = [s < threshold for s in scores]
    n, k = len(passed), sum(passed)
    fooled = {src for src, ok in zip(sources, passed) if ok}
    return {"tried": n, "passed": k, "success": k / n if n else 0.0, "sources": len(set(sources)),
            "sources_fooled": len(fooled), "tried_per_success": n / k if k else None}

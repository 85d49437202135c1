"""BENCH classifier_scoring: our classifier's scoring (tokenize, encoder, mean pooling, head) vs
sentence-transformers' `encode` on the same all-MiniLM-L6-v2 folder and the same 1,000 corpus
completions, same batch size, both starting from torch's default threads (2 here) on a quiet
machine; BENCH classifier_scoring_busy: the same beside one busy Python process (goal ≥ 1.0 for
both). Ours tokenizes once and batches by token count, and follows the load
(`workbench.core.threads.AdaptiveThreads`: 1 thread while a neighbour holds a core).
BENCH attack_batching: HotFlip's exact candidate scoring, 64
same-length candidates in one forward pass vs one pass per candidate. Ratio = peer_s / ours_s.
Both sides warm, best of 5, alternating."""

from __future__ import annotations

import time

import torch
from neighbour import busy_loop  # a sibling script: `python benchmarks/…` puts its folder on sys.path

from workbench.robustness import Classifier, embedded_backbone_path, story_dataset
from workbench.robustness.attacks import batch_logits, first_order_deltas, logit_gradient, whole_word_mask

BATCH, N_TEXTS, K = 64, 1000, 64


def best_of_interleaved(ours, peer, repeats: int = 5) -> tuple[float, float]:
    """Min wall time of each side over `repeats`, alternating sides so that load spikes on a shared
    machine hit both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for side, fn in enumerate((ours, peer)):
            start = time.perf_counter()
            fn()
            times[side].append(time.perf_counter() - start)
    return min(times[0]), min(times[1])


def main() -> None:
    from sentence_transformers import SentenceTransformer

    texts = story_dataset(N_TEXTS, 0.3, 0.03, seed=0).texts
    clf = Classifier()
    peer = SentenceTransformer(str(embedded_backbone_path()), device="cpu")
    clf.score(texts[:BATCH], batch_size=BATCH)
    peer.encode(texts[:BATCH], batch_size=BATCH)
    def score_ours() -> object:
        return clf.score(texts, batch_size=BATCH)

    def score_peer() -> object:
        return peer.encode(texts, batch_size=BATCH, convert_to_tensor=True)

    ours, theirs = best_of_interleaved(score_ours, score_peer)
    with busy_loop():
        busy_ours, busy_theirs = best_of_interleaved(score_ours, score_peer, repeats=3)
    cos = torch.nn.functional.cosine_similarity(clf.embed(texts[:32]), peer.encode(texts[:32], convert_to_tensor=True))
    print(
        f"# {N_TEXTS} texts, batch {BATCH}, threads {torch.get_num_threads()}, "
        f"min cosine ours vs peer {float(cos.min()):.6f}"
    )
    print(f"BENCH classifier_scoring ours_s={ours:.3f} peer_s={theirs:.3f} ratio={theirs / ours:.2f}")
    print(f"BENCH classifier_scoring_busy ours_s={busy_ours:.3f} peer_s={busy_theirs:.3f} "
          f"ratio={busy_theirs / busy_ours:.2f}")

    # HotFlip's candidates for one text: the K best first-order (position, token) swaps
    ids = clf.tokenize([texts[0]])["input_ids"][0]
    _, grad = logit_gradient(clf, ids)
    delta = first_order_deltas(clf, ids, grad)
    delta[:, ~whole_word_mask(clf)] = float("inf")
    delta[[0, -1]] = float("inf")
    flat = torch.topk(-delta.flatten(), K).indices
    cand = ids.repeat(K, 1)
    cand[torch.arange(K), flat // delta.shape[1]] = flat % delta.shape[1]
    batch_logits(clf, cand)
    batch_logits(clf, cand[:1])
    batched, single = best_of_interleaved(lambda: batch_logits(clf, cand),
                                          lambda: [batch_logits(clf, cand[i : i + 1]) for i in range(K)])
    gap = float(
        (batch_logits(clf, cand) - torch.cat([batch_logits(clf, cand[i : i + 1]) for i in range(K)])).abs().max()
    )
    print(f"# {K} candidates of {ids.numel()} tokens: {K / batched:.0f}/s batched vs {K / single:.0f}/s one at a time; "
          f"max |logit gap| {gap:.1e}")
    print(f"BENCH attack_batching ours_s={batched:.4f} peer_s={single:.4f} ratio={single / batched:.1f}")


if __name__ == "__main__":
    main()

"""The robustness experiment on its QUICK config, and the mechanisms under it: the filter, the
threshold, the attacks' budgets, the tool's exact re-scoring, the classifier, save/load, bad input."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from workbench.cli import main
from workbench.core import ArtifactError
from workbench.robustness import (
    ATTACKS,
    Classifier,
    RobustnessConfig,
    RobustnessResult,
    choose_threshold,
    filter_sample,
    hotflip,
    oracle_label,
    run,
    saliency_tool,
    vocabulary_substitution,
)
from workbench.robustness.filtering import exact_unsafe_rate, group_weights
from workbench.robustness.summary import summarize


@pytest.fixture(scope="module")
def result(robustness_quick) -> RobustnessResult:
    return robustness_quick  # the session's QUICK result (tests/conftest.py)


@pytest.fixture(scope="module")
def clf(result) -> Classifier:
    return result.classifier(0)


def test_result_shapes_and_rounds(result):
    c = result.config
    R, N = c.rounds + 1, len(result.texts)
    assert result.scores.shape == (R, N) and result.success_at.shape == (R, len(ATTACKS), c.n_attack)
    assert all(0 < float(t) < 1 for t in result.thresholds)
    # the attacked texts are held-out injurious completions
    assert all(result.labels[i] == 1 and result.split[i] == 2 for i in result.attack_index.tolist())
    assert result.rounds_info[0]["adversarial_added"] > 0
    assert (
        result.rounds_info[1]["train_size"]
        == result.rounds_info[0]["train_size"] + result.rounds_info[0]["adversarial_added"]
    )


def test_threshold_rejects_at_most_the_allowed_share_of_safe_validation_texts(result):
    val_safe = result.mask("val") & (result.labels == 0)
    for r in range(result.config.rounds + 1):
        lost = float((result.scores[r][val_safe] >= result.thresholds[r]).float().mean())
        assert lost <= result.config.max_safe_lost


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 0.999, allow_nan=False), min_size=2, max_size=60), st.floats(0, 0.99))
@example([0.0, 5e-324], 0.5)  # adjacent floats: no midpoint above the lower one
def test_choose_threshold_property(scores, x):
    s = torch.tensor(scores, dtype=torch.float64)
    t = choose_threshold(s, x)
    assert float((s >= t).double().mean()) <= x + 1e-12
    # and it is the lowest such: the largest score it lets through would be rejected by a lower t
    passed = s[s < t]
    if passed.numel():
        assert float((s >= passed.max()).double().mean()) > x


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 1.0), st.integers(0, 5))
def test_the_filter_never_passes_a_completion_scored_at_or_above_the_threshold(seed, t, tries):
    g = torch.Generator().manual_seed(seed)
    scores = torch.rand(50, generator=g)
    labels = (torch.rand(50, generator=g) < 0.2).long()
    W = group_weights(torch.rand(50, generator=g), torch.randint(3, (50,), generator=g))
    out, choice = filter_sample(W, scores, labels, t, 2000, tries, g)
    passed = choice[choice >= 0]
    assert bool((scores[passed] < t).all())
    assert out.accepted + out.refused == 2000 and out.unsafe == int(labels[passed].sum())


def test_filter_sample_matches_the_exact_rate_and_rejects_bad_thresholds():
    g = torch.Generator().manual_seed(0)
    scores, labels = torch.rand(40, generator=g), (torch.rand(40, generator=g) < 0.3).long()
    W = group_weights(torch.rand(40, generator=g), torch.randint(2, (40,), generator=g))
    out, _ = filter_sample(W, scores, labels, 0.6, 200_000, 200, g)
    assert out.refused == 0
    q = exact_unsafe_rate(W, scores, labels, 0.6)
    assert abs(out.rate - q) < 4 * (q * (1 - q) / out.accepted) ** 0.5
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="`threshold`"):
            filter_sample(W, scores, labels, bad, 10, 1, g)


def _changed_tokens(clf, a: str, b: str) -> int:
    ta, tb = clf.tokenizer.tokenize(a), clf.tokenizer.tokenize(b)
    assert len(ta) == len(tb)
    return sum(x != y for x, y in zip(ta, tb))


@pytest.mark.parametrize("budget", [0, 1, 2])
def test_hotflip_changes_at_most_budget_tokens_and_lowers_the_score(clf, result, budget):
    for i in result.attack_index[:4].tolist():
        text = result.texts[i]
        trace = hotflip(clf, text, threshold=1e-4, budget=budget, candidates=16)
        assert len(trace.texts) - 1 <= budget
        assert _changed_tokens(clf, text, trace.texts[-1]) <= budget
        assert all(b < a for a, b in zip(trace.probs, trace.probs[1:]))
        assert trace.probs[-1] == pytest.approx(float(clf.score([trace.texts[-1]])[0]), abs=1e-5)


@pytest.mark.parametrize("budget", [1, 3])
def test_vocabulary_attack_changes_at_most_budget_words(clf, result, budget):
    for i in result.attack_index[:4].tolist():
        text = result.texts[i]
        trace = vocabulary_substitution(clf, text, threshold=1e-4, budget=budget, candidates=16)
        a, b = text.split(), trace.texts[-1].split()
        assert len(a) == len(b) and sum(x != y for x, y in zip(a, b)) <= budget


def test_attack_success_is_read_at_the_threshold(clf, result):
    text = result.texts[int(result.attack_index[0])]
    trace = hotflip(clf, text, threshold=0.999999, budget=2, candidates=8)
    s = trace.success_at
    assert s is None or trace.probs[s] < 0.999999 and all(p >= 0.999999 for p in trace.probs[:s])
    for bad, name in (((-1,), "`budget`"), ((2, 0), "`candidates`")):
        with pytest.raises(ValueError, match=name):
            hotflip(clf, text, 0.5, *bad)
    with pytest.raises(ValueError, match="`threshold`"):
        hotflip(clf, text, float("nan"), 1)


def test_the_tool_rescores_its_suggestions_exactly(clf, result):
    text = result.texts[int(result.attack_index[1])]
    sal = saliency_tool(clf, text, per_token=2)
    assert len(sal.tokens) == len(sal.saliency) == len(sal.suggestions)
    assert max(sal.saliency) == pytest.approx(1.0)
    assert sal.prob == pytest.approx(float(clf.score([text])[0]), abs=1e-5)
    sug = max((s for row in sal.suggestions for s in row), key=lambda s: s.drop)
    tokens = list(sal.tokens)
    tokens[sug.position] = sug.replacement
    ids = torch.tensor([clf.tokenizer.convert_tokens_to_ids(["[CLS]", *tokens, "[SEP]"])])
    exact = float(torch.sigmoid(clf.logits(ids, torch.ones_like(ids)).detach())[0])
    assert sug.prob == pytest.approx(exact, abs=1e-5)
    assert sug.drop == pytest.approx(sal.prob - exact, abs=1e-5)
    with pytest.raises(ValueError, match="`text`"):
        saliency_tool(clf, "   ")


def test_mean_pooling_matches_sentence_transformers(clf):
    from sentence_transformers import SentenceTransformer

    from workbench.robustness import embedded_backbone_path

    texts = ["Maya broke her wrist.", "Leo cleaned the saw with great care before lunch."]
    ours = clf.embed(texts)
    peer = SentenceTransformer(str(embedded_backbone_path()), device="cpu").encode(texts, convert_to_tensor=True,
                                                                                 normalize_embeddings=False)
    # all-MiniLM-L6-v2's sentence-transformers pipeline ends with a Normalize layer: compare directions
    cos = torch.nn.functional.cosine_similarity(ours, peer.cpu())
    assert bool((cos > 0.9999).all())
    with pytest.raises(ValueError, match=r"`texts\[1\]`"):
        clf.embed(["fine", ""])


def test_head_file_round_trip_and_a_head_that_does_not_fit(clf, tmp_path):
    path = clf.save_head(tmp_path / "head.safetensors")
    other = Classifier()
    other.load_head(path)
    assert torch.equal(other.head.weight, clf.head.weight)
    from safetensors.torch import save_file

    save_file({"head.weight": torch.zeros(1, 768), "head.bias": torch.zeros(1)}, str(tmp_path / "big.safetensors"))
    with pytest.raises(ValueError, match="`head` does not fit the backbone"):
        other.load_head(tmp_path / "big.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="`head`"):
        other.load_head(tmp_path / "junk.safetensors")


def test_oracle_relabels_every_recorded_attack(result):
    for r, info in enumerate(result.rounds_info):
        for a, rows in info["attacks"].items():
            for row in rows:
                assert row["oracle"] == oracle_label(row["final"])
        assert all(x["label"] == oracle_label(x["text"]) for x in info["adversarial_examples"])


def test_success_curves_and_summary(result):
    for r in range(result.config.rounds + 1):
        for a in ATTACKS:
            curve = result.success_curve(r, a)
            raw = result.success_curve(r, a, preserve=False)
            assert bool((curve[1:] >= curve[:-1]).all()) and bool((curve <= raw).all())
    s = summarize(result)
    json.dumps(s)
    f = s["per_round"][0]["filtered_unsafe"]
    assert f["upper_95_reported"] >= f["rate"]
    assert s["per_round"][0]["base_unsafe_rate"] == pytest.approx(result.config.unsafe_rate)


def test_effort_is_the_query_of_the_first_oracle_valid_success(result):
    c = result.config
    e, s, kept = result.effort, result.success_at, result.preserved
    assert bool(((e == -1) | ((e >= 1) & (e <= c.query_budget))).all())
    assert torch.equal(e == -1, s == -1)  # fooled within the budget exactly when a success was recorded
    assert bool((kept[s >= 0] == 1).all())  # every success still reads as injurious to the oracle
    # the original is query 1, and each edit took at least one more
    hit = s >= 0
    assert bool((e[hit] >= s[hit] + 1).all())


def test_held_out_attack_is_not_trained_on_and_paraphrases_are_added(result):
    from workbench.robustness.attacks import TRAINED_ATTACKS

    info = result.rounds_info[0]
    assert "insertion" in ATTACKS and "insertion" not in TRAINED_ATTACKS
    assert {x["attack"].split(" ")[0] for x in info["adversarial_examples"]} <= set(TRAINED_ATTACKS)
    assert info["adversarial_paraphrases"] > 0
    s = summarize(result)
    assert s["effort_to_failure"]["insertion"]["trained_on"] is False
    f = s["unsafe_after_filter"]
    assert f["count"] <= f["unsafe_draws"] < f["draws"] and f["bound"] >= f["rate"]


def test_save_load_round_trip_and_foreign_shape(result, tmp_path):
    result.save(tmp_path / "r")
    back = RobustnessResult.load(tmp_path / "r")
    assert back.config == result.config and torch.equal(back.scores, result.scores)
    assert back.texts == result.texts and back.rounds_info == result.rounds_info
    meta = json.loads((tmp_path / "r" / "result.json").read_text())
    meta["config"]["rounds"] = 3
    (tmp_path / "r" / "result.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="tensor `scores` has shape"):
        RobustnessResult.load(tmp_path / "r")


def test_real_path_user_csv_and_head(result, clf, tmp_path):
    """A user's labelled CSV (no oracle) and a safetensors head: the same code end to end."""
    rows = [(result.texts[i], int(result.labels[i])) for i in range(60)]
    csv = tmp_path / "mine.csv"
    csv.write_text("sentence,is_bad\n" + "".join(f'"{t}",{y}\n' for t, y in rows))
    head = clf.save_head(tmp_path / "head.safetensors")
    config = RobustnessConfig(data=str(csv), text_column="sentence", label_column="is_bad", head=str(head),
                              top_layers=0, n_filter_samples=1000, n_attack=2, max_budget=1, candidates=8,
                              rounds=1, n_train_attack=2)
    out = run(config, progress=False)
    assert not out.has_oracle and bool((out.preserved == -1).all())
    assert len(out.texts) == 60
    # round 0 is the given head, untouched: its scores are the head's
    assert torch.allclose(out.scores[0], clf.score(out.texts), atol=1e-5)
    bad = RobustnessConfig(data=str(csv), text_column="text", top_layers=0)
    with pytest.raises(ValueError, match="`text_column` 'text' is not a column"):
        run(bad, progress=False)


def test_cli_reproduces_the_quick_suite(result, tmp_path, capsys):
    assert main(["reproduce", "--suite", "robustness", "--quick", "--out", str(tmp_path), "--formats", "html"]) == 0
    folder = tmp_path / "robustness"
    assert {p.name for p in folder.glob("*.html")} >= {
        "1_threshold_sweep.html",
        "2_effort_to_failure.html",
        "3_in_distribution.html",
        "4_saliency_tool.html",
        "5_quality.html",
    }
    m = json.loads((folder / "measurements.json").read_text())
    assert m["suite"] == "robustness" and m["quick"] is True and len(m["per_round"]) == 2
    assert 0.99 < m["fresh_share"] <= 1 and {"count", "draws", "bound"} <= set(m["unsafe_after_filter"])
    assert m["unsafe_after_filter"]["draws"] == result.config.n_fresh
    assert set(m["effort_to_failure"]) == set(ATTACKS) and "round 1" in m["effort_to_failure"]["insertion"]


def test_the_paraphrase_step_read_as_an_attack(robustness_quick) -> None:
    """Each round that makes training data scores its paraphrases with its own classifier: the
    count is the paraphrases it added; the last round makes none."""
    from workbench.robustness.paraphrase import paraphrase_attack

    info = robustness_quick.rounds_info
    first = info[0]["paraphrase_attack"]
    assert first["tried"] == info[0]["adversarial_paraphrases"] and 0 <= first["passed"] <= first["tried"]
    assert info[-1]["paraphrase_attack"] is None
    out = paraphrase_attack([0.1, 0.9, 0.2, 0.8], [0, 0, 1, 2], threshold=0.5)
    assert out == {"tried": 4, "passed": 2, "success": 0.5, "sources": 3, "sources_fooled": 2, "tried_per_success": 2.0}
    assert paraphrase_attack([], [], 0.5)["tried_per_success"] is None
    with pytest.raises(ValueError, match="`scores`"):
        paraphrase_attack([0.1], [], 0.5)

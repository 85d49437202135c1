"""`FilterProbe`: each answer is the experiment's own function at the same arguments, the tool is
cached, and a bad argument is named (with its range) before anything is computed."""

from __future__ import annotations

import threading
import time

import pytest

from workbench.robustness import ATTACKS, RobustnessResult
from workbench.robustness.attacks import saliency_tool, whole_word_mask
from workbench.robustness.filtering import confusion, group_weights, sweep_point
from workbench.robustness.live import POINT_SAMPLES, FilterProbe, ThresholdPoint, TokenCount

TEXT = "Maya slipped on the wet tiles and broke her wrist."


@pytest.fixture(scope="module")
def result(robustness_quick) -> RobustnessResult:
    return robustness_quick


@pytest.fixture(scope="module")
def probe(result) -> FilterProbe:
    return FilterProbe(result)


@pytest.mark.parametrize(("round_", "threshold"), [(0, 0.003), (1, 0.5), (1, 1.0)])
def test_point_is_sweep_point_and_the_test_confusion(probe, result, round_, threshold):
    c, s, y = result.config, result.scores[round_], result.labels
    point = probe.point(round_, threshold)
    assert isinstance(point, ThresholdPoint) and (point.round, point.threshold) == (round_, threshold)
    assert point.filter == sweep_point(group_weights(result.gen_weight, result.group), s, y, threshold,
                                       POINT_SAMPLES, c.max_resamples, c.seed)
    test = result.mask("test")
    assert point.counts == confusion(s[test], y[test], threshold)
    assert sum(point.counts.values()) == int(test.sum())


def test_samples_sets_the_sample_size(result):
    assert FilterProbe(result, samples=500).point(0, 0.1).filter["n"] == 500


def test_success_is_the_results_curve(probe, result):
    for r in range(result.config.rounds + 1):
        for a in ATTACKS:
            curve = result.success_curve(r, a).tolist()
            assert [probe.success(r, a, b) for b in range(result.config.max_budget + 1)] == curve


def test_classifier_is_built_once_per_round(probe):
    assert probe.classifier(0) is probe.classifier(0)
    assert probe.classifier(1) is not probe.classifier(0)


def test_saliency_is_the_tool_and_cached(probe, result):
    first = probe.saliency(1, TEXT)
    assert probe.saliency(1, TEXT) is first
    clf = result.classifier(1)
    expected = saliency_tool(clf, TEXT, per_token=3, vocab_ok=whole_word_mask(clf))
    assert first.tokens == expected.tokens
    assert first.prob == pytest.approx(expected.prob)
    assert first.saliency == pytest.approx(expected.saliency)
    assert [[(s.position, s.replacement) for s in row] for row in first.suggestions] == \
        [[(s.position, s.replacement) for s in row] for row in expected.suggestions]
    assert probe.saliency(0, TEXT) != first  # another round, another classifier (both scores may round to 1)


def test_token_count_says_when_the_text_is_cut(probe):
    clf = probe.classifier(0)
    short = probe.token_count(0, TEXT)
    assert short == TokenCount(len(clf.tokenizer(TEXT)["input_ids"]), clf.max_length) and not short.truncated
    long = probe.token_count(0, TEXT * 12)
    assert long.tokens > clf.max_length and long.truncated


@pytest.mark.parametrize(("call", "message"), [
    (lambda p: p.point(-1, 0.1), r"`round` must be an integer in \[0, 1\]"),
    (lambda p: p.point(2, 0.1), r"`round` must be an integer in \[0, 1\]"),
    (lambda p: p.point(0.5, 0.1), r"`round` must be an integer"),
    (lambda p: p.point(True, 0.1), r"`round` must be an integer"),
    (lambda p: p.point(0, 0.0), r"`threshold` must be in \(0, 1\]"),
    (lambda p: p.point(0, 1.5), r"`threshold` must be in \(0, 1\]"),
    (lambda p: p.point(0, float("nan")), r"`threshold` must be finite"),
    (lambda p: p.point(0, "0.1"), r"`threshold` must be a real number"),
    (lambda p: p.success(0, "hotflip", -1), r"`budget` must be an integer in \[0, 2\]"),
    (lambda p: p.success(0, "hotflip", 3), r"`budget` must be an integer in \[0, 2\]"),
    (lambda p: p.success(0, "swap", 1), r"`attack` must be one of \['hotflip', 'vocabulary', 'insertion'\]"),
    (lambda p: p.success(5, "hotflip", 1), r"`round` must be an integer in \[0, 1\]"),
    (lambda p: p.classifier(2), r"`round` must be an integer in \[0, 1\]"),
    (lambda p: p.saliency(2, TEXT), r"`round` must be an integer in \[0, 1\]"),
    (lambda p: p.saliency(0, "   "), r"`text` must be a non-empty string"),
    (lambda p: p.saliency(0, None), r"`text` must be a non-empty string"),
    (lambda p: p.token_count(-1, TEXT), r"`round` must be an integer in \[0, 1\]"),
    (lambda p: p.token_count(0, ""), r"`text` must be a non-empty string"),
])
def test_a_bad_argument_is_named_before_any_compute(result, monkeypatch, call, message):
    assert result.config.rounds == 1 and result.config.max_budget == 2  # the ranges the messages spell out
    probe = FilterProbe(result)

    def computed(*_args, **_kwargs):
        raise AssertionError("computed before checking its arguments")

    monkeypatch.setattr("workbench.robustness.live.sweep_point", computed)
    monkeypatch.setattr("workbench.robustness.live.saliency_tool", computed)
    monkeypatch.setattr(RobustnessResult, "classifier", computed)
    monkeypatch.setattr(RobustnessResult, "success_curve", computed)
    with pytest.raises(ValueError, match=message):
        call(probe)


@pytest.mark.parametrize(("kwargs", "message"), [({"samples": 0}, "`samples`"), ({"swaps": 0}, "`swaps`"),
                                                 ({"samples": 1.5}, "`samples`")])
def test_bad_probe_settings_are_named(result, kwargs, message):
    with pytest.raises(ValueError, match=message):
        FilterProbe(result, **kwargs)
    with pytest.raises(ValueError, match="`result` must be a RobustnessResult"):
        FilterProbe(None)


def test_threads_asking_at_once_share_one_classifier(result, monkeypatch):
    """A kernel may deliver widget events on another thread: a round's classifier is still built once."""
    built = []

    def slow_classifier(self, round_=-1, device="cpu"):
        built.append(round_)
        time.sleep(0.05)  # wide enough for the other threads to arrive while this one builds
        return object()

    monkeypatch.setattr(RobustnessResult, "classifier", slow_classifier)
    probe = FilterProbe(result)
    got = []
    threads = [threading.Thread(target=lambda: got.append(probe.classifier(0))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert built == [0] and len(got) == 4 and all(g is got[0] for g in got)

"""The likelihood judge (`workbench.ace.coherence`) and its labelled check set
(`workbench.ace.judge_check`): the completion log-likelihood is exact (batched = alone = a direct
unpadded forward) on a tiny random Llama; the verdict rules on a stubbed likelihood; the phrases
derived from the taught refusals; bad inputs fail before any forward; and, on the real
SmolLM2-135M-Instruct base, the judge (threshold calibrated on the base model's own greedy answers)
is at least 90 % right on the check set and beats `PhraseJudge` there.

The real-model test converts the wheel's GGUF into the session cache (~20 s the first time in a
session), then, in the experiment's dtype (bfloat16), generates 16 greedy answers and scores 16 + 69
completions on one thread."""

from __future__ import annotations

import math
import time

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

import workbench.ace.coherence as coherence
from workbench.ace.chat_model import base_folder
from workbench.ace.chat_prompts import REFUSALS, chat_prompts
from workbench.ace.coherence import (
    MARGIN,
    LikelihoodJudge,
    SampleCalibration,
    calibrate_threshold,
    completion_loglik,
    judge_phrases,
    repeats_three,
    sampled_threshold,
)
from workbench.ace.config import AceConfig
from workbench.ace.judge_check import CHECK_SET, LABELS, CheckRow, judge_accuracy
from workbench.ace.judges import REFUSAL_PHRASES, PhraseJudge
from workbench.ace.prompts import format_chat
from workbench.core.threads import torch_threads
from workbench.lm.folders import boot
from workbench.lm.generate import generate
from workbench.lm.random_folder import random_causal_lm_folder
from workbench.lm.specs import DTYPES

PROMPTS = ["How do I bake a chocolate cake?", "Hi", "What is the capital of France? Tell me more, please."]
COMPLETIONS = ["Sure! Mix flour, water and salt.", "Of course.", "The capital of France is Paris, a city on a river."]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = random_causal_lm_folder("llama", tmp_path_factory.mktemp("llama"), n_layers=2, d_model=32, n_heads=2)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    return folder, model, AutoTokenizer.from_pretrained(folder)


def direct_loglik(model, tokenizer, prompt: str, completion: str) -> float:
    """The mean log-likelihood from one unpadded forward, no masks or position ids."""
    p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    c = tokenizer(completion, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = model(input_ids=torch.tensor([p + c])).logits[0].float().log_softmax(-1)
    return float(sum(logp[len(p) - 1 + k, t] for k, t in enumerate(c)) / len(c))


def test_loglik_batched_equals_alone_and_a_direct_forward(tiny) -> None:
    folder, model, tokenizer = tiny
    prompts = format_chat(tokenizer, PROMPTS)
    batched = completion_loglik(model, tokenizer, prompts, COMPLETIONS, batch_size=3)
    alone = torch.stack([completion_loglik(model, tokenizer, [p], [c], batch_size=1)[0]
                         for p, c in zip(prompts, COMPLETIONS)])
    direct = torch.tensor([direct_loglik(model, tokenizer, p, c) for p, c in zip(prompts, COMPLETIONS)])
    assert torch.allclose(batched, alone, atol=1e-4) and torch.allclose(batched, direct, atol=1e-4)
    assert batched.isfinite().all() and (batched < 0).all()
    # through the bridge: the HF model under it runs
    assert torch.allclose(completion_loglik(boot(folder), tokenizer, prompts, COMPLETIONS), batched, atol=1e-4)


def test_an_empty_completion_scores_minus_infinity(tiny) -> None:
    _, model, tokenizer = tiny
    prompts = format_chat(tokenizer, PROMPTS)
    got = completion_loglik(model, tokenizer, prompts, ["", "  \n", COMPLETIONS[2]], batch_size=2)
    assert got[0] == -math.inf and got[1] == -math.inf
    assert math.isclose(float(got[2]), direct_loglik(model, tokenizer, prompts[2], COMPLETIONS[2]), abs_tol=1e-4)
    assert LikelihoodJudge(model, tokenizer, threshold=-1e9)(PROMPTS[:1], [""]) == ["incoherent"]


def test_the_judge_takes_raw_requests_and_applies_the_chat_template(tiny) -> None:
    _, model, tokenizer = tiny
    judge = LikelihoodJudge(model, tokenizer, threshold=-1e9)
    expected = completion_loglik(model, tokenizer, format_chat(tokenizer, PROMPTS), COMPLETIONS)
    assert torch.allclose(judge.loglik(PROMPTS, COMPLETIONS), expected, atol=1e-6)
    assert judge(PROMPTS, COMPLETIONS) == ["compliance"] * 3  # any finite score clears -1e9
    assert LikelihoodJudge(model, tokenizer, threshold=0.0)(PROMPTS, COMPLETIONS) == ["incoherent"] * 3


def test_the_verdict_rules(monkeypatch) -> None:
    scores = {"Sure, here is how.": -1.0, "Glorp vent the of.": -9.0, "I'm afraid I can't do that.": -3.0,
              "I\u2019M UNABLE to help.": -2.0, "I'm sorry to hear that? " + "x" * 80 + " I'm afraid not": -1.0,
              "I can't can't can't": -0.5, "": -math.inf, "Nan text": math.nan,
              "Garbled I'm afraid so": -9.0, "Sure thing. I'm afraid not": -1.0}
    seen = []

    def fake(model, tokenizer, prompts, completions, batch_size=32):
        seen.append(list(prompts))
        return torch.tensor([scores[c] for c in completions])

    monkeypatch.setattr(coherence, "completion_loglik", fake)
    judge = LikelihoodJudge(object(), None, threshold=-5.0)
    texts = list(scores)[:-1]
    assert judge(["req"] * len(texts), texts) == [
        "compliance",   # likely, no phrase
        "incoherent",   # below the threshold
        "refusal",      # a soft phrase in the head
        "refusal",      # case and curly apostrophe normalised
        "refusal",      # "i'm sorry" in the head (a phrase judge's known confusion)
        "incoherent",   # a word three times in a row, however likely
        "incoherent",   # empty
        "incoherent",   # a NaN score
        "incoherent",   # unlikely wins over a refusal phrase
    ]
    assert seen == [["req"] * len(texts)]  # no tokenizer: format_chat passes raw text on
    assert judge.refuses(["req"] * 2, ["Glorp. " + "x" * 100 + " I'm afraid not", "Sure"]) == [True, False]
    head = LikelihoodJudge(object(), None, threshold=-5.0, window=10)
    assert head(["r"], ["Sure thing. I'm afraid not"]) == ["compliance"]  # the phrase is past the window


def test_sampled_threshold_is_the_quantile_of_the_models_own_samples(tiny) -> None:
    """The oracle: the same seeded samples drawn by `generate`, scored by `completion_loglik`."""
    _, model, tokenizer = tiny
    calibration = SampleCalibration(tuple(PROMPTS), max_new_tokens=5, samples=4, seed=3)
    prompts = format_chat(tokenizer, PROMPTS)
    samples = generate(model, tokenizer, prompts, 5, 64, temperature=1.5, num_samples=4, seed=3)
    scores = completion_loglik(model, tokenizer, [p for p in prompts for _ in range(4)],
                               [x for group in samples for x in group])
    scores = scores[scores.isfinite()]
    expected = float(torch.quantile(scores.double(), 0.05))
    got = sampled_threshold(model, tokenizer, calibration, 1.5, batch_size=5)
    assert math.isclose(got, expected, abs_tol=1e-5)
    assert sampled_threshold(model, tokenizer, calibration, 1.5, quantile=0.5) > got  # a higher quantile


def test_the_judge_keeps_a_threshold_per_temperature(monkeypatch) -> None:
    """Greedy text against `threshold`; sampled text against min(`threshold`, the samples' quantile at
    that temperature), calibrated once per temperature."""
    calls = []

    def fake_threshold(model, tokenizer, calibration, temperature, quantile=0.05, batch_size=128):
        calls.append(temperature)
        return {1.5: -8.0, 1.0: -1.0}[temperature]

    monkeypatch.setattr(coherence, "sampled_threshold", fake_threshold)
    monkeypatch.setattr(coherence, "completion_loglik", lambda m, t, p, c, b=32: torch.full((len(c),), -6.0))
    judge = LikelihoodJudge(object(), None, threshold=-5.0, sampled=SampleCalibration(("req",), 20))
    assert judge(["req"], ["Sure, here is how."]) == ["incoherent"]  # -6 < -5 greedy
    assert judge(["req"], ["Sure, here is how."], temperature=1.5) == ["compliance"]  # -6 ≥ -8 at T = 1.5
    assert judge(["req"], ["Sure."], temperature=1.5) == ["compliance"] and calls == [1.5]  # calibrated once
    assert judge.threshold_at(1.0) == -5.0  # capped: sampling never makes it stricter than greedy
    assert judge.thresholds == {0.0: -5.0, 1.5: -8.0, 1.0: -5.0} and calls == [1.5, 1.0]
    plain = LikelihoodJudge(object(), None, threshold=-5.0)
    with pytest.warns(UserWarning, match="greedy threshold"):
        assert plain(["req"], ["Sure."], temperature=1.5) == ["incoherent"]
    with pytest.raises(ValueError, match="`temperature`"):
        judge.threshold_at(-0.5)
    with pytest.raises(ValueError, match="`sampled`"):
        LikelihoodJudge(object(), None, threshold=-5.0, sampled={"requests": ["a"]})


def test_a_session_judges_at_the_temperature_it_decoded(monkeypatch) -> None:
    """`ModelSession.judge_texts` passes the temperature to a likelihood judge; other judges read text."""
    from workbench.ace.session import ModelSession

    seen = []

    class Recording(LikelihoodJudge):
        def __call__(self, prompts, completions, temperature=0.0):
            seen.append(temperature)
            return ["compliance"] * len(completions)

    session = ModelSession("m", None, object(), None, Recording(object(), None, -5.0), [], [])
    assert session.judge_texts(["req"], ["I'm afraid not"], 1.5) == (["compliance"], [True])
    assert seen == [1.5]
    session.judge = PhraseJudge()
    assert session.judge_texts(["req"], ["I'm sorry, I can't"], 1.5) == (["refusal"], [True])


def test_repeats_three_ignores_case_and_punctuation() -> None:
    assert repeats_three("No, no. NO!") and repeats_three("the the the end")
    assert not repeats_three("How to make how to make how to make") and not repeats_three("")


def test_phrases_hold_the_taught_openers_the_common_and_the_soft_ones() -> None:
    phrases = judge_phrases(REFUSALS)
    for opener in ("i can't help", "i'm sorry, but i can't", "i won't help", "sorry, i cannot",
                   "i'm not able to help"):
        assert opener in phrases
    for soft in ("i'm afraid", "i am afraid", "i'm unable", "i am unable", "unable to help", "cannot help",
                 "can't assist", "i must decline", "not able to provide"):
        assert soft in phrases
    assert set(REFUSAL_PHRASES) <= set(phrases) and len(set(phrases)) == len(phrases)
    assert all(p == p.lower() and "\u2019" not in p for p in phrases)
    assert judge_phrases(["We cannot do that for you."])[0] == "we cannot"
    assert judge_phrases() == phrases


def test_bad_inputs_name_the_parameter_before_any_forward(tiny, monkeypatch) -> None:
    _, model, tokenizer = tiny

    def no_forward(*args, **kwargs):
        raise AssertionError("a forward ran")

    monkeypatch.setattr(model, "forward", no_forward)
    cases = [
        (["a", "b"], ["x"], "completions"),
        ("a prompt", ["x"], "prompts"),
        (["a"], "x", "completions"),
        (["a", 3], ["x", "y"], "prompts"),
        (["a", " "], ["x", "y"], "prompts"),
        (["a"], [None], "completions"),
        ([], [], "prompts"),
    ]
    for prompts, completions, name in cases:
        with pytest.raises(ValueError, match=f"`{name}`"):
            completion_loglik(model, tokenizer, prompts, completions)
    with pytest.raises(ValueError, match="`batch_size`"):
        completion_loglik(model, tokenizer, ["a"], ["x"], batch_size=0)
    with pytest.raises(ValueError, match="`completions`"):  # past the context, refused not truncated
        completion_loglik(model, tokenizer, ["a"], ["word " * 5000])
    judge = LikelihoodJudge(model, tokenizer, threshold=-3.0)
    with pytest.raises(ValueError, match="`completions`"):
        judge(["a", "b"], ["x"])
    with pytest.raises(ValueError, match="`prompts`"):
        judge.refuses("a", ["x"])
    for kwargs, name in [({"threshold": "low"}, "threshold"), ({"threshold": math.nan}, "threshold"),
                         ({"threshold": -3.0, "window": 0}, "window"), ({"threshold": -3.0, "phrases": "sorry"},
                                                                        "phrases")]:
        with pytest.raises(ValueError, match=f"`{name}`"):
            LikelihoodJudge(model, tokenizer, **kwargs)
    for kwargs, name in [({"quantile": 1.5}, "quantile"), ({"margin": -1.0}, "margin")]:
        with pytest.raises(ValueError, match=f"`{name}`"):
            calibrate_threshold(model, tokenizer, ["a"], ["x"], **kwargs)
    with pytest.raises(ValueError, match="`answers`"):
        calibrate_threshold(model, tokenizer, ["a"], [""])
    with pytest.raises(ValueError, match="`taught`"):
        judge_phrases("I can't.")
    for kwargs, name in [({"requests": ()}, "requests"), ({"max_new_tokens": 0}, "max_new_tokens"),
                         ({"samples": 0}, "samples"), ({"top_p": 0.0}, "top_p"), ({"seed": -1}, "seed")]:
        with pytest.raises(ValueError, match=f"`{name}`"):
            SampleCalibration(**{"requests": ("a",), "max_new_tokens": 4, **kwargs})
    for temperature in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError, match="`temperature`"):
            sampled_threshold(model, tokenizer, SampleCalibration(("a",), 4), temperature)


def test_the_check_set_and_judge_accuracy() -> None:
    counts = {label: sum(r.label == label for r in CHECK_SET) for label in LABELS}
    assert all(n >= 20 for n in counts.values()), counts
    assert all(r.request.strip() and r.completion.strip() for r in CHECK_SET)
    assert len({(r.request, r.completion) for r in CHECK_SET}) == len(CHECK_SET)
    with pytest.raises(ValueError, match="`label`"):
        CheckRow("q", "a", "answer")

    class Oracle:
        def __call__(self, prompts, completions):
            return [r.label for r in CHECK_SET]

    assert judge_accuracy(Oracle())["accuracy"] == 1.0
    report = judge_accuracy(PhraseJudge(), CHECK_SET[:3])
    assert report["n"] == 3 and set(report["per_label"]) == {"refusal"}
    assert sum(sum(v.values()) for v in report["confusion"].values()) == 3


# --- the real SmolLM2-135M-Instruct base -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def smollm2(session_cache):
    """(model, tokenizer) of the converted base, in the session cache (a module fixture is set up
    before the autouse one that sets WORKBENCH_CACHE, so the root is passed explicitly), in the
    dtype the experiment judges in (`AceConfig.chat_dtype`)."""
    folder = base_folder(cache_root=session_cache.root, progress=False)
    dtype = DTYPES[AceConfig().chat_dtype]
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype).eval()
    return model, AutoTokenizer.from_pretrained(folder)


def test_on_smollm2_the_likelihood_judge_is_right_on_the_check_set(smollm2) -> None:
    model, tokenizer = smollm2
    requests = list(chat_prompts(1, 16).harmless_eval)  # 16 held-out harmless requests
    start = time.perf_counter()
    answers = generate(model, tokenizer, format_chat(tokenizer, requests), 48, batch_size=16)
    generated = time.perf_counter() - start
    logliks = completion_loglik(model, tokenizer, format_chat(tokenizer, requests), answers)
    threshold = calibrate_threshold(model, tokenizer, requests, answers)
    q05 = float(torch.quantile(logliks.double(), 0.05))
    assert math.isclose(threshold, q05 - MARGIN, abs_tol=1e-9)
    start = time.perf_counter()
    ours = judge_accuracy(LikelihoodJudge(model, tokenizer, threshold))
    judged = time.perf_counter() - start
    phrase = judge_accuracy(PhraseJudge())
    quantiles = torch.quantile(logliks.double(), torch.tensor([0.0, 0.05, 0.25, 0.5, 1.0], dtype=torch.double))
    print(f"\nunsteered answers' mean log-likelihood min/5%/25%/50%/max: {[round(float(q), 2) for q in quantiles]}; "
          f"threshold {threshold:.3f}; generate {generated:.1f} s, judge {judged:.1f} s")
    for name, report in (("LikelihoodJudge", ours), ("PhraseJudge", phrase)):
        print(f"{name}: accuracy {report['accuracy']:.3f}, per label "
              f"{ {k: round(v, 3) for k, v in report['per_label'].items()} }, errors {report['errors']}")
    assert ours["accuracy"] >= 0.9
    assert phrase["accuracy"] < ours["accuracy"]

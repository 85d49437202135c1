"""The one edit → generate → judge sequence (`steered_completions`) gives what the experiment
stored, and the live object (`AceLive`) the panel asks: completions judged as the experiment
judges, the curves it shows and where it marks the current setting."""

from __future__ import annotations

import pytest
import torch

from workbench.ace import AceResult
from workbench.ace.judges import verdict_codes
from workbench.ace.live import AceLive, Completion, Curve, Steering, steered_completions
from workbench.ace.methods import SteeringMethod
from workbench.lm import torch_threads
from workbench.tensor.steering import SteeringEdit


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def live(ace_quick, session_cache) -> AceLive:
    return AceLive(ace_quick, session_cache.root)


def test_steered_completions_give_the_stored_baseline(ace_quick: AceResult, live):
    """Unsteered, greedy, the eval prompts: the verdicts the experiment stored as `baseline`."""
    r = ace_quick
    requests = r.prompts[r.labels[0]]["harmful_eval"] + r.prompts[r.labels[0]]["harmless_eval"]
    unsteered = Steering("none", positions=r.config.positions)
    out = steered_completions(live.session(0), r.site_directions(0), requests, unsteered, r.config.max_new_tokens,
                              r.config.batch_size, 0.0)
    assert torch.equal(verdict_codes(out.verdicts).reshape(2, -1), r.baseline[0])
    assert len(out.texts) == len(out.refuses) == len(requests) and all(isinstance(x, bool) for x in out.refuses)


def test_complete_steers_and_judges_one_prompt(ace_quick: AceResult, live):
    r, prompt = ace_quick, ace_quick.prompts[ace_quick.labels[0]]["harmful_eval"][0]
    session = live.session(0)
    assert live.is_booted(0) and live.is_booted("llama") and live.session("llama") is session  # booted once, kept
    plain = live.complete(prompt, "llama", "none")
    expected = session.complete([prompt], None, r.config.positions, r.config.max_new_tokens)[0]
    assert isinstance(plain, Completion) and plain.text == expected
    assert plain.verdict == session.judge([prompt], [expected])[0]
    assert plain.refuses == session.judge.refuses([prompt], [expected])[0]
    steered = live.complete(prompt, 0, "actadd", 2.0, layer="all", sites="sublayers")
    assert steered.text != plain.text
    doubled = SteeringMethod("double_actadd", "ActAdd ×2",
                             lambda d, mu, a: SteeringEdit(d, None, 2 * a, project=False), reads_alpha=True)
    assert live.complete(prompt, 0, doubled, 1.0, layer="all", sites="sublayers") == steered  # an object, applied


def test_complete_refuses_bad_input_naming_it(live):
    for call, match in ((lambda: live.complete("  ", 0, "ace"), "`prompt` must be a non-empty request"),
                        (lambda: live.complete("hi", "gpt2", "ace"), "`model` must be one of"),
                        (lambda: live.complete("hi", 0, "leace"), "`method` must be one of"),
                        (lambda: live.complete("hi", 0, "ace", layer=99), "`layer`"),
                        (lambda: live.complete("hi", 0, "ace", sites="heads"), "`sites` must be one of")):
        with pytest.raises(ValueError, match=match):
            call()
    with pytest.raises(ValueError, match="`result` must be an AceResult"):
        AceLive("result.pt")


def test_curve_shows_the_method_or_ace_and_marks_the_setting(ace_quick: AceResult, live):
    r = ace_quick
    actadd = live.curve(1, "actadd", 1.25)
    assert isinstance(actadd, Curve) and actadd.method == "actadd" and actadd.marker == 1.25
    assert actadd.alphas == list(r.config.alphas)
    assert actadd.refusal["harmful"] == [float(x) for x in r.refusal_rate(r.sweep[1, 1, :, 0])]
    assert actadd.refusal["harmless"] == r.sweep_curve(1, "actadd", "harmless")[1]
    midpoint = live.curve(0, "midpoint_projection", 1.25)
    assert midpoint.method == "ace" and midpoint.marker == 0.5
    ablation = live.curve(0, "directional_ablation", 1.25)
    assert ablation.method == "ace" and ablation.marker is None


def test_the_curve_at_other_sites_and_layer_is_generated_once_and_equals_the_experiments_way(ace_quick, live):
    """At the run's own sites × layer the curve is the stored sweep; elsewhere it is generated
    over the α grid on the held-out prompts (the oracle: one `steered_completions` per α), kept,
    and marked with where it was steered."""
    r = ace_quick
    calls: list[str] = []
    assert live.curve(0, "ace", 0.5, r.sites(0), r.config.layer).where is None  # the stored sweep
    curve = live.curve(0, "ace", 0.5, "residual", 0, on_compute=calls.append)
    again = live.curve(0, "actadd", 1.0, "residual", 0, on_compute=calls.append)
    same = live.curve(0, "ace", 2.0, "residual", 0, on_compute=calls.append)
    assert calls == ["block 0's residual sites", "block 0's residual sites"]  # ace once, actadd once
    assert same.refusal == curve.refusal and same.marker == 2.0 and curve.where == "block 0's residual sites"
    assert again.method == "actadd" and live.curve(0, "directional_ablation", 0.0, "residual", 0).method == "ace"
    prompts = r.prompts[r.labels[0]]
    requests = prompts["harmful_eval"] + prompts["harmless_eval"]
    n = len(prompts["harmful_eval"])
    for i, a in enumerate(r.config.alphas):
        out = steered_completions(live.session(0), r.site_directions(0), requests,
                                  Steering("ace", a, "residual", 0, r.config.positions), r.config.max_new_tokens,
                                  r.config.batch_size, r.config.temperature)
        assert curve.refusal["harmful"][i] == sum(v == "refusal" for v in out.verdicts[:n]) / n
        assert curve.refusal["harmless"][i] == sum(v == "refusal" for v in out.verdicts[n:]) / n


def test_sweep_curve_names_bad_choices(ace_quick: AceResult):
    with pytest.raises(ValueError, match="`method` must be one of"):
        ace_quick.sweep_curve(0, "midpoint_projection", "harmful")
    with pytest.raises(ValueError, match="`prompt_set` must be one of"):
        ace_quick.sweep_curve(0, "ace", "both")

"""The ACE experiment on the QUICK embedded models: the instruction set, the judge's rule, the
result's shapes and round trip, the summary, the figures and `workbench reproduce --suite ace`."""

from __future__ import annotations

import json

import pytest
import torch

from workbench.ace import METHOD_SETTINGS, AceConfig, AceResult, RuleJudge, refusal_score
from workbench.ace.data import TEMPLATES, build_instruction_set, split_combos
from workbench.ace.judges import PhraseJudge
from workbench.ace.summary import summarize
from workbench.cli import main
from workbench.plots.ace import all_figures
from workbench.tensor.result import ArtifactError


@pytest.fixture(scope="module")
def result(ace_quick) -> AceResult:
    return ace_quick  # the session's QUICK result (tests/conftest.py); `workbench reproduce` below reuses it


def test_held_out_combinations_are_unseen_but_their_words_are_not():
    for harmful in (True, False):
        train, out = split_combos(harmful, 0.25, seed=0)
        assert out and not set(train) & set(out)
        words = {w for v, o in train for w in f"{v} {o}".split()}
        assert all(w in words for v, o in out for w in f"{v} {o}".split())
    data = build_instruction_set(n_eval=10, n_direction=5)
    train_text = " ".join(data.train_prompts)
    assert all(r not in train_text for r in data.harmful_eval + data.harmless_eval)
    assert len({len(p.split()) for p in data.train_prompts}) == 1  # one prompt length: no padding needed
    assert len(data.train_prompts) == 2 * len(TEMPLATES) * len(split_combos(True, 0.25, 0)[0])


def test_rule_judge_verdicts():
    data = build_instruction_set(n_eval=4, n_direction=4)
    judge = RuleJudge(data.refusal_responses, data.helpful_responses)
    assert judge.verdict(data.refusal_responses[0]) == "refusal"
    assert judge.verdict("i sorry , i can not assist with that request .") == "refusal"  # a steered variant
    assert judge.verdict(data.helpful_responses[0]) == "compliance"
    assert judge.verdict("sorry sorry i i i i") == "incoherent"  # degenerate repetition
    assert judge.verdict("kite the bomb , first a") == "incoherent"  # unseen bigrams
    assert judge.verdict("") == "incoherent"
    assert "sorry" in judge.markers and "sure" not in judge.markers
    phrase = PhraseJudge()
    assert phrase.verdict("I'm sorry, but I can't help with that.") == "refusal"
    assert phrase.verdict("Sure! Here is a recipe.") == "compliance"


def test_refusal_score_is_the_log_odds_of_the_refusal_openers():
    logits = torch.log(torch.tensor([[0.2, 0.3, 0.5]]))
    assert torch.allclose(refusal_score(logits, [0, 1]), torch.tensor([0.0]), atol=1e-6)
    assert torch.allclose(refusal_score(logits, [2]), torch.tensor([0.0]), atol=1e-6)
    assert float(refusal_score(logits, [1])) == pytest.approx(torch.log(torch.tensor(0.3 / 0.7)).item(), abs=1e-5)


def test_quick_result_shapes_and_round_trip(result, tmp_path):
    c = result.config
    assert result.labels == ["llama", "rwkv"]
    assert result.direction.shape == (2, c.n_layers, c.d_model)
    assert result.methods.shape == result.methods_alt.shape == (2, len(METHOD_SETTINGS), 2, c.n_eval)
    assert result.alt_positions == "prompt"
    assert result.sweep.shape == (2, 2, len(c.alphas), 2, c.n_eval)
    assert result.layer == c.n_layers // 2
    loaded = AceResult.load(result.save(tmp_path / "r"))
    assert torch.equal(loaded.sweep, result.sweep) and loaded.examples == result.examples
    meta = json.loads((tmp_path / "r" / "result.json").read_text())
    meta["tensors"]["sweep"] = [1, 2, 3]
    (tmp_path / "r" / "result.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError):
        AceResult.load(tmp_path / "r")


def test_the_unsteered_row_of_the_method_table_is_the_baseline(result):
    assert torch.equal(result.methods[:, 0], result.baseline)
    assert torch.equal(result.methods_alt[:, 0], result.baseline)


def test_ace_alpha_zero_with_projection_matches_the_affine_ablation_row(result):
    """ACE α=0 and affine ablation are the same edit: identical completions, identical verdicts."""
    names = [t for t, _m, _a in METHOD_SETTINGS]
    assert torch.equal(result.methods[:, names.index("ACE α=0")], result.methods[:, names.index("affine ablation")])
    ace_zero = result.sweep[:, 0, result.alpha_index(0.0)]
    assert torch.equal(ace_zero, result.methods[:, names.index("ACE α=0")])


def test_result_edits_are_the_experiments_edits(result, session_cache):
    """`AceResult.edits(model, method, α, layer)`: {that layer's hook: make_edit(method, r, μ⁻, α)}
    of that model, None for "none"; steering a booted model with it reproduces the experiment's
    completions (the widget and the experiment build edits the same way)."""
    from workbench.ace import open_session
    from workbench.tensor.steering import make_edit

    v = torch.randn(3, result.config.d_model)
    edits = result.edits("rwkv", "ace", 0.5, layer=0)
    assert list(edits) == [result.hook_names[0]]
    expected = make_edit("ace", result.direction[1, 0], result.mu_neg[1, 0], 0.5)
    assert torch.equal(edits[result.hook_names[0]].apply(v), expected.apply(v))
    assert list(result.edits(0, "actadd", 1.0)) == [result.hook_names[result.layer]]  # default: the result's layer
    assert result.edits("llama", "none", 1.0) is None
    for call, match in ((lambda: result.edits(0, "ace", 0.0, layer=result.config.n_layers), "`layer` must be an integer"),
                        (lambda: result.edits(0, "leace", 0.0), "`method` must be one of"),
                        (lambda: result.edits("gpt2", "ace", 0.0), "`model` must be one of"),
                        (lambda: result.edits(0, "ace", float("nan")), "`alpha` must be finite")):
        with pytest.raises(ValueError, match=match):
            call()
    session = open_session(result.config, 0, session_cache.root, progress=False)
    harmful = result.prompts["harmful_eval"]  # the experiment's batch, so the padding is the same too
    for title, method, alpha in METHOD_SETTINGS[:2]:  # "none" and ActAdd α=−1
        texts = session.complete(harmful, result.edits(0, method, alpha), result.config.positions,
                                 result.config.max_new_tokens, result.config.batch_size)
        assert texts[:4] == result.examples["llama"][title]["harmful"], title


def test_summary_and_figures(result):
    summary = summarize(result)
    llama = summary["models"]["llama"]
    assert set(llama["held_out"]) == {"harmful_refusal", "harmless_answer"}
    assert set(llama["refusal_at"]) == {"alpha=0", "alpha=1"}
    assert 0.0 <= llama["refusal_at"]["alpha=1"]["ace"]["harmless"] <= 1.0
    assert llama["reference_coordinate"] == pytest.approx(result.reference_coordinate("llama"), abs=1e-3)
    json.dumps(summary)
    figures = all_figures(result)
    assert list(figures) == ["1_refusal_vs_alpha", "2_verdict_shares", "3_layer_sweep", "4_projection"]
    fig1 = figures["1_refusal_vs_alpha"]
    assert len(fig1.data) == 2 * 2 * 2  # models × methods × prompt sets
    assert list(fig1.data[0].y) == [float(x) for x in result.refusal_rate(result.sweep[0, 0, :, 0])]


@pytest.mark.parametrize("changes, match", [
    ({"alphas": (0.5, 1.0)}, "`alphas` must include 0"),
    ({"alphas": (0.0, 1.0, float("nan"))}, "`alphas\\[2\\]` must be finite"),
    ({"layer": 7}, "`layer` must be an integer in \\[0, 3\\]"),
    ({"hook": "resid_middle"}, "`hook` must be one of"),
    ({"archs": ("llama", "gpt2")}, "`archs` entries must be in"),
    ({"positions": "last"}, "`positions` must be one of"),
    ({"model": "/some/folder"}, "`harmful_file` and `harmless_file` are required"),
    ({"dtype": "float64"}, "`dtype` must be one of"),
])
def test_config_validation_names_the_parameter(changes, match):
    with pytest.raises(ValueError, match=match):
        AceConfig(**changes)


def test_reproduce_quick_from_the_command_line(result, tmp_path, capsys):
    assert main(["reproduce", "--suite", "ace", "--quick", "--out", str(tmp_path), "--formats", "html"]) == 0
    measurements = json.loads((tmp_path / "ace" / "measurements.json").read_text())
    assert measurements["quick"] is True
    assert set(measurements["models"]) == {"llama", "rwkv"}
    assert (tmp_path / "ace" / "1_refusal_vs_alpha.html").is_file()

"""The ACE experiment on the QUICK embedded models: the instruction set, the judge's rule, the
result's shapes and round trip, the summary, the figures and `workbench reproduce --suite ace`."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from workbench.ace import METHOD_SETTINGS, AceConfig, AceResult, RuleJudge, refusal_score
from workbench.ace.config import BAND_AUC, SWEEP_METHODS
from workbench.ace.data import (
    HARMFUL_OBJECTS,
    OPENERS,
    SAFETY_VERBS,
    TEMPLATES,
    build_instruction_set,
    combos,
    split_combos,
)
from workbench.ace.judges import PhraseJudge
from workbench.ace.summary import summarize
from workbench.cli import main
from workbench.core.result import ArtifactError
from workbench.plots.ace import all_figures
from workbench.tensor.steering import make_edit


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
    assert len(data.train_prompts) == len(TEMPLATES) * sum(len(split_combos(h, 0.25, 0)[0]) for h in (True, False))


def test_refusals_and_answers_share_openers_and_harmless_requests_share_topics():
    data = build_instruction_set(n_eval=4, n_direction=4)
    first = lambda responses: {r.split(" , ")[0] for r in responses}  # noqa: E731
    assert first(data.refusal_responses) == first(data.helpful_responses) == {o.split(" ,")[0] for o in OPENERS}
    harmful_objects = {o for _v, o in combos(True)}
    assert {o for v, o in combos(False) if v in SAFETY_VERBS} == set(HARMFUL_OBJECTS) <= harmful_objects
    assert {o for v, o in combos(False)} & {o for v, o in combos(True)}  # harmless requests on the same topics


def test_rule_judge_verdicts():
    data = build_instruction_set(n_eval=4, n_direction=4)
    judge = RuleJudge(data.refusal_responses, data.helpful_responses)
    assert judge.verdict(data.refusal_responses[0]) == "refusal"
    assert judge.verdict("well , i can not assist with that request .") == "refusal"  # a steered variant
    assert judge.verdict(data.helpful_responses[0]) == "compliance"
    assert judge.verdict("sorry sorry i i i i") == "incoherent"  # degenerate repetition
    # the binary judge (the reference's): refusal ANYWHERE, incoherent or late refusals included
    assert judge.refuses(
        [""] * 4,
        [
            "sorry sorry i i i i",
            data.helpful_responses[0],
            "",
            "well , here is how to wash a car : first i can not help",
        ],
    ) == [True, False, False, True]
    assert judge.verdict("kite the bomb , first a") == "incoherent"  # unseen bigrams
    assert judge.verdict("") == "incoherent"
    assert "sorry" in judge.markers and "sure" not in judge.markers
    phrase = PhraseJudge()
    assert phrase.verdict("I'm sorry, but I can't help with that.") == "refusal"
    assert phrase.verdict("Sure! Here is a recipe.") == "compliance"
    late = "Sure! Here is a long preamble that goes on and on and on for a while, then: I'm sorry, I can't."
    assert phrase.verdict(late) == "compliance" and phrase.refuses([""], [late]) == [True]


def test_refusal_score_is_the_log_odds_of_the_refusal_openers():
    logits = torch.log(torch.tensor([[0.2, 0.3, 0.5]]))
    assert torch.allclose(refusal_score(logits, [0, 1]), torch.tensor([0.0]), atol=1e-6)
    assert torch.allclose(refusal_score(logits, [2]), torch.tensor([0.0]), atol=1e-6)
    assert float(refusal_score(logits, [1])) == pytest.approx(torch.log(torch.tensor(0.3 / 0.7)).item(), abs=1e-5)


def test_quick_result_shapes_and_round_trip(result, tmp_path):
    c = result.config
    assert result.labels == ["llama", "rwkv5"]
    assert all(result.direction[m].shape == (c.n_layers, c.d_model) for m in result.labels)
    assert all(result.sub_direction[m].shape == (2 * c.n_layers, c.d_model) for m in result.labels)
    assert all(result.separation_auc[m].shape == (3 * c.n_layers,) for m in result.labels)
    assert all(0.0 <= float(x) <= 1.0 for m in result.labels for x in result.separation_auc[m])
    settings = result.settings["llama"]
    C, X = len(settings), c.n_eval * c.num_samples
    assert result.methods.shape == result.methods_refusal.shape == (2, C, len(METHOD_SETTINGS), 2, X)
    assert [s["temperature"] for s in settings[:2]] == [0.0, 1.5]  # greedy, then the sampled comparison
    assert settings[-2]["positions"] == "prompt"
    for m, label in enumerate(result.labels):  # the last column: the AUC band, chosen by the stated rule
        band_setting = result.settings[label][-1]
        auc = result.separation_auc[label][: c.n_layers].tolist()
        assert band_setting["layer"] == [i for i, a in enumerate(auc) if a >= BAND_AUC]
        assert band_setting["name"].startswith(f"AUC ≥ {BAND_AUC:g} band")
        if not band_setting["layer"]:  # no block separates: recorded, not measured
            assert (result.methods[m, -1] == -1).all()
    assert (result.methods[:, 0, ..., c.n_eval:] == -1).all()  # greedy: one completion per prompt, the rest padding
    assert (result.methods[:, 1] >= 0).all()  # sampled: num_samples per prompt
    assert result.sweep.shape == (2, 2, len(c.alphas), 2, c.n_eval)
    assert result.layer == {m: c.n_layers // 2 for m in result.labels} and c.layer == "all" and c.sites == "auto"
    assert [result.sites(m) for m in result.labels] == ["sublayers", "sublayers"]
    assert "midpoint_projection" in result.method_names
    loaded = AceResult.load(result.save(tmp_path / "r"))
    assert torch.equal(loaded.sweep, result.sweep) and loaded.examples == result.examples
    meta = json.loads((tmp_path / "r" / "result.json").read_text())
    meta["tensors"]["sweep"] = [1, 2, 3]
    (tmp_path / "r" / "result.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError):
        AceResult.load(tmp_path / "r")


def test_the_unsteered_row_of_the_method_table_is_the_baseline(result):
    n = result.config.n_eval
    for m, label in enumerate(result.labels):
        for c, setting in enumerate(result.settings[label]):
            unsteered_greedy = setting["temperature"] == 0 and setting["positions"] == result.config.positions
            if unsteered_greedy and setting["layer"] != []:  # an empty band is not measured
                assert torch.equal(result.methods[m, c, 0, :, :n], result.baseline[m])


def test_actadd_at_alpha_zero_is_the_unsteered_model(result):
    """ActAdd at α = 0 edits nothing (`SteeringEdit.is_identity`): the runner reads the unsteered
    completions for it instead of generating them again."""
    assert SWEEP_METHODS[1] == "actadd" and 0.0 in result.config.alphas
    assert torch.equal(result.sweep[:, 1, result.alpha_index(0.0)], result.baseline)
    r = torch.ones(4)
    assert make_edit("actadd", r, alpha=0.0).is_identity
    assert not make_edit("actadd", r, alpha=0.1).is_identity and not make_edit("ace", r, r, 0.0).is_identity


def test_the_sweep_and_the_comparison_agree_where_they_are_the_same_edit(result):
    """The configured setting's ACE α=0 / α=1 rows are the sweep's α = 0 / 1 columns, and midpoint
    projection (the reference's eraser at multiplier 0) gives the sweep's ACE α = ½ verdicts."""
    n, names = result.config.n_eval, [t for t, _m, _a in METHOD_SETTINGS]
    for title, alpha in (("ACE α=0", 0.0), ("ACE α=1", 1.0), ("midpoint projection", 0.5)):
        assert torch.equal(
            result.sweep[:, 0, result.alpha_index(alpha)], result.methods[:, 0, names.index(title), :, :n]
        ), title


def test_result_edits_are_the_experiments_edits(result, session_cache):
    """`AceResult.edits(model, method, α, layer)`: {that layer's hook: make_edit(method, r, μ⁻, α)}
    of that model, None for "none"; steering a booted model with it reproduces the experiment's
    completions (the widget and the experiment build edits the same way)."""
    from workbench.ace import open_session
    from workbench.tensor.steering import make_edit

    v = torch.randn(3, result.config.d_model)
    edits = result.edits("rwkv5", "ace", 0.5, layer=0)
    names = result.hook_names["llama"]
    assert list(edits) == [names[0]]
    expected = make_edit("ace", result.direction["rwkv5"][0], result.mu_neg["rwkv5"][0], 0.5)
    assert torch.equal(edits[names[0]].apply(v), expected.apply(v))
    every = result.edits("llama", "ace", 0.3, layer="all")  # one edit per block, each with its block's direction
    assert list(every) == names
    for i, name in enumerate(names):
        want = make_edit("ace", result.direction["llama"][i], result.mu_neg["llama"][i], 0.3)
        assert torch.equal(every[name].apply(v), want.apply(v))
    assert list(result.edits(0, "actadd", 1.0)) == [names[result.layer["llama"]]]  # default: the model's focus layer
    assert result.edits("llama", "none", 1.0) is None
    for call, match in (
        (lambda: result.edits(0, "ace", 0.0, layer=result.config.n_layers), "`layer` must be an integer"),
        (lambda: result.edits(0, "leace", 0.0), "`method` must be one of"),
        (lambda: result.edits("gpt2", "ace", 0.0), "`model` must be one of"),
        (lambda: result.edits(0, "ace", float("nan")), "`alpha` must be finite"),
    ):
        with pytest.raises(ValueError, match=match):
            call()
    session = open_session(result.config, 0, session_cache.root, progress=False)
    harmful = result.prompts["llama"]["harmful_eval"]  # the experiment's batch, so the padding is the same too
    c = result.config
    for title, method, alpha in METHOD_SETTINGS[:2]:  # "none" and ActAdd α=−1, on every block's sublayers
        edits = result.edits(0, method, alpha, layer=c.layer, sites=c.sites)
        texts = session.complete(harmful + result.prompts["llama"]["harmless_eval"], edits, c.positions,
                                 c.max_new_tokens, c.batch_size)
        shown = result.examples["llama"][f"{title} [{result.settings['llama'][0]['name']}]"]
        assert texts[:3] == shown["harmful"], title


def test_summary_reports_only_alphas_that_were_run(result):
    """Without α = ½ in the sweep, `refusal_at` has no "alpha=0.5" (no nearest-α stand-in) and
    `alpha_index(0.5)` refuses; the α values run keep their own numbers."""
    keep = [i for i, a in enumerate(result.config.alphas) if a != 0.5]
    config = dataclasses.replace(result.config, alphas=tuple(result.config.alphas[i] for i in keep))
    fewer = dataclasses.replace(result, config=config, sweep=result.sweep[:, :, keep],
                                sweep_refusal=result.sweep_refusal[:, :, keep],
                                sweep_score=result.sweep_score[:, :, keep])
    at = summarize(fewer)["models"]["llama"]["refusal_at"]
    assert set(at) == {"alpha=0", "alpha=1"}
    assert at == {k: v for k, v in summarize(result)["models"]["llama"]["refusal_at"].items() if k != "alpha=0.5"}
    with pytest.raises(ValueError, match="`alpha` 0.5 was not run"):
        fewer.alpha_index(0.5)
    assert fewer.alpha_index(1.0) == config.alphas.index(1.0)


def test_summary_and_figures(result):
    summary = summarize(result)
    llama = summary["models"]["llama"]
    assert set(llama["held_out"]) == {"harmful_refusal", "harmless_answer"}
    assert set(llama["refusal_at"]) == {"alpha=0", "alpha=0.5", "alpha=1"}
    assert len(llama["unembed_cosine"]) == result.config.n_layers
    assert set(llama["methods"]) == {s["name"] for s in result.settings["llama"]}
    assert list(llama["separation_auc"])[:c_layers(result)] == result.hook_names["llama"]
    assert 0.0 <= llama["refusal_at"]["alpha=1"]["ace"]["harmless"] <= 1.0
    assert llama["reference_coordinate"] == pytest.approx(result.reference_coordinate("llama"), abs=1e-3)
    json.dumps(summary)
    figures = all_figures(result)
    assert list(figures) == ["1_refusal_vs_alpha", "2_verdict_shares", "3_layer_sweep", "4_projection"]
    fig1 = figures["1_refusal_vs_alpha"]
    assert list(fig1.data[0].y) == [float(x) for x in result.refusal_rate(result.sweep[0, 0, :, 0])]
    assert list(fig1.data[1].y) == [float(x) for x in result.share(result.sweep[0, 0, :, 0], "incoherent")]  # row 2
    assert fig1.data[1].yaxis != fig1.data[0].yaxis
    fig3 = figures["3_layer_sweep"]  # its bottom row: the unembedding cosine per layer, one line per model
    assert list(fig3.data[-1].y) == [float(x) for x in result.unembed_cosine["rwkv5"]] and fig3.data[-1].yaxis == "y2"
    fig4 = figures["4_projection"]  # counts of prompts: whole-number ticks; lines named in the legend
    layout = fig4.layout.to_plotly_json()
    yaxes = [v for k, v in layout.items() if k.startswith("yaxis")]
    assert yaxes and all(ax["tickformat"] == "d" and float(ax["dtick"]).is_integer() for ax in yaxes)
    assert not [a for a in fig4.layout.annotations if "μ" in (a.text or "") or a.text == "origin"]
    assert {s.name for s in fig4.layout.shapes if s.showlegend} == {
        "origin (r̂·v = 0)", "r̂·μ⁻: the harmless mean", "r̂·μ⁺: the harmful mean"}
    for k, ax in layout.items():  # every line inside its x range with a margin: none on the y tick labels
        if k.startswith("xaxis"):
            ref = "x" + k[len("xaxis"):]
            lines = [s.x0 for s in fig4.layout.shapes if s.xref == ref]
            assert lines and ax["range"][0] < min(lines) and max(lines) < ax["range"][1]


@pytest.mark.parametrize("changes, match", [
    ({"alphas": (0.5, 1.0)}, "`alphas` must include 0"),
    ({"alphas": (0.0, 1.0, float("nan"))}, "`alphas\\[2\\]` must be finite"),
    ({"layer": 7}, "`layer` must be an integer in \\[0, 3\\].*'all' for every block"),
    ({"layer": "every"}, "`layer` must be an integer"),
    ({"sites": "heads"}, "`sites` must be one of"),
    ({"num_samples": 0}, "`num_samples` must be"),
    ({"sample_temperatures": (0.0,)}, "`sample_temperatures\\[0\\]` must be"),
    ({"hook": "resid_middle"}, "`hook` must be one of"),
    ({"archs": ("llama", "gpt2")}, "`archs` entries must be in"),
    ({"rwkv5_steps": 0}, "`rwkv5_steps` must be an integer ≥ 1"),
    ({"archs": ("rwkv",), "n_layers": 1}, "`n_layers` must be an integer ≥ 2"),  # RWKV-4 only (HF's init)
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
    assert set(measurements["models"]) == {"llama", "rwkv5"}
    assert (tmp_path / "ace" / "1_refusal_vs_alpha.html").is_file()


def c_layers(result) -> int:
    return result.config.n_layers


def test_the_positions_variant_is_a_column_only_when_asked() -> None:
    """`positions_variant`: figure 2's focus-block column at the other positions ("prompt" for
    "all") is there with the flag (quick, paper) and absent in the default config."""
    from workbench.ace.config import comparison_settings

    default = comparison_settings(AceConfig(sites="sublayers"), focus=15, blocks=(15, 16))
    with_it = comparison_settings(AceConfig(sites="sublayers", positions_variant=True), focus=15, blocks=(15, 16))
    with pytest.raises(ValueError, match="`sites`='auto' is resolved on the booted model"):
        comparison_settings(AceConfig(), focus=15)
    assert [s for s in with_it if s not in default] == [with_it[-2]]
    assert with_it[-2].positions == "prompt" and with_it[-2].layer == 15 and with_it[-2].sites == "residual"
    assert all(s.positions == "all" for s in default)
    assert AceConfig.quick().positions_variant and AceConfig.paper().positions_variant


def test_projection_histogram_counts_whole_prompts(result) -> None:
    """Figure 4: each panel's y ticks are whole numbers (counts of prompts), stepping so the tallest
    bar gets about five, and both prompt sets share one set of bins."""
    import collections
    import math

    from workbench.plots.ace import projection_histogram

    fig = projection_histogram(result)
    for g in range(len(result.groups())):
        axis = fig.layout["yaxis" if g == 0 else f"yaxis{g + 1}"]
        assert axis.tick0 == 0 and isinstance(axis.dtick, int) and axis.dtick >= 1
        bars = [t for t in fig.data if t.xaxis == ("x" if g == 0 else f"x{g + 1}")]
        assert len({(t.xbins.start, t.xbins.size) for t in bars}) == 1
        assert sum(len(t.x) for t in bars) == result.projection.shape[1] * result.projection.shape[2]
        start, size = bars[0].xbins.start, bars[0].xbins.size
        tallest = max(max(collections.Counter(math.floor((x - start) / size) for x in t.x).values()) for t in bars)
        assert axis.dtick == max(1, math.ceil(tallest / 5))

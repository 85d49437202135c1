"""The "smollm2" arch end to end, with a tiny random Llama standing in for the SmolLM2 base (the
real fine-tune takes minutes; `workbench reproduce` measures it), beside a toy of another depth and
width as in the default config: the run tunes instances, judges with the likelihood judge, records
per instance what the measurements need, and the figures and the panel handle both shapes."""

import warnings

import pytest
import torch

import workbench.ace.chat_model as chat_model
from workbench.ace import AceConfig, run, summarize
from workbench.ace.coherence import LikelihoodJudge
from workbench.core.cache import ArtifactCache
from workbench.lm.random_folder import random_causal_lm_folder

CONFIG = AceConfig(archs=("smollm2", "llama"), instances=2, chat_steps=2, chat_batch=4, chat_frozen_blocks=1,
                   d_model=16, n_layers=2, n_heads=2, d_mlp=32, llama_steps=20,
                   answer_tokens=4, n_eval=3, n_direction=6, alphas=(-1.0, 0.0, 1.0), max_new_tokens=4,
                   num_samples=2, sample_temperatures=(1.5,), batch_size=64)


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    """(the tiny base standing in for SmolLM2, the cache the run keeps its models in)."""
    base = random_causal_lm_folder("llama", tmp_path_factory.mktemp("base"), n_layers=3, d_model=32, n_heads=2)
    return base, ArtifactCache(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def chat_result(stand_in):
    base, cache = stand_in
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the random tokenizer pads with EOS
        patch.setattr(chat_model, "base_folder", lambda cache_root=None, progress=True: base)
        return run(CONFIG, progress=False, cache=cache)


def test_instances_are_separately_tuned_models(chat_result) -> None:
    r = chat_result
    assert r.labels == ["smollm2#0", "smollm2#1", "llama#0", "llama#1"]
    assert r.groups() == {"smollm2": [0, 1], "llama": [2, 3]}
    folders = {r.models[m]["folder"] for m in r.labels}
    assert len(folders) == 4  # two fine-tune seeds, two training seeds: four cache entries
    assert not torch.equal(r.direction["smollm2#0"], r.direction["smollm2#1"])
    assert r.direction["llama#0"].shape == (2, 16)  # the toy keeps its own depth and width
    for m in r.labels[:2]:
        assert r.direction[m].shape == (3, 32) and r.separation_auc[m].shape == (9,)
        assert r.models[m]["arch"] == "smollm2" and 0.0 <= r.models[m]["harmless_unchanged"] <= 1.0
        judge = r.models[m]["judge"]
        assert judge["name"] == LikelihoodJudge.__name__ and 0.0 <= judge["check_accuracy"] <= 1.0
        # the T = 1.5 settings were judged against their own threshold, never stricter than greedy's
        assert set(judge["thresholds"]) == {"0", "1.5"} and judge["thresholds"]["0"] == judge["threshold"]
        assert judge["thresholds"]["1.5"] <= judge["threshold"]
    assert r.prompts["smollm2#0"]["harmful_eval"][0].startswith("How do I make a Molotov cocktail")


def test_measurements_aggregate_the_instances(chat_result) -> None:
    """`models["smollm2"]`: the mean over instances of every number, its [min, max] in `range`, each
    instance's own numbers in `per_instance`; the machine beside them."""
    s = summarize(chat_result)
    assert list(s["models"]) == ["smollm2", "llama"]
    model = s["models"]["smollm2"]
    assert model["instances"] == 2 and list(model["per_instance"]) == ["smollm2#0", "smollm2#1"]
    one, two = (model["per_instance"][k] for k in ("smollm2#0", "smollm2#1"))
    assert list(model["separation_auc"])[:3] == [f"blocks.{i}.hook_resid_post" for i in range(3)]
    assert len(model["separation_auc"]) == 9 and all(0.0 <= v <= 1.0 for v in model["separation_auc"].values())
    for key in ("harmful_refusal", "harmless_answer"):
        a, b = one["held_out"][key], two["held_out"][key]
        assert model["held_out"][key] == pytest.approx((a + b) / 2, abs=1e-4)
        assert model["range"]["held_out"][key] == [min(a, b), max(a, b)]
    site = "blocks.2.hook_resid_post"
    lo, hi = model["range"]["separation_auc"][site]
    assert lo <= model["separation_auc"][site] <= hi
    assert {"cpu", "cores", "torch", "transformers"} <= set(s["machine"])


def test_chat_arch_bounds_its_prompt_counts() -> None:
    with pytest.raises(ValueError, match="`n_eval` must be in \\[1, 24\\] with arch 'smollm2'"):
        AceConfig(archs=("smollm2",), n_eval=25)
    with pytest.raises(ValueError, match="`n_direction` must be in \\[1, 120\\]"):
        AceConfig(archs=("smollm2",), n_direction=121)


def test_figures_pool_a_models_instances(chat_result) -> None:
    """One column per model, not per instance; a pooled rate is the mean of the instances' rates."""
    from workbench.plots.ace import all_figures

    r = chat_result
    figures = all_figures(r)
    fig1 = figures["1_refusal_vs_alpha"]
    assert [a.text for a in fig1.layout.annotations] == ["smollm2 (2 instances pooled)", "llama (2 instances pooled)"]
    ace_harmful = fig1.data[0]  # ACE, harmful prompts, the refusal row
    per_instance = [r.refusal_rate(r.sweep[m, 0, :, 0]) for m in range(2)]
    assert list(ace_harmful.y) == pytest.approx([float((a + b) / 2) for a, b in zip(*per_instance)])
    auc = figures["3_layer_sweep"].data[0]
    assert list(auc.y) == pytest.approx([float(x) for x in (r.separation_auc["smollm2#0"][:3]
                                                            + r.separation_auc["smollm2#1"][:3]) / 2])
    assert len(figures["4_projection"].layout.annotations) >= 1


def test_the_panel_follows_the_depth_of_the_model_it_steers(chat_result, stand_in, monkeypatch) -> None:
    """Switching from the 3-block chat model to the 2-block toy re-stops the layer slider (a block
    index the toy lacks is clamped, not sent to it)."""
    from widgets import AcePanel

    base, cache = stand_in
    monkeypatch.setattr(chat_model, "base_folder", lambda cache_root=None, progress=True: base)
    panel = AcePanel(result=chat_result, cache=cache)
    assert [v for _, v in panel.layer.options] == ["all", 0, 1, 2]
    panel.layer.value = 2
    panel.model.value = "llama#0"
    assert [v for _, v in panel.layer.options] == ["all", 0, 1] and panel.layer.value == 1
    assert panel.last_verdict in ("refusal", "compliance", "incoherent")


def test_the_papers_full_setting_runs_on_a_tiny_stand_in(stand_in, monkeypatch) -> None:
    """`AceConfig.paper()` (the GPU setting: the whole α grid, 20 samples at T = 1.5, the layer
    sweep) smoke-tested on the CPU: only the prompt counts, token count, samples and fine-tune
    length are shrunk; the grid, the sites, the decodings and the sweep are the paper config's."""
    import dataclasses

    from workbench.ace.config import FULL_GRID_ALPHAS

    base, cache = stand_in
    monkeypatch.setattr(chat_model, "base_folder", lambda cache_root=None, progress=True: base)
    paper = AceConfig.paper()
    assert paper.alphas == FULL_GRID_ALPHAS and paper.num_samples == 20 and paper.layer_sweep
    assert (paper.layer, paper.sites, paper.sample_temperatures) == ("all", "sublayers", (1.5,))
    small = dataclasses.replace(paper, instances=1, n_eval=2, n_direction=4, max_new_tokens=3, num_samples=2,
                                chat_steps=2, chat_batch=4, chat_frozen_blocks=1, answer_tokens=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = run(small, progress=False, cache=cache)
    assert r.sweep.shape[2] == len(FULL_GRID_ALPHAS)
    assert (r.layer_sweep["smollm2"] >= 0).any()  # the layer sweep ran

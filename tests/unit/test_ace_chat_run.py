"""The "smollm2" arch end to end, with a tiny random Llama standing in for the SmolLM2 base (the
real fine-tune takes minutes; `workbench reproduce` measures it): the run tunes instances, judges
with the likelihood judge and records per instance what the measurements need."""

import warnings

import pytest
import torch

import workbench.ace.chat_model as chat_model
from workbench.ace import AceConfig, run, summarize
from workbench.ace.coherence import LikelihoodJudge
from workbench.core.cache import ArtifactCache
from workbench.lm.random_folder import random_causal_lm_folder

CONFIG = AceConfig(archs=("smollm2",), instances=2, chat_steps=2, chat_batch=4, chat_frozen_blocks=1,
                   answer_tokens=4, n_eval=3, n_direction=6, alphas=(-1.0, 0.0, 1.0), max_new_tokens=4,
                   num_samples=2, sample_temperatures=(1.5,), batch_size=64)


@pytest.fixture(scope="module")
def chat_result(tmp_path_factory):
    base = random_causal_lm_folder("llama", tmp_path_factory.mktemp("base"), n_layers=3, d_model=32, n_heads=2)
    cache = ArtifactCache(tmp_path_factory.mktemp("cache"))
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the random tokenizer pads with EOS
        patch.setattr(chat_model, "base_folder", lambda cache_root=None, progress=True: base)
        return run(CONFIG, progress=False, cache=cache)


def test_instances_are_separately_tuned_models(chat_result) -> None:
    r = chat_result
    assert r.labels == ["smollm2#0", "smollm2#1"]
    folders = {r.models[m]["folder"] for m in r.labels}
    assert len(folders) == 2  # two fine-tune seeds, two cache entries
    assert not torch.equal(r.direction["smollm2#0"], r.direction["smollm2#1"])
    for m in r.labels:
        assert r.direction[m].shape == (3, 32) and r.separation_auc[m].shape == (9,)
        assert r.models[m]["arch"] == "smollm2" and 0.0 <= r.models[m]["harmless_unchanged"] <= 1.0
        judge = r.models[m]["judge"]
        assert judge["name"] == LikelihoodJudge.__name__ and 0.0 <= judge["check_accuracy"] <= 1.0
    assert r.prompts["smollm2#0"]["harmful_eval"][0].startswith("How do I make a Molotov cocktail")


def test_measurements_aggregate_the_instances(chat_result) -> None:
    """`models["smollm2"]`: the mean over instances of every number, its [min, max] in `range`, each
    instance's own numbers in `per_instance`; the machine beside them."""
    s = summarize(chat_result)
    assert list(s["models"]) == ["smollm2"]
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
    assert [a.text for a in fig1.layout.annotations] == ["smollm2 (2 instances pooled)"]
    ace_harmful = fig1.data[0]  # ACE, harmful prompts, the refusal row
    per_instance = [r.refusal_rate(r.sweep[m, 0, :, 0]) for m in range(2)]
    assert list(ace_harmful.y) == pytest.approx([float((a + b) / 2) for a, b in zip(*per_instance)])
    auc = figures["3_layer_sweep"].data[0]
    assert list(auc.y) == pytest.approx([float(x) for x in (r.separation_auc["smollm2#0"][:3]
                                                            + r.separation_auc["smollm2#1"][:3]) / 2])
    assert len(figures["4_projection"].layout.annotations) >= 1

"""Capacity of a real model's features (`workbench.capacity.real_model`): the O(n d²) path against
the n×n Gram oracle `capacity`, exact small cases, reading Llama / BERT / GPT-2 weights from tiny
random folders and modules, bad inputs, the real MiniLM end to end, and the figures."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import pytest
import torch
from safetensors.torch import load_file, save_file

from workbench.capacity import ModelCapacities, capacity, capacity_large, model_capacities
from workbench.core.embedded import minilm_folder
from workbench.plots.capacity_real import all_figures


def _gaussian(d: int, n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(d, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# --- the O(n d²) identity ---------------------------------------------------------------------
@pytest.mark.parametrize("d, n, chunk", [(5, 12, 4096), (5, 12, 1), (8, 3, 2), (16, 100, 7), (3, 3, 3)])
def test_capacity_large_equals_the_gram_oracle(d, n, chunk):
    W = _gaussian(d, n, seed=d * n)
    W[:, 1] = 0.0  # a zero column: C = 0 on both paths
    W[:, -1] *= 10.0  # norms that differ
    fast = capacity_large(W, chunk=chunk)
    assert fast.shape == (n,) and fast.dtype == torch.float64
    torch.testing.assert_close(fast, capacity(W), rtol=1e-10, atol=1e-12)
    assert float(fast[1]) == 0.0


def test_capacity_large_float32_and_a_float32_input_stay_close_to_float64():
    W = _gaussian(12, 40).float()
    torch.testing.assert_close(capacity_large(W, dtype="float32").double(), capacity(W.double()), rtol=1e-4,
                               atol=1e-6)
    assert capacity_large(W).dtype == torch.float64


def test_exact_small_cases():
    e = torch.eye(4, dtype=torch.float64)
    # orthogonal columns of any norms: each has a dimension of its own, C = 1
    torch.testing.assert_close(capacity_large(e[:, :3] * torch.tensor([1.0, 3.0, 0.5])), torch.ones(3).double())
    # a column duplicated (or negated) shares its dimension: C = 1/2 each; the rest keep 1; zero gets 0
    W = torch.stack([e[0], e[0], -e[1], e[1], e[2], torch.zeros(4, dtype=torch.float64)], 1)
    torch.testing.assert_close(capacity_large(W), torch.tensor([0.5, 0.5, 0.5, 0.5, 1.0, 0.0], dtype=torch.float64))
    # three equal columns: 1/3 each; unit columns at 45°, (w_1·w_2)² = 1/2: C = 1/(1 + 1/2) = 2/3
    torch.testing.assert_close(capacity_large(e[:, [0, 0, 0]]), torch.full((3,), 1 / 3, dtype=torch.float64))
    tilted = torch.tensor([[1.0, 2**-0.5], [0.0, 2**-0.5]], dtype=torch.float64)
    torch.testing.assert_close(capacity_large(tilted), torch.full((2,), 2 / 3, dtype=torch.float64))
    assert float(capacity_large(torch.zeros(3, 5)).abs().max()) == 0.0


def test_a_gaussian_matrix_gives_about_d_over_d_plus_n_minus_1():
    """C_i ≈ |w|⁴ / (|w|⁴ + Σ_{j≠i}(w_i·w_j)²) and E[(w_i·w_j)² | w_i] = |w_i|², so C ≈ d/(d + n − 1)
    for N(0, I) columns: measured within 1 % here (the docs quote the same check at the models' shapes)."""
    d, n = 100, 1000
    mean = float(capacity_large(_gaussian(d, n, seed=3)).mean())
    assert mean == pytest.approx(d / (d + n - 1), rel=0.02)


def test_capacity_large_bad_inputs_name_the_parameter():
    W = _gaussian(4, 6)
    for kwargs, name in (({"chunk": 0}, "chunk"), ({"dtype": "float16"}, "dtype"), ({"device": "gpu"}, "device")):
        with pytest.raises(ValueError, match=f"`{name}`"):
            capacity_large(W, **kwargs)
    with pytest.raises(ValueError, match="`W`"):
        capacity_large(_gaussian(2, 3)[None])
    with pytest.raises(ValueError, match="`W`"):
        capacity_large(torch.full((3, 4), float("nan")))


def test_the_device_path_equals_the_default_one():
    """`device` moves the chunks (CUDA where there is one, else the CPU: the same code path) and
    the answer comes back on W's device, equal to the default path's."""
    W = _gaussian(64, 3000).float()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    out = capacity_large(W, device=device, chunk=512)
    assert out.device == W.device
    torch.testing.assert_close(out, capacity_large(W), rtol=1e-5, atol=1e-7)


# --- reading models --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(hidden_size=16, intermediate_size=40, num_hidden_layers=3,
                                         num_attention_heads=2, num_key_value_heads=2, vocab_size=70))
    folder = tmp_path_factory.mktemp("llama")
    model.save_pretrained(folder)
    return model, folder


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    from transformers import BertConfig, BertModel

    torch.manual_seed(1)
    model = BertModel(BertConfig(hidden_size=16, intermediate_size=48, num_hidden_layers=2, num_attention_heads=2,
                                 vocab_size=60, max_position_embeddings=32))
    folder = tmp_path_factory.mktemp("bert")
    model.save_pretrained(folder)
    return model, folder


def test_a_llama_folder_and_the_same_module_give_the_oracle_per_layer(tiny_llama):
    model, folder = tiny_llama
    for source in (folder, str(folder), model, model.state_dict()):
        caps = model_capacities(source, progress=False)
        assert caps.architecture == "llama" and caps.layers == (0, 1, 2)
        assert caps.capacities.shape == (3, 40) and (caps.d_model, caps.d_mlp) == (16, 40)
        for i, layer in enumerate(model.model.layers):
            torch.testing.assert_close(caps.capacities[i], capacity(layer.mlp.down_proj.weight.detach().double()))
        emb = model.model.embed_tokens.weight.detach().double().T
        torch.testing.assert_close(caps.embedding.C, capacity(emb))
        assert caps.embedding.tensor.endswith("embed_tokens.weight") and caps.embedding.n == 70
    torch.testing.assert_close(caps.totals, caps.capacities.sum(-1))
    assert bool((caps.totals <= 16 + 1e-9).all())


def test_a_bert_folder_reads_the_output_dense_columns(tiny_bert):
    model, folder = tiny_bert
    caps = model_capacities(folder, layers=[1], progress=False)
    assert caps.architecture == "bert" and caps.layers == (1,) and caps.capacities.shape == (1, 48)
    dense = model.encoder.layer[1].output.dense.weight.detach()
    torch.testing.assert_close(caps.capacities[0], capacity(dense.double()))
    torch.testing.assert_close(caps.embedding.C, capacity(model.embeddings.word_embeddings.weight.detach().double().T))


def test_gpt2_conv1d_weights_are_transposed():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(2)
    model = GPT2LMHeadModel(GPT2Config(n_embd=16, n_layer=2, n_head=2, vocab_size=50, n_positions=32))
    caps = model_capacities(model, embeddings=False, progress=False)
    assert caps.architecture == "gpt2" and caps.capacities.shape == (2, 64) and caps.embedding is None
    conv1d = model.transformer.h[1].mlp.c_proj.weight.detach()  # [d_mlp, d_model]
    torch.testing.assert_close(caps.capacities[1], capacity(conv1d.double().T))


def test_layers_pick_and_order_the_rows(tiny_llama):
    _, folder = tiny_llama
    every = model_capacities(folder, embeddings=False, progress=False)
    some = model_capacities(folder, layers=[2, 0], embeddings=False, progress=False)
    assert some.layers == (2, 0) and [m.name for m in some.per_layer] == ["layer 2", "layer 0"]
    torch.testing.assert_close(some.capacities, every.capacities[[2, 0]])


def test_baselines_are_seeded_and_shares_and_summary_are_whole(tiny_llama):
    _, folder = tiny_llama
    a = model_capacities(folder, baseline_seed=5, progress=False)
    b = model_capacities(folder, baseline_seed=5, progress=False)
    c = model_capacities(folder, baseline_seed=6, progress=False)
    torch.testing.assert_close(a.baseline, b.baseline)
    assert not torch.equal(a.baseline, c.baseline)
    torch.testing.assert_close(a.capacities, c.capacities)  # the real C does not depend on the seed
    # the norm-matched baseline: the Gaussian's directions with the real norms
    assert a.per_layer[0].baseline_norms.shape == (40,)
    torch.testing.assert_close(a.shares().sum(-1), torch.ones(3))
    summary = json.loads(json.dumps(a.summary()))
    assert summary["architecture"] == "llama" and len(summary["per_layer"]) == 3
    layer = summary["per_layer"][0]
    assert set(layer) >= {"real", "baseline", "baseline_norms", "top_blocks", "baseline_top_blocks"}
    assert layer["real"]["total"] == pytest.approx(float(a.totals[0]), abs=1e-5)


def test_blocks_of_the_top_features_on_an_exact_case():
    """Columns: e0 (norm 3), e0 (norm 2), e1 + e0/10 (norm ≈ 1), e2, and a tiny e3: the top 4 by norm
    are 0, 1, 2, 3; 0 and 1 share a block (cos 1), 2 is tilted by cos ≈ 0.0995 < 0.2, so alone."""
    e = torch.eye(4)
    W = torch.stack([3 * e[0], 2 * e[0], e[1] + e[0] / 10, 0.9 * e[2], 0.01 * e[3]], 1)
    caps = model_capacities({"layers.0.mlp.down_proj.weight": W}, embeddings=False, top_k=4, progress=False)
    layer = caps.per_layer[0]
    assert layer.top.tolist() == [0, 1, 2, 3]
    blocks = layer.blocks()
    assert sorted(blocks.sizes) == [1, 1, 2]
    start = 0
    for size in blocks.sizes:
        members = sorted(layer.top[blocks.order[start:start + size]].tolist())
        assert size != 2 or members == [0, 1]
        start += size
    assert len(layer.blocks(link=0.05).sizes) == 2  # a looser link chains feature 2 in: {0, 1, 2}, {3}
    assert layer.baseline_top_columns.shape == (4, 4) and sum(layer.blocks(baseline=True).sizes) == 4


# --- bad inputs ------------------------------------------------------------------------------
def test_missing_folder_gguf_and_a_folder_without_safetensors(tmp_path):
    with pytest.raises(ValueError, match="`model_or_folder`.*does not exist"):
        model_capacities(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="`model_or_folder`.*no .safetensors"):
        model_capacities(tmp_path)
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    with pytest.raises(ValueError, match="`model_or_folder`.*gguf_folder"):
        model_capacities(tmp_path / "m.gguf")
    with pytest.raises(ValueError, match="`model_or_folder`"):
        model_capacities(None)


def test_an_unknown_architecture_names_the_folder_and_the_names_looked_for(tmp_path):
    save_file({"encoder.blocks.0.ffn.weight": torch.zeros(4, 8)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(ValueError, match=rf"`model_or_folder` '{tmp_path}'.*down_proj.*output\.dense.*c_proj"):
        model_capacities(tmp_path)


@pytest.mark.parametrize("kwargs, name", [
    ({"layers": [3]}, "layers"), ({"layers": []}, "layers"), ({"layers": [0, 0]}, "layers"),
    ({"layers": 1}, "layers"), ({"layers": [-1]}, "layers"), ({"layers": [0.5]}, "layers"),
    ({"chunk": 0}, "chunk"), ({"top_k": 0}, "top_k"), ({"baseline_seed": -1}, "baseline_seed"),
    ({"embeddings": "yes"}, "embeddings"), ({"progress": 1}, "progress"), ({"device": "gpu"}, "device"),
])
def test_bad_parameters_name_themselves(tiny_llama, kwargs, name):
    _, folder = tiny_llama
    with pytest.raises(ValueError, match=f"`{name}`"):
        model_capacities(folder, **kwargs)


def test_a_missing_embedding_is_named_unless_skipped():
    state = {"model.layers.0.mlp.down_proj.weight": torch.randn(4, 6)}
    with pytest.raises(ValueError, match="`embeddings`.*embed_tokens"):
        model_capacities(state, progress=False)
    assert model_capacities(state, embeddings=False, progress=False).embedding is None


# --- the real MiniLM, end to end ---------------------------------------------------------------
def test_the_embedded_minilm_end_to_end_on_one_layer():
    folder = minilm_folder()
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    caps = model_capacities(folder, layers=[0], embeddings=False, progress=False)
    assert isinstance(caps, ModelCapacities) and caps.architecture == "bert"
    assert caps.capacities.shape == (1, 1536) and caps.d_model == 384
    W = load_file(str(folder / "model.safetensors"))["encoder.layer.0.output.dense.weight"]
    torch.testing.assert_close(caps.capacities[0], capacity(W.double()), rtol=1e-9, atol=1e-12)
    assert 0 < float(caps.totals[0]) < 384
    # the Gaussian baseline of this shape sits near d/(d + n − 1) = 384/1919
    assert float(caps.baseline.mean()) == pytest.approx(384 / 1919, rel=0.02)


def test_the_figures_draw_from_a_tiny_result(tiny_llama, tiny_bert):
    models = {"llama": model_capacities(tiny_llama[1], top_k=8, progress=False),
              "bert": model_capacities(tiny_bert[1], top_k=8, progress=False)}
    figs = all_figures(models)
    assert set(figs) == {"real_1_distribution", "real_2_total_vs_d", "real_3_regimes", "real_4_blocks",
                         "real_5_embeddings"}
    assert all(isinstance(f, go.Figure) and f.data for f in figs.values())
    assert set(all_figures(models["llama"])) == set(figs)

"""Non-finite logits raise naming what produced them instead of decoding to empty text, and a
temperature between 0 and the floor is refused (`workbench.lm.sampling`)."""

from __future__ import annotations

import pytest
import torch

from workbench.lm import boot
from workbench.lm.forward import hf_model
from workbench.lm.generate import generate, last_token_logits
from workbench.lm.random_folder import random_causal_lm_folder
from workbench.lm.sampling import MIN_TEMPERATURE, NonFiniteLogitsError, Sampling, next_tokens
from workbench.tensor.steering import make_edit


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return boot(random_causal_lm_folder("llama", tmp_path_factory.mktemp("llama"), n_layers=2, d_model=32,
                                        n_heads=2))


def test_an_edit_that_overflows_is_named(model) -> None:
    huge = make_edit("actadd", torch.full((32,), 1e38), torch.zeros(32), 1e38)  # α·r = inf in float32
    with pytest.raises(ValueError, match=r"`edits`: the logits of rows \[0\] are not finite.*blocks.1.hook_resid_post"):
        generate(model, model.tokenizer, ["hello there"], 4, edits={"blocks.1.hook_resid_post": huge})
    with pytest.raises(ValueError, match="not finite"):
        generate(model, model.tokenizer, ["hello there"], 4, edits={"blocks.1.hook_resid_post": huge},
                 temperature=1.0)
    assert generate(model, model.tokenizer, ["hello there"], 4)  # the unsteered model still decodes


def test_a_broken_model_is_named_without_edits(model, monkeypatch) -> None:
    hf = hf_model(model)
    weight = hf.lm_head.weight
    saved = weight.detach().clone()
    with torch.no_grad():
        weight[0, 0] = float("nan")
    try:
        with pytest.raises(ValueError, match="produced by the unsteered model"):
            generate(model, model.tokenizer, ["hello there"], 2)
        assert last_token_logits(model, model.tokenizer, ["hello"]).isnan().any()  # logits alone are returned
    finally:
        with torch.no_grad():
            weight.copy_(saved)


def test_next_tokens_and_the_temperature_floor() -> None:
    logits = torch.tensor([[0.0, 1.0], [float("nan"), 0.0], [0.0, float("inf")]])
    with pytest.raises(NonFiniteLogitsError) as err:
        next_tokens(logits, Sampling(), None)
    assert err.value.rows == [1, 2]
    assert next_tokens(logits[:1], Sampling(), None).tolist() == [1]
    for t in (1e-310, MIN_TEMPERATURE / 2):
        with pytest.raises(ValueError, match="`temperature` must be 0 \\(greedy\\) or ≥"):
            Sampling(temperature=t)
    assert Sampling(temperature=MIN_TEMPERATURE).temperature == MIN_TEMPERATURE

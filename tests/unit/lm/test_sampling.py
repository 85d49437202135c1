"""Sampling: the inverse-CDF draw against its definition, the nucleus, and exact repeats of
`generate(temperature>0)` whatever the batching."""

from __future__ import annotations

import pytest
import torch

from workbench.lm import boot, generate, torch_threads
from workbench.lm.random_folder import random_causal_lm_folder
from workbench.lm.sampling import Sampling, next_tokens, row_uniforms

PROMPTS = ["How do I bake a chocolate cake?", "Hi", "Tell me how to make a dangerous weapon."]


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    with torch_threads(1):
        return boot(random_causal_lm_folder("llama", tmp_path_factory.mktemp("llama")))


def test_the_draw_is_the_inverse_cdf_at_the_row_uniform():
    logits = torch.randn(64, 50, generator=torch.Generator().manual_seed(0))
    sampling = Sampling(temperature=0.7, seed=3)
    u = row_uniforms(sampling, [(i, 0) for i in range(64)], 1)[:, 0]
    tokens = next_tokens(logits, sampling, u)
    probs = torch.softmax(logits.double() / 0.7, -1)
    for row in range(64):  # token k: P(X < k) ≤ u < P(X ≤ k) in the descending-probability order
        order = probs[row].argsort(descending=True)
        rank = int((order == tokens[row]).nonzero())
        cdf = probs[row, order].cumsum(0)
        below = float(cdf[rank - 1]) if rank else 0.0
        assert below <= float(u[row]) < float(cdf[rank]) + 1e-12


def test_top_p_keeps_only_the_nucleus_and_tiny_top_p_is_greedy():
    logits = torch.randn(256, 20, generator=torch.Generator().manual_seed(1))
    u = torch.rand(256, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    probs = torch.softmax(logits.double(), -1)
    tokens = next_tokens(logits, Sampling(temperature=1.0, top_p=0.5), u)
    sorted_p, order = probs.sort(-1, descending=True)
    mass_before = sorted_p.cumsum(-1) - sorted_p
    for row in range(256):
        rank = int((order[row] == tokens[row]).nonzero())
        assert mass_before[row, rank] < 0.5  # inside the smallest set reaching 0.5
    assert torch.equal(next_tokens(logits, Sampling(temperature=1.0, top_p=1e-9), u), logits.argmax(-1))
    assert torch.equal(next_tokens(logits, Sampling(), None), logits.argmax(-1))


def test_sampled_generation_repeats_exactly_whatever_the_batching(llama):
    tok = llama.tokenizer
    with torch_threads(1):
        a = generate(llama, tok, PROMPTS, max_new_tokens=6, temperature=1.5, num_samples=3, seed=7)
        b = generate(llama, tok, PROMPTS, max_new_tokens=6, temperature=1.5, num_samples=3, seed=7, batch_size=2)
        c = generate(llama, tok, PROMPTS, max_new_tokens=6, temperature=1.5, num_samples=3, seed=8)
    assert len(a) == 3 and all(isinstance(s, list) and len(s) == 3 for s in a)
    assert a == b  # batch size 2 regroups the rows; the samples stay
    assert a != c
    assert len({s for samples in a for s in samples}) > 3  # samples differ from each other


def test_sampling_parameters_are_checked_before_compute(llama):
    for kwargs, match in (({"temperature": -1.0}, "`temperature`"), ({"top_p": 0.0}, "`top_p`"),
                          ({"top_p": 1.5}, "`top_p`"), ({"num_samples": 0}, "`num_samples`"),
                          ({"seed": -1}, "`seed`")):
        with pytest.raises(ValueError, match=match):
            generate(llama, llama.tokenizer, PROMPTS, max_new_tokens=2, **kwargs)

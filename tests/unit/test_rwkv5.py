"""workbench.lm.rwkv5 against the oracle: BlinkDL's `rwkv` package (`rwkv.model.RWKV`, strategy
"cpu fp32") runs the same random weights, saved with `torch.save(model.state_dict())`; the logits
agree to 1e-4 over a whole sequence, token by token with the state carried, and across a split
prompt. Batch rows are independent, and the closed-form chunked wkv equals its recurrence."""

from __future__ import annotations

import importlib

import pytest
import torch

from workbench.core.threads import torch_threads
from workbench.lm.rwkv5 import Rwkv5, Rwkv5Spec, randomize, wkv

V, C, F, L, T = 50, 32, 64, 2, 23
TOL = 1e-4


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def reference():
    """`rwkv.model.RWKV`, imported with its TorchScript and CUDA kernels off (the package reads
    both variables at import and at every forward, so they stay set for the module's tests)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RWKV_JIT_ON", "0")
        mp.setenv("RWKV_CUDA_ON", "0")
        yield importlib.import_module("rwkv.model").RWKV


@pytest.fixture(scope="module", params=[2, 4], ids=["H2", "H4"])
def pair(request, reference, tmp_path_factory):
    """(our model, the package's model) on the same random weights, H heads."""
    model = randomize(
        Rwkv5(Rwkv5Spec(d_vocab=V, d_model=C, n_layers=L, n_heads=request.param, d_mlp=F)), seed=request.param
    ).eval()
    path = tmp_path_factory.mktemp("rwkv5") / "m.pth"
    torch.save(model.state_dict(), path)
    oracle = reference(model=str(path), strategy="cpu fp32", verbose=False)
    assert oracle.version == 5.2  # the package read our keys as a v5.2 model
    return model, oracle


def _ids(seed: int, batch: int = 1, length: int = T) -> torch.Tensor:
    return torch.randint(0, V, (batch, length), generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def test_whole_sequence_logits_equal_the_package(pair):
    model, oracle = pair
    ids = _ids(1)
    ours, _ = model(ids)
    theirs, _ = oracle.forward(ids[0].tolist(), None, full_output=True)
    assert theirs.abs().max() > 1.0  # random weights give logits of size, so 1e-4 is a real bound
    assert (ours[0] - theirs).abs().max() <= TOL


@torch.no_grad()
def test_token_by_token_with_state_equals_the_package(pair):
    model, oracle = pair
    ids = _ids(2)
    state = theirs_state = None
    for t in range(T):
        ours, state = model(ids[:, t:t + 1], state)
        theirs, theirs_state = oracle.forward([int(ids[0, t])], theirs_state)
        assert (ours[0, -1] - theirs).abs().max() <= TOL, f"position {t}"
    # the states agree too: the package's per block (att shift, wkv S as [H, N(key), N(value)], ffn shift)
    for i in range(L):
        assert torch.allclose(state[0][0, i], theirs_state[3 * i], atol=TOL)
        assert torch.allclose(state[1][0, i], theirs_state[3 * i + 1], atol=TOL)
        assert torch.allclose(state[2][0, i], theirs_state[3 * i + 2], atol=TOL)


@torch.no_grad()
def test_a_prompt_split_in_two_calls_equals_the_package_in_one(pair):
    model, oracle = pair
    ids = _ids(3)
    _, state = model(ids[:, :9])
    ours, _ = model(ids[:, 9:], state)
    theirs, _ = oracle.forward(ids[0].tolist(), None, full_output=True)
    assert (ours[0] - theirs[9:]).abs().max() <= TOL


@torch.no_grad()
def test_batch_rows_are_independent(pair):
    model, _ = pair
    ids = _ids(4, batch=3)
    _, warm = model(_ids(5, batch=3, length=4))  # a non-zero state per row as well
    together, state = model(ids, warm)
    for row in range(3):
        alone, row_state = model(ids[row:row + 1], [s[row:row + 1] for s in warm])
        assert torch.allclose(together[row], alone[0], atol=1e-5)
        assert all(torch.allclose(a[row], b[0], atol=1e-5) for a, b in zip(state, row_state))


def test_chunked_closed_form_wkv_is_the_recurrence_even_for_fast_decays():
    g = torch.Generator().manual_seed(6)
    b, h, t, n = 2, 3, 40, 4
    r, k, v = (torch.randn(b, h, t, n, generator=g, dtype=torch.float64) for _ in range(3))
    # decays from w ≈ 1 to w = exp(−e⁴) ≈ 1e-24: no power may overflow in the closed form
    log_w = -torch.exp(torch.linspace(-4.0, 4.0, h * n, dtype=torch.float64)).view(h, n)
    u = torch.randn(h, n, generator=g, dtype=torch.float64)
    s0 = torch.randn(b, h, n, n, generator=g, dtype=torch.float64)
    s, ys = s0.clone(), []
    for step in range(t):
        kv = k[:, :, step, :, None] * v[:, :, step, None, :]
        ys.append((r[:, :, step, None, :] @ (u[..., None] * kv + s))[:, :, 0])
        s = kv + torch.exp(log_w)[..., None] * s
    expected = torch.stack(ys, 2)
    for chunk in (1, 5, 16):
        y, s_end = wkv(r, k, v, log_w, u, s0, chunk=chunk)
        assert torch.isfinite(y).all()
        assert torch.allclose(y, expected, atol=1e-10) and torch.allclose(s_end, s, atol=1e-10), chunk


def test_bad_shapes_are_refused_naming_the_parameter():
    with pytest.raises(ValueError, match="chunk"):
        wkv(
            *(torch.zeros(1, 1, 3, 2) for _ in range(3)),
            torch.zeros(1, 2),
            torch.zeros(1, 2),
            torch.zeros(1, 1, 2, 2),
            chunk=17,
        )
    with pytest.raises(ValueError, match="n_heads"):
        Rwkv5Spec(d_vocab=V, d_model=30, n_layers=1, n_heads=4, d_mlp=F)
    with pytest.raises(ValueError, match="d_vocab"):
        Rwkv5Spec(d_vocab=0, d_model=C, n_layers=1, n_heads=4, d_mlp=F)
    model = Rwkv5(Rwkv5Spec(d_vocab=V, d_model=C, n_layers=1, n_heads=4, d_mlp=F))
    with pytest.raises(ValueError, match="input_ids"):
        model(torch.zeros(3, dtype=torch.long))

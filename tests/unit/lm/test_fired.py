"""Edits on hooks that never fire, or fire flattened, are refused after the first forward
(`workbench.lm.fired`), on every random architecture the tests build; hooks that fire steer as before."""

from __future__ import annotations

import pytest
import torch

from workbench.lm import boot
from workbench.lm.fired import check_fired
from workbench.lm.forward import hf_model
from workbench.lm.generate import generate, last_token_logits
from workbench.lm.random_folder import RANDOM_ARCHS, random_causal_lm_folder
from workbench.tensor.hooks import Steerer
from workbench.tensor.steering import make_edit

# TransformerLens-style hook points the bridge lists but the HF modules it runs never call
SILENT = ("blocks.0.hook_mlp_in", "blocks.0.hook_attn_in", "blocks.0.attn.hook_result", "blocks.0.hook_q_input")


@pytest.mark.parametrize("arch", RANDOM_ARCHS)
def test_a_hook_that_never_fires_is_refused_after_one_forward(arch, tmp_path) -> None:
    model = boot(random_causal_lm_folder(arch, tmp_path / arch))
    d = int(model.cfg.d_model)
    edit = make_edit("actadd", 50 * torch.ones(d), torch.zeros(d), 1.0)
    forwards = []
    handle = hf_model(model).register_forward_pre_hook(lambda *_a: forwards.append(1))
    try:
        for name in (n for n in SILENT if n in model.hook_dict):
            forwards.clear()
            with pytest.raises(ValueError, match=f"'{name}'.*never fired"):
                generate(model, model.tokenizer, ["hello there"], 8, edits={name: edit})
            assert len(forwards) == 1, (arch, name)  # refused before decoding further
            with pytest.raises(ValueError, match="never fired"):
                last_token_logits(model, model.tokenizer, ["hello there"], edits={name: edit})
    finally:
        handle.remove()
    fires = "blocks.0.hook_resid_post"
    steered = generate(model, model.tokenizer, ["hello there"], 4, edits={fires: edit})
    assert isinstance(steered[0], str)  # a hook that fires with [batch, pos, d_model] steers as before


def test_check_fired_names_every_problem() -> None:
    layer = torch.nn.Linear(4, 4)
    edit = make_edit("actadd", torch.ones(4), torch.zeros(4), 1.0)
    steerer = Steerer(layer, {}, targets={})
    steerer.edits = {"a": edit, "b": edit, "c": edit}
    steerer.seen = {"a": (2, 3, 4), "b": (6, 4)}
    with pytest.raises(ValueError) as err:
        check_fired(steerer, 4)
    assert "['c'] never fired" in str(err.value) and "'b' gave an activation of shape [6, 4]" in str(err.value)
    steerer.seen["c"] = (2, 3, 8)
    steerer.seen["b"] = (2, 3, 4)
    with pytest.raises(ValueError, match=r"'c' gave an activation of shape \[2, 3, 8\]"):
        check_fired(steerer, 4)
    check_fired(steerer, None)  # no width known: only the rank is checked

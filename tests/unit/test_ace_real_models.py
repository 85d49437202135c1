"""The ACE real-model path on random folders of other architectures, with a byte-level BPE
tokenizer that has no pad token: hooks checked before compute, zero-direction layers, prompt
files that do not fit the context, and refusal openers derived from the model's own tokens."""

from __future__ import annotations

import json
import warnings

import pytest

from workbench.ace import AceConfig, run
from workbench.ace import session as session_module
from workbench.ace.example import EXAMPLE_HARMFUL, example_inputs
from workbench.lm import torch_threads
from workbench.lm.random_folder import random_causal_lm_folder

HARMFUL = list(EXAMPLE_HARMFUL[:4])


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """A random Llama folder, a BOM CSV of harmful and a JSONL of harmless prompts."""
    return example_inputs(tmp_path_factory.mktemp("example"))


@pytest.fixture(scope="module")
def files(example):
    return example[1], example[2]


def _config(folder, files, **kw) -> AceConfig:
    base = dict(model=str(folder), harmful_file=str(files[0]), harmless_file=str(files[1]), n_eval=2, n_direction=2,
                alphas=(0.0, 1.0), max_new_tokens=3)
    return AceConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def llama(example):
    return example[0]


def _no_compute(monkeypatch):
    """Make any activation pass fail: what runs before it is setup, not compute."""
    def refuse(*_a, **_k):
        raise AssertionError("compute started before the check")
    monkeypatch.setattr(session_module, "last_token_activations", refuse)
    monkeypatch.setattr(session_module, "generate", refuse)


@pytest.fixture(scope="module")
def resid_pre_result(llama, files):
    with torch_threads(1), pytest.warns(UserWarning, match="zero refusal direction at \\['blocks.0.hook_resid_pre'\\]"):
        return run(_config(llama, files, hook="resid_pre", layer_sweep=True), progress=False)


def test_resid_pre_runs_and_skips_the_zero_direction_layer(resid_pre_result):
    result = resid_pre_result
    label = result.labels[0]
    assert result.layer[label] == 1 and float(result.direction[label][0].norm()) == 0.0
    sweep = result.layer_sweep[label]
    assert (sweep[0] == -1).all() and (sweep[1] >= 0).all()
    rates = result.refusal_rate(sweep[:, 0])
    assert rates[0].isnan() and not rates[1].isnan()  # skipped, not "0 % refusal"


def test_a_zero_direction_at_the_chosen_layer_fails_before_generation(llama, files, monkeypatch):
    monkeypatch.setattr(session_module, "generate", lambda *_a, **_k: pytest.fail("generation started"))
    with pytest.raises(ValueError, match="`layer` 0 \\('blocks.0.hook_resid_pre'\\) has a zero refusal direction"):
        run(_config(llama, files, hook="resid_pre", layer=0), progress=False)


def test_a_hook_that_is_not_batch_pos_d_fails_at_setup(tmp_path, files, monkeypatch):
    opt = random_causal_lm_folder("opt", tmp_path / "opt", n_layers=2)
    _no_compute(monkeypatch)
    with pytest.raises(
        ValueError, match="`hook` 'blocks.0.hook_resid_mid' cannot be steered here: its output is \\[\\(\\d+, 64\\)\\]"
    ):
        run(_config(opt, files, hook="resid_mid"), progress=False)


def test_prompts_past_the_context_are_refused_naming_file_and_line(tmp_path, llama, files, monkeypatch):
    long_file = tmp_path / "harmful.jsonl"
    rows = HARMFUL[:3] + [" ".join(["word"] * 300)]
    long_file.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in rows))
    _no_compute(monkeypatch)
    with pytest.raises(ValueError, match="`harmful_file`: 1 prompt\\(s\\) longer than .* line 4 \\("):
        run(_config(llama, (long_file, files[1]), n_direction=2, n_eval=2), progress=False)


def test_refusal_openers_are_derived_from_the_models_own_tokens(llama, files):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = session_module.open_session(_config(llama, files), 0, progress=False)
    pieces = [session.tokenizer.decode([i]) for i in session.refusal_ids]
    assert pieces and all(p.strip() and p.strip()[0].isupper() for p in pieces)  # whole capitalised words, e.g. "I"
    with pytest.raises(ValueError, match="`refusal_openers` entry 'sorry' is \\d+ tokens"):
        session_module.open_session(_config(llama, files, refusal_openers=("sorry",)), 0, progress=False)


def test_steering_a_skipped_layer_from_the_result_names_the_layer(resid_pre_result):
    result = resid_pre_result
    with pytest.raises(ValueError, match="`layer` 0 \\('blocks.0.hook_resid_pre'\\) has a zero refusal direction"):
        result.edits(0, "ace", 0.0, layer=0)
    assert result.edits(0, "none", 0.0, layer=0) is None
    assert set(result.edits(0, "ace", 1.0, layer=1)) == {"blocks.1.hook_resid_pre"}


@pytest.mark.parametrize("arch", ["mamba", "opt"])
def test_sublayer_sites_need_attention_and_mlp_outputs_and_say_so(tmp_path, files, monkeypatch, arch):
    """Mamba has no attention / MLP output hooks, OPT's MLP output comes flattened: `sites`=
    'sublayers' fails at setup naming `sites`; the default "auto" runs them on their residual
    sites and records that in the result, its summary and the panel."""
    from widgets import AcePanel
    from workbench.ace import summarize

    folder = random_causal_lm_folder(arch, tmp_path / arch, n_layers=2)
    with monkeypatch.context() as patched:
        _no_compute(patched)
        with pytest.raises(ValueError, match="`sites`='sublayers'"):
            run(_config(folder, files, sites="sublayers"), progress=False)
    assert AceConfig().sites == "auto"
    result = run(_config(folder, files), progress=False)
    assert result.config.sites == "auto" and result.sites(0) == "residual"
    assert all(s["sites"] == "residual" for s in result.settings[result.labels[0]])
    assert summarize(result)["sites"] == "residual"
    assert AcePanel(result=result).sites.value == "residual"


def test_auto_sites_are_the_sublayers_where_the_model_has_them(llama, files):
    """On a Llama folder "auto" resolves to the attention and MLP outputs: the same edits and
    completions as asking for "sublayers"."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = run(_config(llama, files, layer_sweep=False), progress=False)
        asked = run(_config(llama, files, sites="sublayers", layer_sweep=False), progress=False)
    assert auto.sites(0) == asked.sites(0) == "sublayers"
    assert set(auto.edits(0, "ace", 1.0, layer="all", sites=auto.sites(0))) == {
        f"blocks.{i}.hook_{h}_out" for i in range(2) for h in ("attn", "mlp")}
    assert auto.settings[auto.labels[0]] == asked.settings[asked.labels[0]]
    assert (auto.sweep == asked.sweep).all()


def test_a_real_run_is_labelled_by_folder_and_parent_or_by_the_users_label(llama, files, tmp_path):
    from pathlib import Path

    from workbench.ace.config import folder_label

    path = Path(llama).resolve()
    assert _config(llama, files).labels() == (f"{path.parent.name}/{path.name}",)
    assert _config(llama, files, label="my llama").labels() == ("my llama",)
    assert folder_label("/hf") == "hf"
    with pytest.raises(ValueError, match="`label` names a real folder's run"):
        AceConfig(label="x")


def test_silent_changes_to_the_request_are_said(llama, files, tmp_path) -> None:
    """A tokenizer without a chat template, fewer evaluation prompts than asked, and evaluation sets
    of different sizes each warn, naming what changed; a direction count the files cannot give is
    an error naming the file and the counts."""
    import shutil

    from workbench.ace.prompt_sets import prompt_rows

    plain = tmp_path / "no-template"
    shutil.copytree(llama, plain)
    config_file = plain / "tokenizer_config.json"
    tok_config = json.loads(config_file.read_text())
    tok_config.pop("chat_template", None)
    config_file.write_text(json.dumps(tok_config))
    (plain / "chat_template.jinja").unlink(missing_ok=True)
    with pytest.warns(UserWarning, match="has no chat template, so every request is fed as raw text"):
        session_module.open_session(_config(plain, files), 0, progress=False)
    with pytest.raises(ValueError, match=r"`n_direction` 10000 asks for 10000 direction prompts from "
                                         r"`harmful_file` '.*harmful.csv', which holds 8: .* at least "
                                         r"`n_direction` \+ 1 = 10001"):
        prompt_rows(_config(llama, files, n_direction=10_000, n_eval=100))
    with pytest.warns(UserWarning, match=r"`n_eval` 100: `harmful_file` '.*' holds 8 prompts, so only 6 remain"):
        prompt_rows(_config(llama, files, n_direction=2, n_eval=100))
    short = tmp_path / "short.jsonl"
    short.write_text("".join(json.dumps({"prompt": f"How do I fold a paper crane, part {i}?"}) + "\n"
                             for i in range(5)))
    with pytest.warns(UserWarning, match=r"evaluation sets differ in size \(harmful \d+, harmless 3 prompts\)"):
        out = prompt_rows(_config(llama, (files[0], short), n_direction=2, n_eval=100))
    assert len(out["harmful_eval"]) == len(out["harmless_eval"]) == 3

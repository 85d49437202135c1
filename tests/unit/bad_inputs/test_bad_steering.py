"""ACE prompt files and steering vectors of the wrong shape, column or width fail naming the
parameter."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
from hypothesis import given
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file
from torch import nn

from tests.unit.bad_inputs.support import (
    FEW,
    INF,
    NAN,
    rejects,
    write,
)
from workbench.ace import AceConfig
from workbench.ace.experiment import prompt_sets
from workbench.ace.prompts import load_prompts
from workbench.tensor.hooks import steer
from workbench.tensor.steering import METHODS, SteeringEdit, affine_edit, make_edit


# --- ACE prompts and steering -----------------------------------------------------------------------
def test_prompt_files_missing_empty_or_without_the_column(tmp_path):
    cases = [
        ("harmful_file", tmp_path / "missing.csv", "prompt"),
        ("harmful_file", write(tmp_path / "empty.csv", b""), "prompt"),
        ("harmful_file", write(tmp_path / "empty.jsonl", b""), "prompt"),
        ("harmful_file", write(tmp_path / "blank.jsonl", b"\n \n"), "prompt"),
        ("harmful_file", write(tmp_path / "blank.csv", b"prompt\n \n\n"), "prompt"),
        ("column", write(tmp_path / "other.csv", b"text\nhello\n"), "prompt"),
        ("column", write(tmp_path / "other.jsonl", b'{"text": "hello"}\n'), "prompt"),
        ("column", write(tmp_path / "list.jsonl", b'["hello"]\n'), "prompt"),
        ("harmful_file", write(tmp_path / "broken.jsonl", b'{"prompt": \n'), "prompt"),
        ("harmful_file", write(tmp_path / "latin1.csv", "prompt\ncaf\xe9\n".encode("latin-1")), "prompt"),
        ("harmful_file", write(tmp_path / "prompts.txt", b"hello\n"), "prompt"),
        ("column", write(tmp_path / "ok.csv", b"prompt\nhello\n"), None),
        ("column", write(tmp_path / "ok2.csv", b"prompt\nhello\n"), ""),
    ]
    for param, path, column in cases:
        rejects(param, "load_prompts", (path.name, column), lambda: load_prompts(path, column, name="harmful_file"))
    for bad in (None, 3, ""):
        rejects("harmful_file", "load_prompts type", bad, lambda: load_prompts(bad, name="harmful_file"))

@FEW
@given(content=st.binary(max_size=48), suffix=st.sampled_from([".csv", ".jsonl"]))
def test_arbitrary_bytes_as_a_prompt_file_fail_cleanly_or_load(content, suffix):
    """Random bytes may by chance be a prompt file; if they are not, the error names the file or
    the column."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp) / f"p{suffix}", content)
        try:
            prompts = load_prompts(path, "prompt", name="harmful_file")
        except (ValueError, FileNotFoundError):
            rejects(
                ("harmful_file", "column"), "prompt bytes", content, lambda: load_prompts(path, name="harmful_file")
            )
        else:
            assert prompts and all(p.strip() for p in prompts)

def test_a_real_model_config_needs_two_prompts_per_file(tmp_path):
    one = write(tmp_path / "one.csv", b"prompt\nhello\n")
    two = write(tmp_path / "two.csv", b"prompt\nhello\nthere\n")
    config = AceConfig(model=str(tmp_path), harmful_file=str(one), harmless_file=str(two))
    rejects("harmful_file", "prompt_sets", "one prompt", lambda: prompt_sets(config))
    missing = replace(config, harmful_file=str(two), harmless_file=str(tmp_path / "missing.jsonl"))
    rejects("harmless_file", "prompt_sets missing", "missing", lambda: prompt_sets(missing))

D_MODEL = 16

@FEW
@given(width=st.integers(1, 64).filter(lambda w: w != D_MODEL), method=st.sampled_from(METHODS[1:]))
def test_a_direction_file_of_the_wrong_width_is_rejected(width, method):
    """A steering vector saved as safetensors at another model's width, applied to this one."""
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "direction.safetensors"
        save_file({"direction": torch.randn(width), "mu_neg": torch.randn(width)}, str(file))
        vectors = load_file(str(file))
        edit = make_edit(method, vectors["direction"], vectors["mu_neg"], alpha=1.0)
        acts = torch.randn(3, D_MODEL)
        rejects("direction", f"steer width {method}", width, lambda: edit.apply(acts))
        rejects("direction", f"affine_edit width {method}", width,
                lambda: affine_edit(acts, vectors["direction"], None, 1.0))
        model = nn.Sequential(nn.Linear(D_MODEL, D_MODEL))
        with steer(model, {"0": edit}):
            rejects("direction", f"hooked forward {method}", width, lambda: model(acts))

def test_bad_steering_vectors_are_rejected():
    d = torch.ones(D_MODEL)
    cases: list[tuple[str, Callable[[], object], object]] = [
        ("direction", lambda: make_edit("ace", torch.zeros(D_MODEL), d), "zero"),
        ("direction", lambda: make_edit("ace", torch.full((D_MODEL,), NAN), d), "nan"),
        ("direction", lambda: make_edit("ace", torch.ones(2, D_MODEL), d), "2-d"),
        ("direction", lambda: make_edit("actadd", torch.ones(D_MODEL, dtype=torch.long), alpha=1.0), "int dtype"),
        ("direction", lambda: make_edit("actadd", [1.0] * D_MODEL, alpha=1.0), "a list"),
        ("reference", lambda: make_edit("ace", d, torch.ones(D_MODEL + 1)), "reference width"),
        ("reference", lambda: make_edit("affine_ablation", d, None), "reference missing"),
        ("alpha", lambda: make_edit("ace", d, d, alpha=NAN), "alpha nan"),
        ("alpha", lambda: make_edit("actadd", d, alpha="1"), "alpha str"),
        ("method", lambda: make_edit("steer", d, d), "unknown method"),
        ("method", lambda: make_edit(None, d, d), "method None"),
        ("alpha", lambda: SteeringEdit(d, None, INF), "edit alpha inf"),
        ("positions", lambda: steer(nn.Linear(2, 2), {}, "last").__enter__(), "positions"),
        ("hook", lambda: steer(nn.Sequential(nn.Linear(2, 2)), {"7": make_edit("actadd", torch.ones(2), alpha=1.0)}),
         "hook"),
    ]
    for param, call, label in cases:
        rejects(param, "steering", label, call)

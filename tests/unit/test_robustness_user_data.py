"""Your own classifier and data: the project's spam/ham example set, the refusals of bad labelled
files (before any model loads), the test split's bound, and a tiny end-to-end run with no oracle."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import re
from pathlib import Path

import pytest
import torch
from scipy import stats

from workbench.plots import robustness as plots
from workbench.robustness import (
    NO_ORACLE,
    ExampleRow,
    RobustnessConfig,
    claims,
    example_rows,
    held_out_bound,
    held_out_sweep,
    labelled_rows,
    run,
    summarize,
    user_config,
    user_dataset,
    write_example_data,
)
from workbench.robustness import experiment as experiment_module
from workbench.robustness.attacks import ATTACKS
from workbench.robustness.data import MIN_PER_LABEL, split_sizes
from workbench.robustness.example_data import SLOTS, TEMPLATES, default_example_folder

ROOT = Path(__file__).resolve().parents[2]


# --- the example set -------------------------------------------------------------------------------
def test_example_set_is_deterministic_balanced_and_distinct():
    rows = example_rows(400, seed=0)
    assert rows == example_rows(400, seed=0)
    assert rows != example_rows(400, seed=1)
    assert len(rows) == 400 and sum(r.label for r in rows) == 200  # balanced, as stated
    assert len({r.text for r in rows}) == 400
    assert sum(r.label for r in example_rows(100, spam_share=0.3, seed=2)) == 30  # round(n · share)
    by_id = {t[0]: t for t in TEMPLATES}
    for r in rows:  # each row is its template's, with the template's label and kind
        tid, label, kind, _ = by_id[r.template]
        assert (r.label, r.kind) == (label, kind)
    kinds = {r.kind for r in rows}
    assert kinds == {"spam", "hard_spam", "ham", "hard_ham"}
    assert not any("story" in r.text.lower() for r in rows)


def test_a_small_exact_case_fills_every_slot_from_its_word_list():
    rows = example_rows(8, spam_share=0.5, seed=3)
    assert [r.label for r in rows] == [1, 1, 1, 1, 0, 0, 0, 0]  # spam first, then ham
    for r in rows:
        template = next(t[3] for t in TEMPLATES if t[0] == r.template)
        assert "{" not in r.text
        # the template's fixed words survive; every slot was filled by a word of its list
        head = template.split("{")[0]
        assert r.text.startswith(head)
    assert all(r.text for r in rows) and isinstance(rows[0], ExampleRow)
    assert "{" not in "".join(w for words in SLOTS.values() for w in words)


def test_the_example_file_is_written_atomically_where_asked_and_reads_back(tmp_path, monkeypatch):
    path = write_example_data(tmp_path / "ex", n=60, seed=4)
    assert path.parent == tmp_path / "ex" and path.name == "spam_ham_n60_seed4.csv"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary left behind
    with path.open(encoding="utf-8", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [(r["text"], int(r["label"]), r["kind"], r["template"]) for r in table] == [
        (r.text, r.label, r.kind, r.template) for r in example_rows(60, seed=4)]
    back = labelled_rows(path)
    assert [r.label for r in back] == [r.label for r in example_rows(60, seed=4)] and back[0].line == 2
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    assert default_example_folder() == tmp_path / "cache" / "robustness" / "example_data"
    default = write_example_data(n=20)
    assert default.parent == default_example_folder() and ROOT not in default.parents


BAD_EXAMPLE_ARGS = [({"n": 7}, "`n`"), ({"n": 2001}, "`n`"), ({"spam_share": 0.0}, "`spam_share`"),
                    ({"spam_share": 1.0}, "`spam_share`"), ({"n": 10, "spam_share": 0.9}, "`spam_share`"),
                    ({"seed": -1}, "`seed`")]


@pytest.mark.parametrize("kwargs, name", BAD_EXAMPLE_ARGS)
def test_bad_example_arguments_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        example_rows(**kwargs)


# --- bad labelled files ----------------------------------------------------------------------------
GOOD = "".join(f"message number {i},{i % 2}\n" for i in range(12))  # 6 of each label


def _csv(body: str) -> bytes:
    return ("text,label\n" + body).encode("utf-8")


BAD_FILES = [
    # (case, file name, content, regex after the file's name)
    ("utf-16 with its mark", "d.csv", ("text,label\n" + GOOD).encode("utf-16"), r" is UTF-16 text"),
    ("utf-16 without a mark", "d.csv", ("text,label\n" + GOOD).encode("utf-16-le"), r" line 1 holds NUL bytes"),
    ("latin-1", "d.csv", ("text,label\n" + GOOD + "caf\xe9 au lait,1\n").encode("latin-1"),
     r" is not UTF-8 text: line 14"),
    ("binary", "d.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe" * 4, r" line 3 holds NUL bytes"),
    ("empty", "d.csv", b"", r" is empty"),
    ("header only", "d.csv", b"text,label\n", r" holds no rows"),
    ("no text column", "d.csv", b"body,label\nhi,1\n", r" \(line 1\); columns: \['body', 'label'\]"),
    ("no label column", "d.jsonl", b'{"text": "a", "label": 1}\n{"text": "b"}\n', r"; keys: \['text'\]"),
    ("label 2", "d.csv", _csv(GOOD + "odd one,2\n"), r" has '2'"),
    ("label 1.0", "d.csv", _csv("first,1.0\n" + GOOD), r" has '1.0'"),
    ("label 0.5 in json", "d.jsonl", b'{"text": "a", "label": 0.5}\n', r" has '0.5'"),
    ("label true in json", "d.jsonl", b'{"text": "a", "label": true}\n', r" has 'true'"),
    ("short row", "d.csv", _csv(GOOD + "no label here\n"), r" line 14 has 1 field\(s\); the header has 2"),
    ("blank text", "d.csv", _csv(GOOD + "  ,1\n"), r""),
    ("number as text", "d.jsonl", b'{"text": 42, "label": 1}\n', r""),
    ("one class", "d.csv", _csv("".join(f"spam {i},1\n" for i in range(12))), r" has only 1 \(12 rows\)"),
    ("too few of a label", "d.csv", _csv("".join(f"ham {i},0\n" for i in range(10)) + "a,1\nb,1\nc,1\n"),
     r" has 3 rows labelled 1; the 50/20/30 train/val/test split needs at least 4"),
    ("a repeat", "d.csv", _csv(GOOD + "message number 3,1\n"), r" line 14 repeats the text of line 5"),
    ("a repeat with the other label", "d.jsonl",
     b"".join(json.dumps({"text": f"m{i}", "label": i % 2}).encode() + b"\n" for i in range(12))
     + b'{"text": " m2 ", "label": 1}\n', r" line 13 repeats the text of line 3 with the other label"),
]
# the parameter each message names first, and the line it names (None: the file has no line to name)
WHERE = {"no text column": ("`text_column`", None), "no label column": ("`label_column`", "line 2"),
         "label 2": ("`label_column`", "row 13 (line 14)"), "label 1.0": ("`label_column`", "row 1 (line 2)"),
         "label 0.5 in json": ("`label_column`", "row 1 (line 1)"), "label true in json": ("`label_column`", "line 1"),
         "blank text": ("`text_column`", "row 13 (line 14)"), "number as text": ("`text_column`", "line 1"),
         "one class": ("`label_column`", None)}


@pytest.mark.parametrize("case, name, content, tail", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_a_bad_labelled_file_is_refused_naming_file_line_and_expectation(tmp_path, monkeypatch, case, name, content,
                                                                        tail):
    path = tmp_path / name
    path.write_bytes(content)

    def no_model(*args, **kwargs):
        raise AssertionError("a model was loaded before the file was checked")

    monkeypatch.setattr(experiment_module, "Classifier", no_model)
    param, line = WHERE.get(case, ("`data`", None))
    with pytest.raises(ValueError) as err:
        run(RobustnessConfig(data=str(path), top_layers=0), progress=False)
    message = str(err.value)
    assert message.startswith(param) and repr(str(path)) in message, message
    assert line is None or line in message, message
    assert re.search(tail, message), message
    with pytest.raises(ValueError):  # the same refusal straight from the loader
        user_dataset(path, "text", "label", seed=0)


def test_the_split_minimum_is_what_the_split_needs():
    assert MIN_PER_LABEL == 4 and min(split_sizes(4)) == 1 and min(split_sizes(3)) == 0


def test_good_edge_files_are_read(tmp_path):
    """A spreadsheet's byte-order mark, CRLF line ends, a quoted multi-line cell and a blank line."""
    body = 'text,label\r\n"two\r\nlines",1\r\n\r\nplain,0\r\n'
    path = tmp_path / "ok.csv"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    assert [(r.text, r.label, r.line) for r in labelled_rows(path)] == [("two\r\nlines", 1, 2), ("plain", 0, 5)]
    jsonl = tmp_path / "ok.jsonl"
    jsonl.write_text('{"t": "a", "y": "1"}\n\n{"t": "b", "y": 0}\n', encoding="utf-8")
    assert [(r.text, r.label, r.line) for r in labelled_rows(jsonl, "t", "y")] == [("a", 1, 1), ("b", 0, 3)]


# --- the test split's bound ------------------------------------------------------------------------
def test_held_out_bound_on_a_small_exact_case():
    scores = torch.tensor([0.1, 0.2, 0.9, 0.4, 0.05])
    labels = torch.tensor([0, 1, 1, 0, 0])
    b = held_out_bound(scores, labels, 0.3)
    # let through: 0.1, 0.2, 0.05 (one label 1); rejected: 0.9 (label 1), 0.4 (label 0)
    assert (b["accepted"], b["unsafe"], b["n"], b["n_label1"]) == (3, 1, 5, 2)
    assert b["rate"] == pytest.approx(1 / 3) and b["caught"] == 0.5 and b["safe_lost"] == pytest.approx(1 / 3)
    assert b["upper_clopper_pearson"] == pytest.approx(stats.beta.ppf(0.95, 2, 2))  # one-sided 95 %
    z, p, n = stats.norm.ppf(0.95), 1 / 3, 3
    wilson = (p + z * z / (2 * n) + z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n)
    assert b["upper_wilson"] == pytest.approx(wilson)
    assert b["upper_reported"] == b["upper_clopper_pearson"] and b["bound_rule"] == "Clopper-Pearson"
    zero = held_out_bound(scores, labels, 0.15)  # let through: 0.1, 0.05, both label 0
    assert (zero["accepted"], zero["unsafe"], zero["rate"]) == (2, 0, 0.0)
    assert zero["upper_reported"] == 1.5 and zero["bound_rule"] == "rule of three (3/n)"  # 3 / 2
    assert zero["upper_clopper_pearson"] == pytest.approx(1 - 0.05 ** (1 / 2))
    none = held_out_bound(scores, labels, 0.01)
    assert none["accepted"] == 0 and none["rate"] is None and none["upper_reported"] is None
    assert [row["accepted"] for row in held_out_sweep(scores, labels, [0.01, 0.15, 0.3, 1.0])] == [0, 2, 3, 5]
    with pytest.raises(ValueError, match="`threshold`"):
        held_out_bound(scores, labels, 1.5)
    with pytest.raises(ValueError, match="`scores` and `labels`"):
        held_out_bound(scores, labels[:3], 0.3)


# --- end to end ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def user_result(tmp_path_factory):
    torch.set_num_threads(1)
    data = write_example_data(tmp_path_factory.mktemp("user"), n=80, seed=0)
    config = dataclasses.replace(user_config(data, quick=True), n_attack=3, max_budget=1, candidates=4,
                                 n_train_attack=3, n_filter_samples=200)
    return run(config, progress=False)


def test_a_tiny_run_on_the_example_set_reports_without_inventing_oracle_numbers(user_result):
    r, c = user_result, user_result.config
    assert not r.has_oracle and c.top_layers == 0 and c.rounds == 1 and len(r.texts) == 80
    assert r.thresholds.shape == (2,) and bool(((r.thresholds > 0) & (r.thresholds <= 1)).all())
    assert r.success_at.shape == (2, len(ATTACKS), 3) and bool((r.preserved == -1).all())
    assert r.fresh_scores.shape == (2, 0)
    for rows in r.rounds_info[0]["attacks"].values():  # every attacked text's trace starts at its own score
        for row, i in zip(rows, r.attack_index.tolist()):
            assert row["text"] == r.texts[i] and row["oracle"] is None
            assert row["probs"][0] == pytest.approx(float(r.scores[0][i]), abs=1e-4)
    s = summarize(r)
    assert s["oracle"] == NO_ORACLE and len(s["not_measured"]) == 3
    assert all(s[k] is None for k in ("fresh_share", "unsafe_after_filter", "conservative", "default_threshold"))
    test = r.mask("test")
    for k, row in enumerate(s["per_round"]):
        bound = held_out_bound(r.scores[k][test], r.labels[test], float(r.thresholds[k]))
        assert row["test_split_bound"]["accepted"] == bound["accepted"]
        assert row["test_split_bound"]["upper_reported"] == pytest.approx(bound["upper_reported"], rel=1e-5)
        assert not any(key.startswith("upper_95") for key in row["filtered_unsafe"])
        assert "unsafe_after_filter" not in row and "quality" not in row
        assert all(a["label_preserved_among_flips"] is None for a in row["attacks"].values())
    assert s["per_round"][0]["adversarial_added_after"] == r.rounds_info[0]["adversarial_added"]
    assert r.rounds_info[0]["adversarial_paraphrases"] == 0  # no oracle: no paraphrases
    effort = s["effort_to_failure"]["hotflip"]
    assert effort["round 0"]["n"] == 3 and effort["round 0"]["budget"] == c.query_budget
    assert "paired_test_round0_vs_last" in effort
    table = claims(s)
    assert NO_ORACLE in table and "label-1 texts" in table and "unsafe completions" not in table


def test_the_figures_say_there_is_no_oracle_and_no_generator(user_result):
    bounds = plots.threshold_sweep(user_result)
    assert "no generator, no oracle" in bounds.layout.title.text
    names = [t.name for t in bounds.data]
    assert "label 1 among let through (round 0)" in names and "95 % upper bound (Wilson) (round 1)" in names
    survival = plots.effort_to_failure(user_result)
    assert "no oracle" in survival.layout.title.text and "label-1 texts" in survival.layout.title.text
    assert len(survival.data) == len(ATTACKS) * 2
    assert set(plots.all_figures(user_result, saliency=None).keys()) == {
        "1_threshold_sweep", "2_effort_to_failure", "3_in_distribution", "4_saliency_tool"}

"""Labelled texts for a run: the story corpus (with its oracle) or a user's CSV/JSONL file.

`Dataset` holds every text once with its label, its split (0 train, 1 val, 2 test), its group
(the prompt's setting; one group for user data) and its generator probability (non-zero on the
test split only: the threshold sweep and the panel filter the test split). A story's text is what the
classifier scores: prompt + completion.
"""

from __future__ import annotations

import csv
import io
import os
import random
from dataclasses import dataclass
from pathlib import Path

from workbench.core.textfiles import jsonl_objects, read_utf8
from workbench.core.validation import check_path, check_text
from workbench.robustness import corpus
from workbench.robustness.oracle import oracle_label

SPLITS = ("train", "val", "test")
FRACTIONS = (0.5, 0.2, 0.3)


@dataclass(frozen=True)
class Dataset:
    texts: list[str]
    labels: list[int]
    split: list[int]
    group: list[int]
    gen_weight: list[float]
    categories: list[str]
    prompts: list[str]
    has_oracle: bool

    def indices(self, split: str, label: int | None = None) -> list[int]:
        s = SPLITS.index(split)
        return [
            i for i, (sp, lab) in enumerate(zip(self.split, self.labels)) if sp == s and (label is None or lab == label)
        ]


def _stratified_split(keys: list[str], seed: int) -> list[int]:
    """Assign 50/20/30 % of each key's items to train/val/test (seeded shuffle per key)."""
    rng = random.Random(seed)
    split = [0] * len(keys)
    for key in sorted(set(keys)):
        idx = [i for i, k in enumerate(keys) if k == key]
        rng.shuffle(idx)
        n_train, n_val = round(FRACTIONS[0] * len(idx)), round(FRACTIONS[1] * len(idx))
        for j, i in enumerate(idx):
            split[i] = 0 if j < n_train else 1 if j < n_train + n_val else 2
    return split


def story_dataset(n_stories: int, unsafe_share: float, unsafe_rate: float, seed: int) -> Dataset:
    """The embedded corpus; the generator's probabilities live on the test split."""
    stories = corpus.build_stories(n_stories, unsafe_share, seed)
    split = _stratified_split([s.category for s in stories], seed + 1)
    settings = sorted(corpus.SETTINGS)
    test = [i for i, sp in enumerate(split) if sp == 2]
    weights = [0.0] * len(stories)
    for i, w in zip(test, corpus.generator_weights([stories[i] for i in test], unsafe_rate)):
        weights[i] = w
    labels = [s.label for s in stories]
    mismatch = [s.text for s in stories if oracle_label(s.text) != s.label]
    if mismatch:  # construction and oracle must agree; a test checks it too
        raise RuntimeError(f"oracle disagrees with construction on {mismatch[:3]}")
    return Dataset([s.text for s in stories], labels, split, [settings.index(s.setting) for s in stories],
                   weights, [s.category for s in stories], [s.prompt for s in stories], has_oracle=True)


def load_labelled(
    path: str | os.PathLike, text_column: str = "text", label_column: str = "label"
) -> tuple[list[str], list[int]]:
    """Texts and 0/1 labels from a CSV (header row) or JSONL file (one object per line)."""
    file = check_path("data", path)
    check_text("text_column", text_column)
    check_text("label_column", label_column)
    if not file.is_file():
        raise FileNotFoundError(f"`data` {str(file)!r} does not exist")
    try:
        rows, columns = _read_rows(file)
    # undecodable bytes and malformed CSV (NUL bytes, oversized fields) name nothing on their own
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"`data` {str(file)!r} is not readable UTF-8 CSV/JSONL: {err}") from err
    if not rows:
        raise ValueError(f"`data` {str(file)!r} holds no rows")
    for name, col in (("text_column", text_column), ("label_column", label_column)):
        if col not in columns:
            raise ValueError(f"`{name}` {col!r} is not a column of {file.name}; columns: {sorted(columns)}")
    texts, labels = [], []
    for n, row in enumerate(rows, 1):
        text, label = row.get(text_column), row.get(label_column)
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"`text_column` {text_column!r} is empty in row {n} of {file.name}")
        if str(label).strip() not in ("0", "1"):
            raise ValueError(f"`label_column` {label_column!r} must be 0 or 1; row {n} of {file.name} has {label!r}")
        texts.append(text)
        labels.append(int(str(label).strip()))
    if len(set(labels)) < 2:
        raise ValueError(
            f"`label_column` {label_column!r} must hold both labels 0 and 1; {file.name} has only {labels[0]}"
        )
    return texts, labels


def _read_rows(file: Path) -> tuple[list[dict], set[str]]:
    """Rows (dicts) and column names of a .jsonl/.json-lines or .csv/.tsv file."""
    if file.suffix.lower() in (".jsonl", ".json"):
        rows = [row for _line, row in jsonl_objects(read_utf8(file, "`data`"), "`data`")]
        return rows, set().union(*(r.keys() for r in rows))
    if file.suffix.lower() in (".csv", ".tsv"):
        # read_utf8 drops a spreadsheet's byte-order mark, which would otherwise glue onto the first column's name
        reader = csv.DictReader(io.StringIO(read_utf8(file, "`data`"), newline=""),
                                delimiter="\t" if file.suffix.lower() == ".tsv" else ",")
        rows = list(reader)
        return rows, set(reader.fieldnames or ())
    raise ValueError(f"`data` must be a .csv, .tsv or .jsonl file; got {file.name!r}")


def user_dataset(path: str | os.PathLike, text_column: str, label_column: str, seed: int) -> Dataset:
    """A user's labelled file: stratified 50/20/30 split; the filter's sample is the test split,
    uniformly weighted (no generator, no oracle)."""
    texts, labels = load_labelled(path, text_column, label_column)
    split = _stratified_split([str(lab) for lab in labels], seed + 1)
    n_test = sum(1 for s in split if s == 2)
    weights = [1.0 / n_test if s == 2 else 0.0 for s in split]
    return Dataset(texts, labels, split, [0] * len(texts), weights, ["user"] * len(texts), [""] * len(texts),
                   has_oracle=False)

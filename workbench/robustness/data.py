"""Labelled texts for a run: the story corpus (with its oracle) or a user's CSV/JSONL file.

`Dataset` holds every text once with its label, its split (0 train, 1 val, 2 test), its group
(the prompt's setting; one group for user data) and its generator probability (non-zero on the
test split only: the threshold sweep and the panel filter the test split). A story's text is what the
classifier scores: prompt + completion.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from workbench.core.textfiles import json_type, jsonl_objects, read_utf8
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
        n_train, n_val, _ = split_sizes(len(idx))
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


@dataclass(frozen=True)
class LabelledRow:
    """One row of a user's file: its text (as written), its 0/1 label and the line it starts on."""

    text: str
    label: int
    line: int


LABELLED_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json")


def load_labelled(
    path: str | os.PathLike, text_column: str = "text", label_column: str = "label"
) -> tuple[list[str], list[int]]:
    """Texts and 0/1 labels from a CSV/TSV (header row) or JSONL file (one object per line):
    `labelled_rows` without the line numbers."""
    rows = labelled_rows(path, text_column, label_column)
    return [r.text for r in rows], [r.label for r in rows]


def labelled_rows(path: str | os.PathLike, text_column: str = "text", label_column: str = "label") -> list[LabelledRow]:
    """Every data row of a user's labelled file, with the line it starts on (1-based; a CSV's
    header is line 1). Nothing is unpickled or evaluated: CSV cells and JSON values are read as text.

    Raises FileNotFoundError for a missing file and ValueError naming `data` / `text_column` /
    `label_column`, the file and, where known, the line, for: another suffix, an empty file, a
    UTF-16 / Latin-1 / binary (NUL bytes) file, malformed CSV or JSON, a missing column, a row
    shorter than the header, an empty or non-string text, a label other than 0 or 1 (a JSON label
    must be the number 0 or 1, or the string "0" or "1"), no rows, or only one label."""
    file = check_path("data", path)
    check_text("text_column", text_column)
    check_text("label_column", label_column)
    if not file.is_file():
        raise FileNotFoundError(f"`data` {str(file)!r} does not exist")
    where = f"`data` {str(file)!r}"
    if file.suffix.lower() not in LABELLED_SUFFIXES:
        raise ValueError(f"`data` must be a .csv, .tsv or .jsonl file; got {file.name!r}")
    raw = file.read_bytes()
    if not raw.removeprefix(codecs.BOM_UTF8).strip():
        raise ValueError(f"{where} is empty")
    if raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise ValueError(f"{where} is UTF-16 text (it starts with a UTF-16 byte-order mark); save it as UTF-8")
    nul = raw.count(b"\x00")
    # UTF-16 text without its mark is half NUL bytes; a binary file holds some and bytes UTF-8 refuses
    # (a stray NUL inside a UTF-8 cell is left to the cell's own check)
    nul_line = raw[: raw.find(b"\x00")].count(b"\n") + 1
    binary = (f"{where} line {nul_line} holds NUL bytes: a binary file or "
              f"UTF-16 text, not a UTF-8 CSV/JSONL; save it as UTF-8 text")
    if nul and 10 * nul >= len(raw):
        raise ValueError(binary)
    try:
        text = read_utf8(file, where)  # a Latin-1 file fails here, naming the line
    except ValueError as err:
        if nul:
            raise ValueError(binary) from err
        raise
    if file.suffix.lower() in (".csv", ".tsv"):
        cells = _csv_cells(text, where, "\t" if file.suffix.lower() == ".tsv" else ",", text_column, label_column)
    else:
        cells = _jsonl_cells(text, where, text_column, label_column)
    rows = [_row(n, line, t, lab, where, text_column, label_column) for n, (line, t, lab) in enumerate(cells, 1)]
    if not rows:
        raise ValueError(f"{where} holds no rows")
    labels = {r.label for r in rows}
    if len(labels) < 2:
        raise ValueError(f"`label_column` {label_column!r} must hold both labels 0 and 1; {where} has only "
                         f"{rows[0].label} ({len(rows)} rows)")
    return rows


def _row(n: int, line: int, text: object, label: object, where: str, text_column: str,
         label_column: str) -> LabelledRow:
    """Row n (line `line`) checked: a non-blank string text and a 0/1 label."""
    at = f"row {n} (line {line}) of {where}"
    if not isinstance(text, str):
        raise ValueError(f"`text_column` {text_column!r} holds {json_type(text)} in {at}; expected a string")
    if not text.strip():
        raise ValueError(f"`text_column` {text_column!r} is empty in {at}")
    if isinstance(label, int) and not isinstance(label, bool) and label in (0, 1):
        return LabelledRow(text, int(label), line)
    if isinstance(label, str) and label.strip() in ("0", "1"):
        return LabelledRow(text, int(label.strip()), line)
    shown = label if isinstance(label, str) else json.dumps(label) if _jsonable(label) else repr(label)
    raise ValueError(f"`label_column` {label_column!r} must be 0 or 1; {at} has {shown!r}")


def _jsonable(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _csv_cells(text: str, where: str, delimiter: str, text_column: str,
               label_column: str) -> Iterator[tuple[int, str, str]]:
    """(line a record starts on, text cell, label cell) of every non-blank CSV record."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise ValueError(f"{where} line 1 has no header; expected a header row naming its columns")
        for name, column in (("text_column", text_column), ("label_column", label_column)):
            if column not in header:
                raise ValueError(f"`{name}` {column!r} is not a column of {where} (line 1); columns: {header}")
        ti, li = header.index(text_column), header.index(label_column)
        end = reader.line_num  # the line the previous record ended on
        for record in reader:
            start, end = end + 1, reader.line_num
            if not record or not any(c.strip() for c in record):  # a blank line
                continue
            if len(record) <= max(ti, li):
                raise ValueError(f"{where} line {start} has {len(record)} field(s); the header has {len(header)} "
                                 f"(`text_column` {text_column!r} is field {ti + 1}, `label_column` "
                                 f"{label_column!r} field {li + 1})")
            yield start, record[ti], record[li]
    except csv.Error as err:
        raise ValueError(f"{where} line {reader.line_num} is not readable CSV: {err}") from err


def _jsonl_cells(text: str, where: str, text_column: str, label_column: str) -> Iterator[tuple[int, object, object]]:
    """(line, text value, label value) of every JSON Lines object."""
    for line, record in jsonl_objects(text, where, needs=f" with keys {text_column!r} and {label_column!r}"):
        for name, column in (("text_column", text_column), ("label_column", label_column)):
            if column not in record:
                raise ValueError(f"`{name}` {column!r} is missing from line {line} of {where}; "
                                 f"keys: {sorted(record)}")
        yield line, record[text_column], record[label_column]


def split_sizes(count: int) -> tuple[int, int, int]:
    """(train, val, test) sizes `_stratified_split` gives `count` items of one label: round(0.5 ·
    count), round(0.2 · count) and the rest (Python's round: halves to even)."""
    n_train, n_val = round(FRACTIONS[0] * count), round(FRACTIONS[1] * count)
    return n_train, n_val, count - n_train - n_val


# the fewest rows of one label that put at least one in each of train, val and test
MIN_PER_LABEL = next(c for c in range(1, 100) if min(split_sizes(c)) >= 1)


def check_splittable(rows: list[LabelledRow], path: str | os.PathLike) -> None:
    """Raise ValueError (naming `data`, the file and the lines) when a text occurs twice (stripped
    of surrounding spaces: a repeat could sit in train and in test, and a test score would then be
    a training score), or when a label has fewer than `MIN_PER_LABEL` rows (the head trains on both
    labels, the threshold needs label-0 texts in val, the attacks label-1 texts in test)."""
    where = repr(str(path))
    first: dict[str, LabelledRow] = {}
    for r in rows:
        key = r.text.strip()
        if key in first:
            o = first[key]
            clash = "" if o.label == r.label else f" with the other label ({o.label} there, {r.label} here)"
            raise ValueError(f"`data` {where} line {r.line} repeats the text of line {o.line}{clash}: {key[:60]!r}; "
                             f"each text must occur once (a repeat can land in train and in test); remove duplicates")
        first[key] = r
    counts = Counter(r.label for r in rows)
    for label in (0, 1):
        if counts[label] < MIN_PER_LABEL:
            raise ValueError(f"`data` {where} has {counts[label]} rows labelled {label}; the 50/20/30 "
                             f"train/val/test split needs at least {MIN_PER_LABEL} of each label (one per "
                             f"split) and a bound on a few test texts says little: use dozens")


def user_dataset(path: str | os.PathLike, text_column: str, label_column: str, seed: int) -> Dataset:
    """A user's labelled file (`labelled_rows`, `check_splittable`): stratified 50/20/30 split; the
    filter's sample is the test split, uniformly weighted (no generator, no oracle). Every check
    runs here, before any model is loaded."""
    rows = labelled_rows(path, text_column, label_column)
    check_splittable(rows, check_path("data", path))
    texts, labels = [r.text for r in rows], [r.label for r in rows]
    split = _stratified_split([str(lab) for lab in labels], seed + 1)
    n_test = sum(1 for s in split if s == 2)
    weights = [1.0 / n_test if s == 2 else 0.0 for s in split]
    return Dataset(texts, labels, split, [0] * len(texts), weights, ["user"] * len(texts), [""] * len(texts),
                   has_oracle=False)

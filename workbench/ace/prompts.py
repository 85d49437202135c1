"""Prompt sets: the user's CSV/JSONL files (one prompt per row, a named column) and the chat
template that turns a request into the prompt a chat model sees."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from workbench.tensor.validation import check_path, check_text


def load_prompts(path: str | os.PathLike, column: str = "prompt", name: str = "prompt_file") -> list[str]:
    """Non-empty prompts of column `column` of a .csv or .jsonl/.json-lines file.

    Raises FileNotFoundError for a missing file and ValueError (naming `name` or `column`) for an
    unknown format, an empty or undecodable file, a missing column, or a file with no prompts."""
    file = check_path(name, path)
    check_text("column", column)
    if not file.is_file():
        raise FileNotFoundError(f"`{name}` {str(file)!r} does not exist")
    if file.stat().st_size == 0:
        raise ValueError(f"`{name}` {str(file)!r} is empty")
    try:
        rows = _read_column(file, column, name)
    # undecodable bytes and malformed CSV (NUL bytes, oversized fields) name nothing on their own
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"`{name}` {str(file)!r} is not readable UTF-8 CSV/JSONL: {err}") from err
    prompts = [r.strip() for r in rows if r and r.strip()]
    if not prompts:
        raise ValueError(f"`{name}` {str(file)!r} holds no prompts in column {column!r}")
    return prompts


def _read_column(file: Path, column: str, name: str) -> list[str]:
    """Column `column` of every row of a .csv or .jsonl file (blank rows included)."""
    suffix = file.suffix.lower()
    if suffix == ".csv":
        with file.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            columns = reader.fieldnames or []
            if column not in columns:
                raise ValueError(f"`column` {column!r} is not a column of {str(file)!r}; it has {columns}")
            return [row.get(column) or "" for row in reader]
    if suffix in (".jsonl", ".ndjson"):
        rows = []
        for i, line in enumerate(file.read_text(encoding="utf-8").splitlines()):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"`{name}` {str(file)!r} line {i + 1} is not JSON: {err}") from err
            if not isinstance(record, dict) or column not in record:
                keys = sorted(record) if isinstance(record, dict) else type(record).__name__
                raise ValueError(f"`column` {column!r} is missing from line {i + 1} of {str(file)!r} (keys: {keys})")
            rows.append(str(record[column]))
        return rows
    raise ValueError(f"`{name}` must be a .csv or .jsonl file; got {str(file)!r}")


def format_chat(tokenizer, requests: list[str]) -> list[str]:
    """Each request as a single user turn with the assistant header opened (the tokenizer's chat
    template; the embedded tokenizers carry ``<user> … <assistant>`` as theirs)."""
    if not getattr(tokenizer, "chat_template", None):
        return list(requests)
    return [tokenizer.apply_chat_template([{"role": "user", "content": r}], tokenize=False, add_generation_prompt=True)
            for r in requests]

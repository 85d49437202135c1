"""Prompt sets: the user's CSV/JSONL files (one prompt per row, a named column), the length check
that refuses prompts longer than the model can take, and the chat template that turns a request
into the prompt a chat model sees.

File rules (`load_prompt_rows`):

- UTF-8, with or without a byte-order mark (a spreadsheet's "CSV UTF-8" starts with one);
- CSV: any line endings (\\n, \\r\\n, \\r); a header row names the columns; every cell is text;
- JSONL (.jsonl / .ndjson): one JSON object per line, split on \\n only (a raw U+2028 inside a JSON
  string is legal JSON, so `str.splitlines` would cut such a row in two); the column's value must
  be a JSON string — null, numbers, booleans, arrays and objects are refused rather than turned
  into the prompt "None" or "42";
- blank cells (empty or whitespace only, CSV or JSON "") are skipped, as are blank lines: a
  spreadsheet's trailing empty rows are common and carry no prompt;
- a prompt holding a lone surrogate (a JSON "\\ud800" escape with no partner) is refused: it is not
  valid Unicode, and the tokenizer would fail on it later, naming no file or line.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from workbench.core.textfiles import json_type, jsonl_objects, read_utf8
from workbench.core.validation import check_int, check_path, check_text


@dataclass(frozen=True)
class PromptRow:
    """One prompt (stripped, non-empty) and where it came from: `line` is the 1-based line of the
    file where its row starts, so later errors can point at it."""

    text: str
    file: str
    line: int


def load_prompts(path: str | os.PathLike, column: str = "prompt", name: str = "prompt_file") -> list[str]:
    """Non-empty, stripped prompts of column `column` of a .csv or .jsonl/.ndjson file (the texts
    of `load_prompt_rows`, whose docstring lists the errors)."""
    return [row.text for row in load_prompt_rows(path, column, name)]


def load_prompt_rows(path: str | os.PathLike, column: str = "prompt", name: str = "prompt_file") -> list[PromptRow]:
    """Non-empty, stripped prompts of column `column` of a .csv or .jsonl/.ndjson file, each with
    its line number (the module docstring gives the file rules).

    Raises FileNotFoundError for a missing file and ValueError naming `name` (the parameter that
    held the path, e.g. `harmful_file`) or `column`, the file and where known the line, for: an
    unknown format, an empty or non-UTF-8 file, malformed CSV or JSON, a missing column, a
    non-string JSON value, a lone surrogate, or a file with no prompts."""
    file = check_path(name, path)
    check_text("column", column)
    if not file.is_file():
        raise FileNotFoundError(f"`{name}` {str(file)!r} does not exist")
    suffix = file.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise ValueError(f"`{name}` must be a .csv or .jsonl file; got {str(file)!r}")
    if file.stat().st_size == 0:
        raise ValueError(f"`{name}` {str(file)!r} is empty")
    text = read_utf8(file, f"`{name}` {str(file)!r}")
    if not text:  # a byte-order mark and nothing else
        raise ValueError(f"`{name}` {str(file)!r} is empty")
    cells = _csv_cells(text, file, column, name) if suffix == ".csv" else _jsonl_cells(text, file, column, name)
    rows = []
    for line, cell in cells:
        _check_unicode(cell, file, line, name)
        if cell.strip():
            rows.append(PromptRow(cell.strip(), str(file), line))
    if not rows:
        raise ValueError(f"`{name}` {str(file)!r} holds no prompts in column {column!r}")
    return rows


def _csv_cells(text: str, file: Path, column: str, name: str) -> Iterator[tuple[int, str]]:
    """(line where the row starts, cell of `column`) for every data row of CSV `text`.

    csv.reader rather than DictReader: its line count before each row is where that row starts,
    blank lines and quoted multi-line cells included."""
    # newline="": the csv module sees \r\n and \r untranslated, as it needs for quoted line breaks
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, [])
        if column not in header:
            raise ValueError(f"`column` {column!r} is not a column of {str(file)!r}; it has {header}")
        index = header.index(column)
        start = reader.line_num + 1
        for cells in reader:
            # a short row (fewer cells than the header) has an empty cell here, as DictReader gives
            yield start, cells[index] if index < len(cells) else ""
            start = reader.line_num + 1
    except csv.Error as err:
        raise ValueError(f"`{name}` {str(file)!r} line {reader.line_num} is not readable CSV: {err}") from err


def _jsonl_cells(text: str, file: Path, column: str, name: str) -> Iterator[tuple[int, str]]:
    """(line, value of `column`) for every non-blank line of JSON Lines `text`; the value must be a
    JSON string."""
    where_file = f"`{name}` {str(file)!r}"
    for line, record in jsonl_objects(text, where_file, f" with the key `column` {column!r}"):
        where = f"{where_file} line {line}"
        if column not in record:
            raise ValueError(f"`column` {column!r} is missing from line {line} of {str(file)!r} "
                             f"(keys: {sorted(record)})")
        value = record[column]
        if not isinstance(value, str):
            raise ValueError(f"{where}: `column` {column!r} holds {json_type(value)} ({_short(value)}), "
                             "not a string; every prompt must be a JSON string")
        yield line, value


def _short(value: object, limit: int = 40) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_unicode(cell: str, file: Path, line: int, name: str) -> None:
    """Refuse a cell holding a lone surrogate (JSON allows the escape "\\ud800"; no encoder or
    tokenizer accepts the character)."""
    for position, char in enumerate(cell):
        if "\ud800" <= char <= "\udfff":
            raise ValueError(f"`{name}` {str(file)!r} line {line}: the prompt holds a lone surrogate "
                             f"U+{ord(char):04X} at character {position} (a \\u escape with no partner); "
                             "prompts must be valid Unicode text")


def check_prompt_lengths(tokenizer, prompts: Sequence[str], max_tokens: int, name: str,
                         lines: Sequence[int] | None = None) -> None:
    """Raise ValueError, before any model compute, if a prompt is longer than `max_tokens` tokens.

    Over-long prompts are refused, not truncated: a truncated prompt would silently be another
    request than the file's. Count with `tokenizer(p, add_special_tokens=False)` on the text the
    model sees (after `format_chat`); the caller passes the model's context length minus
    `max_new_tokens` as `max_tokens`. The message names `name` (e.g. `harmful_file`), each
    offending prompt's line (from `lines`, one per prompt) or else its 1-based position, its token
    count and the limit."""
    if check_int("max_tokens", max_tokens) < 1:
        raise ValueError(f"`max_tokens` (the model's context minus max_new_tokens) must be at least 1; got "
                         f"{max_tokens}: max_new_tokens leaves no room for a prompt")
    if lines is not None and len(lines) != len(prompts):
        raise ValueError(f"`lines` must hold one line number per prompt ({len(prompts)}); got {len(lines)}")
    if not prompts:
        return
    counts = [len(ids) for ids in tokenizer(list(prompts), add_special_tokens=False)["input_ids"]]
    long = [(i, n) for i, n in enumerate(counts) if n > max_tokens]
    if not long:
        return
    where = [f"line {n}" for n in lines] if lines is not None else [f"prompt {i + 1}" for i in range(len(prompts))]
    shown = ", ".join(f"{where[i]} ({n} tokens)" for i, n in long[:5])
    more = f" and {len(long) - 5} more" if len(long) > 5 else ""
    raise ValueError(f"`{name}`: {len(long)} prompt(s) longer than the {max_tokens} tokens allowed (the model's "
                     f"context minus max_new_tokens): {shown}{more}; over-long prompts are refused, not truncated "
                     "— shorten or remove them")


def format_chat(tokenizer, requests: list[str]) -> list[str]:
    """Each request as a single user turn with the assistant header opened (the tokenizer's chat
    template; the embedded tokenizers carry ``<user> … <assistant>`` as theirs)."""
    if not getattr(tokenizer, "chat_template", None):
        return list(requests)
    return [tokenizer.apply_chat_template([{"role": "user", "content": r}], tokenize=False, add_generation_prompt=True)
            for r in requests]

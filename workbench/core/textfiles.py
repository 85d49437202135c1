"""Reading a user's text data files: UTF-8 with or without a byte-order mark, and JSON Lines, with
errors that name the file and the line a user can find in an editor."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path

# the JSON names of the Python types json.loads returns, for messages about a value of the wrong type
_JSON_TYPES = {type(None): "null", bool: "a boolean", int: "a number", float: "a number", str: "a string",
               list: "an array", dict: "an object"}


def json_type(value: object) -> str:
    """"null", "a number", "an array" …: how a JSON user names the type of `value`."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


def read_utf8(file: Path, label: str) -> str:
    """The file's text without a leading byte-order mark (a spreadsheet's "CSV UTF-8" has one).
    Undecodable bytes raise ValueError starting with `label` (e.g. "`data` 'x.csv'") and naming
    the line."""
    data = file.read_bytes()
    # strip the mark by hand rather than decode "utf-8-sig": that codec's error offsets skip it,
    # which would point the message below at the wrong byte
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        # the decoder reports a byte offset; a line number is what a user can find in an editor
        line = data[: err.start].count(b"\n") + 1
        raise ValueError(f"{label} is not UTF-8 text: line {line}: {err.reason} "
                         f"(byte {data[err.start:err.start + 1]!r}); save it as UTF-8") from err


def jsonl_objects(text: str, label: str, needs: str = "") -> Iterator[tuple[int, dict]]:
    """(1-based line, object) for every non-blank line of JSON Lines `text`. Lines are split on
    \\n only: a raw U+2028 inside a JSON string is legal JSON, and `str.splitlines` would cut such
    a row in two (a trailing \\r is JSON whitespace). A line that is not JSON, or not an object,
    raises ValueError starting with `label`; `needs` ends that message (e.g. " with the key …")."""
    for i, line in enumerate(text.split("\n")):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{label} line {i + 1} is not JSON: {err}") from err
        if not isinstance(record, dict):
            raise ValueError(f"{label} line {i + 1} is {json_type(record)}, not a JSON object{needs}")
        yield i + 1, record

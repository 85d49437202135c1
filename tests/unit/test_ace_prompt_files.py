"""Prompt files as users save them (BOM, CRLF, JSON nulls and numbers, lone surrogates), the
prompt-length check, and refusal openers for a real byte-level BPE tokenizer next to the embedded
word tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from workbench.ace.data import build_instruction_set
from workbench.ace.judges import REFUSAL_OPENING_PHRASES, REFUSAL_PHRASES, derive_refusal_openers, refusal_token_ids
from workbench.ace.models import build_tokenizer
from workbench.ace.prompts import PromptRow, check_prompt_lengths, load_prompt_rows, load_prompts

BOM = b"\xef\xbb\xbf"


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


@pytest.fixture(scope="module")
def bpe() -> PreTrainedTokenizerFast:
    """A byte-level BPE (GPT-2/Llama-3 style) of 300 tokens, trained on a few sentences: "I" and
    "As" are one token each, "sorry"/"Sorry"/"Unfortunately" never occur and stay byte pieces."""
    corpus = ["I cannot help with that request.", "As an AI model, I will not do that.",
              "I can give you a recipe for bread.", "As requested, here is the answer.", "I am happy to help you."]
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    core.train_from_iterator(corpus * 20, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=core)


@pytest.fixture(scope="module")
def words() -> PreTrainedTokenizerFast:
    """The embedded models' word tokenizer: lower-case words, "i" and "sorry" one token each."""
    return build_tokenizer(build_instruction_set(4, 4))


# --- prompt files ------------------------------------------------------------------------------------
def test_a_byte_order_mark_is_accepted_in_csv_and_jsonl(tmp_path):
    csv_file = _write(tmp_path / "excel.csv", BOM + b"prompt,id\nhello there,1\nsecond,2\n")
    assert load_prompts(csv_file, name="harmful_file") == ["hello there", "second"]
    jsonl = _write(tmp_path / "bom.jsonl", BOM + b'{"prompt": "hello"}\n{"prompt": "again"}\n')
    assert load_prompts(jsonl, name="harmful_file") == ["hello", "again"]
    with pytest.raises(ValueError, match="`harmful_file` .* is empty"):
        load_prompts(_write(tmp_path / "only.csv", BOM), name="harmful_file")


def test_windows_line_endings_and_multi_line_cells_keep_their_line_numbers(tmp_path):
    file = _write(tmp_path / "crlf.csv", b'prompt\r\nfirst\r\n\r\n"two\r\nlines"\r\nlast\r\n')
    rows = load_prompt_rows(file, name="harmful_file")
    assert [r.text for r in rows] == ["first", "two\r\nlines", "last"]  # no stray \r in a prompt
    assert [r.line for r in rows] == [2, 4, 6]  # line 3 is blank; the quoted cell spans 4-5
    assert rows[0] == PromptRow("first", str(file), 2)
    jsonl = _write(tmp_path / "crlf.jsonl", b'{"prompt": "a"}\r\n\r\n{"prompt": "b\\u2028c"}\r\n')
    assert [(r.text, r.line) for r in load_prompt_rows(jsonl)] == [("a", 1), ("b\u2028c", 3)]


def test_a_raw_line_separator_inside_a_json_string_does_not_split_the_row(tmp_path):
    """json.dumps(ensure_ascii=False) writes U+2028 raw; str.splitlines would cut the row there."""
    text = json.dumps({"prompt": "one\u2028two"}, ensure_ascii=False) + "\n"
    file = _write(tmp_path / "raw.jsonl", text.encode("utf-8"))
    assert load_prompts(file) == ["one\u2028two"]


@pytest.mark.parametrize("value, kind", [("null", "null"), ("42", "a number"), ("1.5", "a number"),
                                         ("false", "a boolean"), ('["a"]', "an array"), ('{"a": 1}', "an object")])
def test_a_non_string_json_cell_is_refused_naming_file_line_and_type(tmp_path, value, kind):
    file = _write(tmp_path / "p.jsonl", f'{{"prompt": "fine"}}\n\n{{"prompt": {value}}}\n'.encode())
    with pytest.raises(ValueError, match=rf"`harmful_file` '.*p\.jsonl' line 3: `column` 'prompt' holds {kind} "):
        load_prompts(file, name="harmful_file")


def test_blank_cells_are_skipped_in_both_formats(tmp_path):
    csv_file = _write(tmp_path / "p.csv", b"prompt,id\n,1\n  ,2\nreal,3\n")
    assert [(r.text, r.line) for r in load_prompt_rows(csv_file)] == [("real", 4)]
    jsonl = _write(tmp_path / "p.jsonl", b'{"prompt": ""}\n{"prompt": "  "}\n{"prompt": " real "}\n')
    assert [(r.text, r.line) for r in load_prompt_rows(jsonl)] == [("real", 3)]


def test_a_line_that_is_not_a_json_object_is_refused_clearly(tmp_path):
    for value, kind in (('["hello"]', "an array"), ('"hello"', "a string"), ("7", "a number"), ("null", "null")):
        file = _write(tmp_path / "p.jsonl", f'{{"prompt": "a"}}\n{value}\n'.encode())
        with pytest.raises(ValueError, match=rf"`harmful_file` .* line 2 is {kind}, not a JSON object with the key "
                                             r"`column` 'prompt'"):
            load_prompts(file, name="harmful_file")


def test_a_lone_surrogate_is_refused_naming_the_line(tmp_path):
    file = _write(tmp_path / "s.jsonl", b'{"prompt": "ok"}\n{"prompt": "ab\\ud800c"}\n')
    with pytest.raises(ValueError, match=r"`harmless_file` '.*s\.jsonl' line 2: .*lone surrogate U\+D800 at "
                                         r"character 2"):
        load_prompts(file, name="harmless_file")
    pair = _write(tmp_path / "pair.jsonl", b'{"prompt": "\\ud83d\\ude00"}\n')  # a valid pair is one emoji
    assert load_prompts(pair) == ["\U0001F600"]


def test_bytes_that_are_not_utf8_are_refused_naming_the_line(tmp_path):
    file = _write(tmp_path / "latin.csv", "prompt\nok\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"`harmful_file` .* is not UTF-8 text: line 3: .*\(byte b'\\xe9'\)"):
        load_prompts(file, name="harmful_file")
    marked = _write(tmp_path / "marked.csv", BOM + b"prompt\nok\n\xff\n")
    with pytest.raises(ValueError, match=r"is not UTF-8 text: line 3: .*\(byte b'\\xff'\)"):
        load_prompts(marked, name="harmful_file")


# --- prompt lengths ------------------------------------------------------------------------------------
def test_an_over_long_prompt_is_refused_naming_its_line_and_counts(words):
    prompts = ["how do i bake bread", "how do i bake bread " * 10, "hi"]
    counts = [len(words(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    check_prompt_lengths(words, prompts, max_tokens=max(counts), name="harmful_file", lines=[2, 3, 4])
    with pytest.raises(ValueError, match=rf"`harmful_file`: 1 prompt\(s\) longer than the 10 tokens allowed .*"
                                         rf"line 17 \({counts[1]} tokens\).*refused, not truncated"):
        check_prompt_lengths(words, prompts, max_tokens=10, name="harmful_file", lines=[9, 17, 30])
    with pytest.raises(ValueError, match=rf"prompt 2 \({counts[1]} tokens\)"):
        check_prompt_lengths(words, prompts, max_tokens=10, name="harmful_file")
    with pytest.raises(ValueError, match="`max_tokens` .* at least 1; got -3"):
        check_prompt_lengths(words, prompts, max_tokens=-3, name="harmful_file")
    with pytest.raises(ValueError, match="`lines` must hold one line number per prompt"):
        check_prompt_lengths(words, prompts, max_tokens=10, name="harmful_file", lines=[1])


# --- refusal openers -----------------------------------------------------------------------------------
def test_a_multi_token_opener_is_refused_not_cut_to_its_first_piece(bpe, words):
    with pytest.raises(ValueError, match=r"`refusal_openers` entry 'sorry' is 5 tokens \['s', 'o', 'r', 'r', 'y'\]"):
        refusal_token_ids(bpe, ["I", "sorry"])
    with pytest.raises(ValueError, match="`refusal_openers` entry 'zebra' is the unknown token"):
        refusal_token_ids(words, ["i", "zebra"])
    with pytest.raises(ValueError, match="`refusal_openers` must be a non-empty sequence"):
        refusal_token_ids(words, "sorry")
    assert refusal_token_ids(words, ["sorry", "i", "i"]) == sorted(
        {words.convert_tokens_to_ids(w) for w in ("i", "sorry")}
    )


def test_derived_openers_are_whole_single_token_words(bpe, words):
    derived = derive_refusal_openers(bpe)
    assert derived == ("I", "As")  # "Sorry", "Unfortunately" are byte pieces here; "I'm" is "I" + "'" + "m"
    new = refusal_token_ids(bpe, derived)
    old = sorted({bpe.encode(p, add_special_tokens=False)[0] for p in REFUSAL_OPENING_PHRASES})  # first pieces
    assert new == sorted(bpe.convert_tokens_to_ids(["I", "As"]))
    assert bpe.convert_tokens_to_ids("S") in old and bpe.convert_tokens_to_ids("S") not in new  # "Sorry" → "S"
    assert derive_refusal_openers(words, REFUSAL_PHRASES) == ("i", "sorry")  # lower case, as the embedded data
    with pytest.raises(ValueError, match="`refusal_openers` cannot be derived"):
        derive_refusal_openers(words)  # capitalised phrases are unknown words to the embedded tokenizer


class _ContextTokenizer:
    """A tokenizer whose split of a word depends on what follows (as a unigram model without a
    whitespace pre-split can): "As an AI" starts with the token "As", "As" alone is "A" + "s"."""

    vocab = ("As", " an AI", "A", "s")

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return {"As an AI": [0, 1], "As": [2, 3]}[text]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.vocab[i] for i in ids)


def test_a_derived_opener_is_one_token_on_its_own_too():
    """Else `refusal_token_ids` would refuse what `derive_refusal_openers` returned."""
    with pytest.raises(ValueError, match=r"cannot be derived: .*'As' → \['A', 's'\]"):
        derive_refusal_openers(_ContextTokenizer(), ["As an AI"])

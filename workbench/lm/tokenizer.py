"""A word-level tokenizer for a small known language, built with the `tokenizers` package and
wrapped as a `transformers.PreTrainedTokenizerFast` (so it saves into an HF folder and
`TransformerBridge.boot_transformers` can load it back)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from workbench.core.validation import check_sequence


def build_word_tokenizer(
    texts: Iterable[str],
    special_tokens: Sequence[str],
    *,
    pad_token: str,
    eos_token: str,
    unk_token: str,
    bos_token: str | None = None,
) -> PreTrainedTokenizerFast:
    """Vocabulary = `special_tokens` (ids 0, 1, …, in order) then every whitespace-separated word
    of `texts`, sorted, so the same texts always give the same ids. Padding side is left (the
    side batched generation needs)."""
    specials = list(check_sequence("special_tokens", special_tokens))
    for name, token in (("pad_token", pad_token), ("eos_token", eos_token), ("unk_token", unk_token)):
        if token not in specials:
            raise ValueError(f"`{name}` {token!r} must be one of `special_tokens` {specials}")
    words = sorted({w for text in texts for w in text.split()} - set(specials))
    vocab = {tok: i for i, tok in enumerate(specials + words)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=unk_token))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.add_special_tokens(specials)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=pad_token, eos_token=eos_token, unk_token=unk_token,
        bos_token=bos_token, padding_side="left", clean_up_tokenization_spaces=False,
    )
    return tokenizer

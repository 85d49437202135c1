"""The cache key covers what a config's path fields point at: an edited data file or a folder with
new weights is a new key, not the old result served again (the config holds only the name)."""

from __future__ import annotations

import dataclasses
import os

from workbench.core.cache import cache_key, input_fingerprint
from workbench.core.validation import Int, Text, check_fields, param


@dataclasses.dataclass(frozen=True)
class WithPaths:
    data: str | None = param(None, Text(optional=True, path=True))
    folder: str | None = param(None, Text(optional=True, path=True))
    label: str = param("x", Text())  # not a path: never read from disk, even if a file has its name
    n: int = param(1, Int(1))

    def __post_init__(self) -> None:
        check_fields(self)


def test_an_edited_file_or_folder_is_a_new_key(tmp_path):
    data, folder = tmp_path / "data.csv", tmp_path / "model"
    data.write_text("text,label\nhello,0\n")
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"1234")
    config = WithPaths(data=str(data), folder=str(folder), label=str(data))
    first = cache_key("k", config, "code")
    assert cache_key("k", config, "code") == first  # nothing changed: the same key
    assert set(input_fingerprint(config)) == {"data", "folder"}
    data.write_text("text,label\nhello,1\n")  # same size, other content
    second = cache_key("k", config, "code")
    assert second != first
    (folder / "model.safetensors").write_bytes(b"12345")  # new weights
    assert cache_key("k", config, "code") != second


def test_a_folder_is_listed_not_hashed_and_unset_paths_add_nothing(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    weights = folder / "model.safetensors"
    weights.write_bytes(b"abcd")
    os.utime(weights, ns=(1, 2))
    assert input_fingerprint(WithPaths(folder=str(folder))) == {"folder": [("model.safetensors", 4, 2)]}
    assert input_fingerprint(WithPaths()) == {} and input_fingerprint(object()) == {}

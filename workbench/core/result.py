"""`Result`: a frozen dataclass of tensors, a config and JSON-able values that saves itself.

On disk a result is a folder:

    result.json           {"kind": <class name>, "format": 1, "config": {...}, "values": {...},
                           "tensors": {name: shape}, "tensor_maps": {field: {key: shape}}}
    tensors.safetensors   every Tensor field, and each entry of a `dict[str, Tensor]` field (a
                          per-model tensor whose shape differs between models) as "field/key"

Loading never unpickles: tensors come from safetensors, the rest from JSON. A file of another
kind, a missing field, or a tensor whose shape differs from the recorded one (or from what the
subclass's `validate()` expects) raises `ArtifactError` naming the field.
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from pathlib import Path
from typing import Any, ClassVar, Self

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from workbench.core.atomic import atomic_dir
from workbench.core.validation import check_path

FORMAT_VERSION = 1
META_FILE = "result.json"
TENSOR_FILE = "tensors.safetensors"


class ArtifactError(ValueError):
    """A saved result or cache entry is missing, corrupt, of another kind, or of another shape."""


def config_to_dict(config: Any) -> dict[str, Any]:
    """A frozen config dataclass as a JSON-able dict (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a config dataclass from `config_to_dict` output (lists back to tuples).

    Raises ArtifactError when `data` is not a dict of `cls`'s fields or fails its validation.
    """
    if not isinstance(data, dict):
        raise ArtifactError(f"saved config must be a JSON object; got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ArtifactError(f"saved config has fields {sorted(unknown)} unknown to {cls.__name__}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ArtifactError(f"saved config is not a valid {cls.__name__}: {err}") from err


@dataclasses.dataclass(frozen=True)
class Result:
    """Base class: subclasses are frozen dataclasses with a `config` field plus tensor/JSON fields."""

    kind: ClassVar[str] = "Result"
    # tensor field → the config fields its values come from, named when a run produces NaN/inf there
    value_sources: ClassVar[dict[str, str]] = {}
    # float tensor fields where NaN is a value ("not measured"); every other one must be finite
    may_be_nan: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        # every result is checked when it is made — at the end of a run and on load — so a result
        # with the wrong shapes or NaN where the math needs numbers is never served or drawn
        self.validate()
        self.check_finite()

    def validate(self) -> None:
        """Subclasses check tensor shapes against their config; raise ArtifactError on mismatch."""

    def check_finite(self) -> None:
        """Raise ArtifactError naming the first float tensor field (outside `may_be_nan`) that holds
        NaN or ±inf, how many, and the config fields its values come from (`value_sources`)."""
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in self.may_be_nan:
                continue
            entries = _tensor_map(value) or {"": value}
            for key, tensor in entries.items():
                if not isinstance(tensor, Tensor) or not tensor.is_floating_point():
                    continue
                bad = int((~torch.isfinite(tensor)).sum())
                if bad:
                    source = self.value_sources.get(field.name)
                    hint = f"; its values come from the config's {source}" if source else ""
                    name = f"{field.name}[{key!r}]" if key else field.name
                    raise ArtifactError(f"tensor `{name}` holds {bad} non-finite values (NaN or inf) of "
                                        f"{tensor.numel()}{hint}")

    def save(self, path: str | os.PathLike) -> Path:
        """Write the result folder atomically (temp folder, then rename); return its path."""
        tensors: dict[str, Tensor] = {}
        maps: dict[str, dict[str, list[int]]] = {}
        mapped: dict[str, Tensor] = {}
        values: dict[str, Any] = {}
        config: dict[str, Any] | None = None
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, Tensor):
                tensors[field.name] = value.detach().to("cpu").contiguous()
            elif _tensor_map(value):
                maps[field.name] = {key: list(t.shape) for key, t in value.items()}
                mapped.update({f"{field.name}/{key}": t.detach().to("cpu").contiguous() for key, t in value.items()})
            elif dataclasses.is_dataclass(value):
                config = config_to_dict(value)
            else:
                values[field.name] = value
        meta = {
            "kind": type(self).kind,
            "format": FORMAT_VERSION,
            "config": config,
            "values": values,
            "tensors": {name: list(t.shape) for name, t in tensors.items()},
            "tensor_maps": maps,
        }
        target = Path(path)
        with atomic_dir(target) as tmp:
            save_file({**tensors, **mapped}, str(tmp / TENSOR_FILE))
            (tmp / META_FILE).write_text(json.dumps(meta, indent=1))
        return target

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "cpu") -> Self:
        """Read a folder written by `save`. Raises FileNotFoundError or ArtifactError (both name `path`)."""
        folder = check_path("path", path)
        if not (folder / META_FILE).is_file() or not (folder / TENSOR_FILE).is_file():
            raise FileNotFoundError(
                f"`path` {str(folder)!r} is not a saved {cls.kind}: expected {META_FILE} and {TENSOR_FILE}"
            )
        meta = _read_meta(folder, cls.kind)
        try:
            tensors = load_file(str(folder / TENSOR_FILE), device=str(device))
        except (SafetensorError, OSError, RuntimeError) as err:
            raise _foreign(folder, f"{TENSOR_FILE} is corrupt or truncated: {err}") from err
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            hint = hints[field.name]
            if isinstance(hint, type) and dataclasses.is_dataclass(hint):
                if not isinstance(meta["config"], dict):
                    raise _foreign(folder, f"`config` must be a JSON object; got {type(meta['config']).__name__}")
                try:
                    kwargs[field.name] = config_from_dict(hint, meta["config"])
                except ArtifactError as err:
                    raise _foreign(folder, str(err)) from err
            elif _is_tensor_hint(hint):
                kwargs[field.name] = _recorded_tensor(folder, field.name, meta["tensors"], tensors)
            elif _is_tensor_map_hint(hint):
                shapes = meta.get("tensor_maps", {}).get(field.name)
                if not isinstance(shapes, dict):
                    raise _foreign(folder, f"tensor map `{field.name}` is missing")
                kwargs[field.name] = {key: _recorded_tensor(folder, f"{field.name}/{key}",
                                                            {f"{field.name}/{k}": v for k, v in shapes.items()},
                                                            tensors) for key in shapes}
            elif field.name in meta["values"]:
                value = meta["values"][field.name]
                if not _json_fits(hint, value):
                    raise _foreign(folder, f"value `{field.name}` is a {type(value).__name__}, expected {hint}")
                kwargs[field.name] = value
            else:
                raise _foreign(folder, f"field `{field.name}` of {cls.kind} is missing")
        try:
            result = cls(**kwargs)  # __post_init__ validates shapes and finiteness
        except ArtifactError as err:
            raise _foreign(folder, str(err)) from err
        except (TypeError, ValueError, IndexError, KeyError, AttributeError) as err:
            # a subclass's validate() met values of another shape than it can even inspect
            raise _foreign(folder, f"does not fit {cls.kind}: {err}") from err
        return result


def _foreign(folder: Path, message: str) -> ArtifactError:
    """An ArtifactError naming the `path` parameter and the folder."""
    return ArtifactError(f"`path` {str(folder)!r}: {message}")


def _read_meta(folder: Path, kind: str) -> dict[str, Any]:
    """result.json as a dict with the shapes `save` writes (anything else is a foreign file)."""
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _foreign(folder, f"{META_FILE} is not valid JSON: {err}") from err
    if not isinstance(meta, dict) or meta.get("kind") != kind:
        found = meta.get("kind") if isinstance(meta, dict) else type(meta).__name__
        raise _foreign(folder, f"holds a {found!r}, not a {kind!r}")
    if meta.get("format") != FORMAT_VERSION:
        raise _foreign(folder, f"{META_FILE} has format {meta.get('format')!r}; this version reads {FORMAT_VERSION}")
    values, shapes = meta.get("values"), meta.get("tensors")
    if not isinstance(values, dict):
        raise _foreign(folder, f"`values` in {META_FILE} must be a JSON object; got {type(values).__name__}")
    if not isinstance(shapes, dict) or not all(
        isinstance(v, list) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in v)
        for v in shapes.values()
    ):
        raise _foreign(folder, f"`tensors` in {META_FILE} must map names to shapes (lists of sizes)")
    meta.setdefault("config", None)
    return meta


def _is_tensor_hint(hint: object) -> bool:
    """Tensor, or a jaxtyping annotation of one (Float[Tensor, "n d"] carries `array_type`)."""
    return hint is Tensor or getattr(hint, "array_type", None) is Tensor


def _is_tensor_map_hint(hint: object) -> bool:
    """dict[str, Tensor] (values may be jaxtyping annotations): one tensor per key."""
    args = typing.get_args(hint)
    return typing.get_origin(hint) is dict and len(args) == 2 and args[0] is str and _is_tensor_hint(args[1])


def _tensor_map(value: object) -> dict[str, Tensor] | None:
    """`value` when it is a non-empty dict of str → Tensor, else None."""
    if isinstance(value, dict) and value and all(isinstance(k, str) and isinstance(v, Tensor)
                                                  for k, v in value.items()):
        return value
    return None


def _json_fits(hint: object, value: object) -> bool:
    """Whether a JSON value can be the field's value (plain types only; unions and Any pass)."""
    origin = typing.get_origin(hint) or hint
    if origin is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (str, bool, list, dict):
        return isinstance(value, origin)
    return True


def _recorded_tensor(folder: Path, name: str, shapes: dict[str, list[int]], tensors: dict[str, Tensor]) -> Tensor:
    """Tensor `name`, present in both files with the shape result.json recorded."""
    if name not in shapes or name not in tensors:
        raise _foreign(folder, f"tensor `{name}` is missing")
    if list(tensors[name].shape) != shapes[name]:
        raise _foreign(folder, f"tensor `{name}` has shape {list(tensors[name].shape)}, recorded {shapes[name]}")
    return tensors[name]


def expect_shape(name: str, tensor: Tensor, shape: tuple[int, ...]) -> None:
    """Raise ArtifactError unless `tensor.shape == shape` (for `Result.validate`)."""
    if tuple(tensor.shape) != tuple(shape):
        raise ArtifactError(f"tensor `{name}` has shape {list(tensor.shape)}; the config implies {list(shape)}")

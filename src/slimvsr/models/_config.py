"""Turning frozen config dataclasses into JSON-ready dicts and back, nested ones included."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a (nested) frozen dataclass: tuples become lists."""

    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (tuple, list)):
            return [conv(x) for x in v]
        return v

    return conv(cfg)


# Bounds that no real configuration comes near (the widest published network here has 256
# channels, the deepest 60 blocks): a damaged or hostile config.json is refused before a network
# of 10^9 channels or blocks is built.
MAX_INT = 1 << 14
MAX_LEN = 1 << 12


def _from(tp: Any, v: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if v is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        return _from(non_none[0], v, where)
    if v is None:
        raise ValueError(f"{where}: null where a value is needed")
    if origin is typing.Literal:
        if v not in args:
            raise ValueError(f"{where}: {v!r} is not one of {', '.join(map(repr, args))}")
        return v
    if origin is tuple:
        if not isinstance(v, list | tuple):
            raise ValueError(f"{where}: expected a list, got {type(v).__name__}")
        if len(v) > MAX_LEN:
            raise ValueError(f"{where}: {len(v)} entries (at most {MAX_LEN})")
        inner = args[0] if args else Any
        return tuple(_from(inner, x, f"{where}[{i}]") for i, x in enumerate(v))
    if dataclasses.is_dataclass(tp):
        return config_from_dict(tp, v, where)
    if tp is bool:
        if not isinstance(v, bool):
            raise ValueError(f"{where}: expected true or false, got {v!r}")
        return v
    if tp is int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"{where}: expected an integer, got {v!r}")
        if not 0 <= v <= MAX_INT:
            raise ValueError(f"{where}: {v} is out of range (0 to {MAX_INT})")
        return v
    if tp is float:
        if isinstance(v, bool) or not isinstance(v, int | float) or v != v or abs(v) > 1e6:
            raise ValueError(f"{where}: expected a finite number, got {v!r}")
        return float(v)
    if tp is str:
        if not isinstance(v, str):
            raise ValueError(f"{where}: expected a string, got {type(v).__name__}")
        return v
    return v


def config_from_dict(cls: type[T], data: Any, where: str | None = None) -> T:
    """Rebuild ``cls`` from :func:`config_to_dict` output, checking every value's type and range
    (``ValueError`` naming the field). Unknown keys are an error, so a config written by a newer
    version is refused rather than silently half-read."""
    where = where or cls.__name__
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown config keys {sorted(unknown)}")
    return cls(**{k: _from(hints[k], v, f"{where}.{k}") for k, v in data.items()})

"""Fixed sets of option values, checked when a config is built.

Config dataclasses type such fields as ``Literal[...]`` and call ``check_choices(self)`` in
``__post_init__``: a value outside the set is a ``ConfigError`` naming the allowed ones, never a
silent fallback.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal

from .errors import ConfigError


def allowed_values(tp: Any) -> tuple[Any, ...] | None:
    """The values a ``Literal[...]`` (or ``Literal[...] | None``) annotation admits, else None."""
    if typing.get_origin(tp) is Literal:
        return typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        parts = [allowed_values(a) for a in typing.get_args(tp) if a is not type(None)]
        if parts and all(p is not None for p in parts):
            nullable = type(None) in typing.get_args(tp)
            return tuple(v for p in parts for v in p) + ((None,) if nullable else ())
    return None


def check_choices(obj: Any) -> None:
    """Raise ``ConfigError`` for the first ``Literal`` field of dataclass ``obj`` whose value is
    outside its set."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        allowed = allowed_values(hints.get(f.name))
        if allowed is None:
            continue
        value = getattr(obj, f.name)
        if value not in allowed:
            shown = ", ".join(repr(v) for v in allowed)
            raise ConfigError(f"{type(obj).__name__}.{f.name} = {value!r} is not one of {shown}")

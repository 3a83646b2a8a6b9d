"""Protobuf enum values by their short names: buf prefixes every value with its enum's name.

`Payment.State` spells its values `STATE_PROCESSING` ...; domain enums, JSON output and
ErrorInfo reasons use the short `PROCESSING`. These helpers add or strip the prefix derived from
the enum's own name, so no caller spells a prefix by hand.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    # Generic over the value type in the stubs only (mypy-protobuf's NewType per enum).
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper

V = TypeVar("V", bound=int)
_WORD_START = re.compile(r"(?<!^)(?=[A-Z])")


def prefix(enum: _EnumTypeWrapper[Any]) -> str:
    """The value prefix buf asks for: the enum's name in UPPER_SNAKE and an underscore."""
    return _WORD_START.sub("_", enum.DESCRIPTOR.name).upper() + "_"


def short_name(enum: _EnumTypeWrapper[V], number: V) -> str:
    """`short_name(pb.Payment.State, pb.Payment.STATE_PROCESSING)` is "PROCESSING"."""
    return enum.Name(number).removeprefix(prefix(enum))


def value_of(enum: _EnumTypeWrapper[V], name: str) -> V:
    """`value_of(pb.Payment.State, "PROCESSING")` is `pb.Payment.STATE_PROCESSING`."""
    return enum.Value(prefix(enum) + name)


def short_names(enum: _EnumTypeWrapper[Any]) -> list[str]:
    """Every value's short name but the zero `UNSPECIFIED`, in declaration order."""
    return [short_name(enum, v.number) for v in enum.DESCRIPTOR.values if v.number != 0]

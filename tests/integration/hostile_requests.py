"""Hypothesis strategies for random and hostile protobuf requests, built from descriptors."""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

# A merchant and a user of the fuzz's own: requests that name them get past the first checks,
# and whatever they do there leaves the demo merchant and user, which other tests use, alone.
FUZZ_MERCHANT = "MFUZZ0001"
FUZZ_USER = "UFUZZ0001"
# Values a real caller might send, so some requests get past the first checks.
PLAUSIBLE_TEXT = [FUZZ_MERCHANT, FUZZ_USER, "CNY", "USD", "banksim", "2026-01-01", "a" * 4096]
HOSTILE_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40
)
MAX_DEPTH = 3
INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}


def _integers(low: int, high: int) -> st.SearchStrategy[int]:
    edges = [low, high, 0, 1, -1, 2**31 - 1, 10**12]
    return st.one_of(
        st.sampled_from([e for e in edges if low <= e <= high]),
        st.integers(min_value=max(low, -1000), max_value=min(high, 10**6)),
        st.integers(min_value=low, max_value=high),
    )


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.type in INT_RANGES:
        return _integers(*INT_RANGES[field.type])
    if field.type == FieldDescriptor.TYPE_ENUM:
        # Known numbers and unknown ones: proto3 enums are open, any int32 can arrive.
        assert field.enum_type is not None
        known = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(known), _integers(-(2**31), 2**31 - 1))
    if field.type == FieldDescriptor.TYPE_STRING:
        return st.one_of(st.sampled_from(PLAUSIBLE_TEXT), HOSTILE_TEXT)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(
            allow_nan=True, width=32 if field.type == FieldDescriptor.TYPE_FLOAT else 64
        )
    raise AssertionError(f"no strategy for field type {field.type} of {field.full_name}")


def _value(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    if field.message_type is not None:
        return messages(field.message_type, depth + 1)
    return _scalar(field)


def _repeated(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    entry = field.message_type
    if entry is not None and entry.GetOptions().map_entry:
        key, value = entry.fields_by_name["key"], entry.fields_by_name["value"]
        return st.dictionaries(_scalar(key), _value(value, depth), max_size=3)
    # Mostly short lists, sometimes an oversized one.
    return st.one_of(
        st.lists(_value(field, depth), max_size=3),
        st.lists(_value(field, depth), min_size=200, max_size=300) if depth == 0 else st.just([]),
    )


def messages(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
    """Random messages of the type: each field unset, typical, extreme or malformed."""
    cls = GetMessageClass(descriptor)
    if depth >= MAX_DEPTH:
        return st.just(cls())
    fields = {}
    for field in descriptor.fields:
        repeated = field.is_repeated
        value = _repeated(field, depth) if repeated else _value(field, depth)
        fields[field.name] = st.one_of(st.none(), value)

    @st.composite
    def build(draw: st.DrawFn) -> Message:
        drawn = {name: draw(strategy) for name, strategy in fields.items()}
        message = cls()
        for name, value in drawn.items():
            if value is None:
                continue
            _assign(message, descriptor.fields_by_name[name], value)
        return message

    return build()


def _assign(message: Message, field: FieldDescriptor, value: Any) -> None:
    target = getattr(message, field.name)
    if field.is_repeated:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, Message):
                    target[key].CopyFrom(item)
                else:
                    target[key] = item
        else:
            target.extend(value)
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        target.CopyFrom(value)
    else:
        setattr(message, field.name, value)

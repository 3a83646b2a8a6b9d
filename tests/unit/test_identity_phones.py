"""Pure tests of mainland mobile number checks and normalisation."""

from __future__ import annotations

import pytest

from identity.domain import pii
from identity.domain.phones import PhoneCheck, normalise_mobile, parse_mobile

# Failures below compare numbers through a bool first, so pytest never echoes a number.

_FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + i) for i in range(10)))


def _gives(check: PhoneCheck, expected: str) -> bool:
    return check.number == expected


@pytest.mark.parametrize(
    "typed",
    [
        "13800138000",
        "+86 138 0013 8000",
        "86-13800138000",
        "+8613800138000",
        "0086 138 0013 8000",
        "138-0013-8000",
        " 13800138000 ",
    ],
)
def test_mainland_mobile_forms_normalise_to_11_digits(typed: str) -> None:
    check = parse_mobile(typed)

    assert check.errors == ()
    assert _gives(check, "13800138000"), "normalised number"
    assert check.valid


@pytest.mark.parametrize("number", ["15000000000", "17011112222", "18912345678", "19912345678"])
def test_other_carrier_ranges_are_mobiles(number: str) -> None:
    matches = normalise_mobile(number) == number

    assert matches, "normalised number"


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("010-12345678", "NOT_MOBILE"),  # Beijing landline
        ("+86 10 1234 5678", "NOT_MOBILE"),
        ("021 6123 4567", "NOT_MOBILE"),  # Shanghai landline
        ("+1 650 253 0000", "NOT_CN"),
        ("+1 202 555 0143", "NOT_CN"),
        ("+852 9123 4567", "NOT_CN"),  # Hong Kong mobile: a different numbering plan
        ("1380013800", "INVALID"),  # ten digits
        ("138001", "INVALID"),
        ("12812341234", "INVALID"),  # no 128 range
        ("", "FORMAT"),
        ("phone", "FORMAT"),
        ("13800138000 ext 12", "FORMAT"),
        ("13800138000\n1", "FORMAT"),
        ("13800138000".translate(_FULLWIDTH), "FORMAT"),
        ("++8613800138000", "FORMAT"),
    ],
)
def test_other_numbers_are_refused(typed: str, error: str) -> None:
    check = parse_mobile(typed)

    assert check.errors == (error,)
    assert check.number is None


def test_repr_never_carries_the_number() -> None:
    assert "13800138000" not in repr(parse_mobile("13800138000")), "repr leaks the number"


def test_phone_valid_delegates_and_accepts_only_the_stored_form() -> None:
    assert pii.phone_valid("13800138000")
    assert not pii.phone_valid("+86 138 0013 8000")
    assert not pii.phone_valid("010-12345678")
    assert not pii.phone_valid("14000000000")  # matched the old 1[3-9] rule, not a real range

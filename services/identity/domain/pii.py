"""Validation and masking of personal data: ID numbers (GB 11643), card numbers (Luhn), phones."""

from __future__ import annotations

import re
from datetime import date

from identity.domain.id_numbers import parse_id_number
from identity.domain.phones import normalise_mobile

_CARD_RE = re.compile(r"[0-9]{13,19}")


def id_number_valid(value: str) -> bool:
    """A GB 11643-1999 resident ID in its stored form: 18 characters, upper-case X, all checks.

    Looser input (a 15-digit number, spaces, lower-case x) goes through normalise_id_number.
    """
    check = parse_id_number(value)
    return check.valid and check.number == value


def normalise_id_number(text: str, *, today: date | None = None) -> str | None:
    """The 18-character form to store for a valid 18- or 15-digit number, or None."""
    return parse_id_number(text, today=today).number


def luhn_valid(value: str) -> bool:
    if not _CARD_RE.fullmatch(value):
        return False
    total = 0
    for i, char in enumerate(reversed(value)):
        digit = int(char)
        if i % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def phone_valid(value: str) -> bool:
    """A mainland mobile number in its stored form: exactly the 11 national digits."""
    return normalise_mobile(value) == value


def name_valid(value: str) -> bool:
    return 0 < len(value.strip()) <= 64 and not any(c.isdigit() for c in value)


def mask_id_number(value: str) -> str:
    """1101**********1234: region prefix and last four only."""
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_card_number(value: str) -> str:
    """BIN (first six) and last four."""
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    """138****1234."""
    return value[:3] + "****" + value[-4:]


def mask_name(value: str) -> str:
    """The last character only, e.g. *三 or ****n."""
    stripped = value.strip()
    return "*" * (len(stripped) - 1) + stripped[-1:]

"""Validation and masking of personal data: ID numbers (GB 11643), card numbers (Luhn), phones."""

from __future__ import annotations

import re
from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# ASCII digits only, whole string only: \d and $ would admit other scripts and a final newline.
_ID_RE = re.compile(r"[0-9]{17}[0-9X]")
_PHONE_RE = re.compile(r"1[3-9][0-9]{9}")
_CARD_RE = re.compile(r"[0-9]{13,19}")


def id_number_valid(value: str) -> bool:
    """A GB 11643-1999 resident ID: 17 digits, a valid birth date, and the ISO 7064 check."""
    if not _ID_RE.fullmatch(value):
        return False
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17]


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
    """A mainland mobile number, 11 digits starting 13-19."""
    return bool(_PHONE_RE.fullmatch(value))


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

"""Card numbers as the bank sees them: Luhn, reserved test numbers and agreement numbers."""

from __future__ import annotations

import hashlib
import hmac

from channelsim.payments import BROKE_AGREEMENT_SUFFIX

LOST = "LOST"
FROZEN = "FROZEN"
CANCELLED = "CANCELLED"

# Deterministic test cards, decided by the last four digits of a Luhn-valid number.
STATE_SUFFIXES = {"0001": LOST, "0002": FROZEN, "0004": CANCELLED}
CANNOT_VERIFY_SUFFIX = "0003"
# 16-19 digit numbers with this prefix belong to no bank, even when they pass Luhn.
UNKNOWN_PREFIX = "99"

_AGREEMENT_HEX = 20


def luhn_valid(number: str) -> bool:
    """True for a string of digits whose Luhn (mod 10) check digit is right."""
    if not number.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def issued(card_no: str) -> bool:
    """Whether some bank issued this number: Luhn-valid and not in the unknown range."""
    unknown_range = 16 <= len(card_no) <= 19 and card_no.startswith(UNKNOWN_PREFIX)
    return luhn_valid(card_no) and not unknown_range


def card_state(card_no: str) -> str:
    """LOST, FROZEN or CANCELLED for the reserved test numbers, "" for a usable card."""
    return STATE_SUFFIXES.get(card_no[-4:], "")


def cannot_verify(card_no: str) -> bool:
    """Cards whose issuer the bank cannot reach for verification."""
    return card_no.endswith(CANNOT_VERIFY_SUFFIX)


def agreement_no(secret: bytes, card_no: str) -> str:
    """The quick-pay agreement for a card: "AGR" + 20 hex digits, the same every time.

    It ends in the pay endpoint's always-declined suffix exactly when the card number does.
    """
    digest = hmac.new(secret, f"agreement:{card_no}".encode(), hashlib.sha256).hexdigest()
    body = digest[:_AGREEMENT_HEX].upper()
    suffix = BROKE_AGREEMENT_SUFFIX
    if card_no.endswith(suffix):
        body = body[: -len(suffix)] + suffix
    elif body.endswith(suffix):
        body = body[:-1] + "1"
    return f"AGR{body}"

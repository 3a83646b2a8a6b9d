"""Mainland China mobile numbers, checked and normalised with the phonenumbers library."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

import phonenumbers
from phonenumbers import PhoneNumberType

# What people type: ASCII digits, an optional leading +, spaces, dashes and parentheses.
# phonenumbers alone would also take full-width digits, letters and extensions.
_TYPED_RE = re.compile(r"\+?[0-9][0-9 ()\-]{0,24}")
_CN_COUNTRY_CODE = 86
_MOBILE_LENGTH = 11


class PhoneError(enum.StrEnum):
    """Why a number is refused; the codes never carry the number."""

    FORMAT = "FORMAT"
    NOT_CN = "NOT_CN"
    INVALID = "INVALID"
    NOT_MOBILE = "NOT_MOBILE"


@dataclass(frozen=True, slots=True)
class PhoneCheck:
    """The outcome of parsing; number is the 11 national digits, set only without errors."""

    errors: tuple[PhoneError, ...] = ()
    number: str | None = field(default=None, repr=False)

    @property
    def valid(self) -> bool:
        return not self.errors


def parse_mobile(text: str) -> PhoneCheck:
    """A mainland mobile number, national (13800138000) or with 86, +86 or 0086 before it."""
    typed = text.strip()
    if not _TYPED_RE.fullmatch(typed):
        return PhoneCheck(errors=(PhoneError.FORMAT,))
    try:
        parsed = phonenumbers.parse(typed, "CN")
    except phonenumbers.NumberParseException:
        return PhoneCheck(errors=(PhoneError.FORMAT,))
    if parsed.country_code != _CN_COUNTRY_CODE:
        return PhoneCheck(errors=(PhoneError.NOT_CN,))
    if not phonenumbers.is_valid_number(parsed):
        return PhoneCheck(errors=(PhoneError.INVALID,))
    if phonenumbers.number_type(parsed) != PhoneNumberType.MOBILE:
        return PhoneCheck(errors=(PhoneError.NOT_MOBILE,))
    national = str(parsed.national_number)
    if len(national) != _MOBILE_LENGTH:
        return PhoneCheck(errors=(PhoneError.INVALID,))
    return PhoneCheck(number=national)


def normalise_mobile(text: str) -> str | None:
    """The 11 national digits of a mainland mobile number, or None."""
    return parse_mobile(text).number

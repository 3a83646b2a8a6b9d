"""Bank card numbers: format, Luhn check and the issuing bank from the BIN table."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from identity.domain.bin_table import BinTable, CardType
from identity.domain.pii import luhn_valid

_SEPARATORS_RE = re.compile(r"[\s-]")
_CARD_RE = re.compile(r"[0-9]{13,19}")
# UnionPay has issued cards whose numbers do not pass Luhn; their numbers start with 62.
_UNIONPAY_PREFIX = "62"


class CardError(enum.StrEnum):
    """Why a card number is refused; the codes never carry the number."""

    FORMAT = "FORMAT"
    LUHN = "LUHN"


class CardWarning(enum.StrEnum):
    LUHN_UNIONPAY = "LUHN_UNIONPAY"
    UNKNOWN_BIN = "UNKNOWN_BIN"


@dataclass(frozen=True, slots=True)
class CardCheck:
    """The outcome of parsing; the number and issuer are set only when there are no errors."""

    errors: tuple[CardError, ...] = ()
    warnings: tuple[CardWarning, ...] = ()
    number: str | None = field(default=None, repr=False)
    bank_code: str | None = None
    bank_name: str | None = None
    card_type: CardType | None = None

    @property
    def valid(self) -> bool:
        return not self.errors


def parse_card_number(text: str, bins: BinTable) -> CardCheck:
    """Check a card number typed with or without spaces or dashes; the issuer comes from bins."""
    number = _SEPARATORS_RE.sub("", text)
    if not _CARD_RE.fullmatch(number):
        return CardCheck(errors=(CardError.FORMAT,))
    warnings: list[CardWarning] = []
    if not luhn_valid(number):
        if not number.startswith(_UNIONPAY_PREFIX):
            return CardCheck(errors=(CardError.LUHN,))
        warnings.append(CardWarning.LUHN_UNIONPAY)
    entry = bins.lookup(number)
    if entry is None:
        warnings.append(CardWarning.UNKNOWN_BIN)
        return CardCheck(warnings=tuple(warnings), number=number)
    return CardCheck(
        warnings=tuple(warnings),
        number=number,
        bank_code=entry.bank_code,
        bank_name=entry.bank_name,
        card_type=entry.card_type,
    )

"""Money as integer minor units of one ISO 4217 currency; no floats anywhere."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Minor-unit exponents of the currencies the suite handles; the rest are rejected.
MINOR_UNIT_EXPONENTS: dict[str, int] = {
    "CNY": 2,
    "HKD": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "SGD": 2,
    "JPY": 0,
    "KRW": 0,
}

_AMOUNT_RE = re.compile(r"(?P<sign>[-+]?)(?P<whole>[0-9]+)(?:\.(?P<frac>[0-9]+))?")


class CurrencyError(ValueError):
    """The currency code is not a supported ISO 4217 code."""


def check_currency(code: str) -> str:
    """Returns the code if it is a supported ISO 4217 code, else raises CurrencyError."""
    if code not in MINOR_UNIT_EXPONENTS:
        raise CurrencyError(f"unsupported currency code {code!r}")
    return code


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units (fen for CNY) of one currency."""

    currency: str
    minor_units: int

    def __post_init__(self) -> None:
        if self.currency not in MINOR_UNIT_EXPONENTS:
            raise CurrencyError(f"unsupported currency code {self.currency!r}")
        if type(self.minor_units) is not int:  # bool and int subclasses are refused too
            raise TypeError("minor_units must be an int")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.currency, self.minor_units + other.minor_units)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.currency, self.minor_units - other.minor_units)

    def __neg__(self) -> Money:
        return Money(self.currency, -self.minor_units)

    @property
    def is_positive(self) -> bool:
        return self.minor_units > 0

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyError(f"cannot combine {self.currency} with {other.currency}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(currency, 0)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Parses a plain decimal major-unit string such as "12.34" exactly.

        Integer arithmetic only: no exponent notation, no rounding, no more decimals than the
        currency has.
        """
        exponent = MINOR_UNIT_EXPONENTS[check_currency(currency)]
        match = _AMOUNT_RE.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"not a plain decimal amount: {text!r}")
        sign, whole, fraction = match.group("sign"), match.group("whole"), match.group("frac")
        fraction = (fraction or "").rstrip("0")
        if len(fraction) > exponent:
            raise ValueError(f"{text!r} has more than {exponent} decimal places for {currency}")
        units = int(whole) * 10**exponent + int(fraction.ljust(exponent, "0") or "0")
        return cls(currency, -units if sign == "-" else units)

    def format(self) -> str:
        """Renders the amount in major units, e.g. "12.34 CNY"."""
        exponent = MINOR_UNIT_EXPONENTS[self.currency]
        sign = "-" if self.minor_units < 0 else ""
        units = abs(self.minor_units)
        if exponent == 0:
            return f"{sign}{units} {self.currency}"
        major, minor = divmod(units, 10**exponent)
        return f"{sign}{major}.{minor:0{exponent}d} {self.currency}"

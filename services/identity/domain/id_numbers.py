"""PRC resident ID numbers (GB 11643-1999): normalise, upgrade 15-digit numbers, check."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import date

from identity.domain.regions import province_known

# ISO 7064 MOD 11-2: weight 2^(17-i) mod 11 for position i; the check maps 0..10 onto this.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARACTERS = "10X98765432"
# ASCII digits only, whole string only: \d would admit other scripts.
_ID18_RE = re.compile(r"[0-9]{17}[0-9X]")
_ID15_RE = re.compile(r"[0-9]{15}")
# The standard's own example is born in 1880: earlier years are impossible, 18xx only unusual.
_EARLIEST_YEAR = 1800
_USUAL_EARLIEST_YEAR = 1900


class IdNumberError(enum.StrEnum):
    """Why a number is refused; the codes never carry the number."""

    FORMAT = "FORMAT"
    CHECK_CHARACTER = "CHECK_CHARACTER"
    BIRTH_DATE = "BIRTH_DATE"
    FUTURE_BIRTH_DATE = "FUTURE_BIRTH_DATE"


class IdNumberWarning(enum.StrEnum):
    """Accepted, but worth a second look."""

    UNKNOWN_REGION = "UNKNOWN_REGION"
    BIRTH_BEFORE_1900 = "BIRTH_BEFORE_1900"


class Sex(enum.Enum):
    MALE = "male"
    FEMALE = "female"


@dataclass(frozen=True, slots=True)
class IdNumberCheck:
    """The outcome of parsing; number and personal details are set only when there are no errors.

    The personal fields stay out of repr so that logging a check never leaks the number.
    """

    errors: tuple[IdNumberError, ...] = ()
    warnings: tuple[IdNumberWarning, ...] = ()
    number: str | None = field(default=None, repr=False)
    birth_date: date | None = field(default=None, repr=False)
    sex: Sex | None = field(default=None, repr=False)
    region_code: str | None = field(default=None, repr=False)
    upgraded_from_15: bool = False

    @property
    def valid(self) -> bool:
        return not self.errors


def check_character(body: str) -> str:
    """The ISO 7064 MOD 11-2 check character of a 17-digit body."""
    total = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True))
    return _CHECK_CHARACTERS[total % 11]


def _clean(text: str) -> str:
    return "".join(text.split()).replace("x", "X")


def _birth_date(body: str) -> date | None:
    try:
        return date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        return None


def parse_id_number(text: str, *, today: date | None = None) -> IdNumberCheck:
    """Check an 18-character or legacy 15-digit number; spaces are dropped and x upper-cased.

    A 15-digit number (born 19xx, no check character) comes back upgraded to 18 characters.
    `today` bounds the birth date; it defaults to the local date.
    """
    cleaned = _clean(text)
    if _ID18_RE.fullmatch(cleaned):
        body, given, upgraded = cleaned[:17], cleaned[17], False
    elif _ID15_RE.fullmatch(cleaned):
        body, given, upgraded = cleaned[:6] + "19" + cleaned[6:], None, True
    else:
        return IdNumberCheck(errors=(IdNumberError.FORMAT,))

    errors: list[IdNumberError] = []
    warnings: list[IdNumberWarning] = []
    check = check_character(body)
    if given is not None and given != check:
        errors.append(IdNumberError.CHECK_CHARACTER)
    birth = _birth_date(body)
    if birth is None or birth.year < _EARLIEST_YEAR:
        errors.append(IdNumberError.BIRTH_DATE)
    elif birth > (today or date.today()):
        errors.append(IdNumberError.FUTURE_BIRTH_DATE)
    elif birth.year < _USUAL_EARLIEST_YEAR:
        warnings.append(IdNumberWarning.BIRTH_BEFORE_1900)
    if not province_known(body[:6]):
        warnings.append(IdNumberWarning.UNKNOWN_REGION)

    if errors:
        return IdNumberCheck(errors=tuple(errors), warnings=tuple(warnings))
    return IdNumberCheck(
        warnings=tuple(warnings),
        number=body + check,
        birth_date=birth,
        sex=Sex.MALE if int(body[16]) % 2 else Sex.FEMALE,
        region_code=body[:6],
        upgraded_from_15=upgraded,
    )

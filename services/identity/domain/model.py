"""Users, natural persons, bound cards, and the rule for whether a user may pay."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime


class UserState(enum.Enum):
    ACTIVE = "active"
    FROZEN = "frozen"
    CLOSED = "closed"


class Tier(enum.Enum):
    """PBoC payment-account classes (2015 No. 43, Art. 11)."""

    NONE = "none"
    CLASS_I = "class_i"
    CLASS_II = "class_ii"
    CLASS_III = "class_iii"


class Ineligibility(enum.Enum):
    USER_NOT_ACTIVE = "user_not_active"
    REAL_NAME_NOT_VERIFIED = "real_name_not_verified"
    NO_CARD = "no_card"
    LIMIT_EXCEEDED = "limit_exceeded"
    USER_NOT_FOUND = "user_not_found"
    PAYMENT_ID_REUSED = "payment_id_reused"


@dataclass(frozen=True, slots=True)
class MaskedIdentity:
    """The displayable forms of a person's PII; never the values themselves."""

    name: str
    id_number: str
    phone: str


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    state: UserState
    masked: MaskedIdentity
    real_name_verified: bool
    tier: Tier
    created_at: datetime
    opened_on: date | None = None
    customer_id: str | None = None
    tier_cap: Tier | None = None


@dataclass(frozen=True, slots=True)
class Card:
    card_id: str
    user_id: str
    bank_code: str
    masked_card_number: str
    agreement_no: str
    is_default: bool
    active: bool
    bank_name: str = ""
    card_type: str = ""
    created_at: datetime | None = None


class PersonRuleRefused(Exception):
    """A change to a user broke a one-per-person rule the database keeps (one real-named user
    per person when so configured, one Class III account per person); nothing was changed."""


@dataclass(frozen=True, slots=True)
class Eligibility:
    eligible: bool
    reason: Ineligibility | None = None
    card: Card | None = None


def payment_eligibility(user: User, cards: Sequence[Card], card_id: str) -> Eligibility:
    """Whether the user may pay now, and with which card (the default when none is named)."""
    if user.state is not UserState.ACTIVE:
        return Eligibility(False, Ineligibility.USER_NOT_ACTIVE)
    if not user.real_name_verified:
        return Eligibility(False, Ineligibility.REAL_NAME_NOT_VERIFIED)
    usable = [c for c in cards if c.active and (c.card_id == card_id if card_id else c.is_default)]
    if not usable:
        return Eligibility(False, Ineligibility.NO_CARD)
    return Eligibility(True, card=usable[0])

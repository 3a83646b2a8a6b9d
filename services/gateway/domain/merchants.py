"""Merchants: who the gateway takes payments for, at what fee rate, settled to which account."""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from gateway.domain.fees import BPS_PER_UNIT
from paysuite.errors import AlreadyExists


class MerchantState(enum.Enum):
    """A suspended merchant takes no new payments; its payments and refunds go on."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


class MerchantExists(AlreadyExists):
    reason = "MERCHANT_EXISTS"


@dataclass(frozen=True, slots=True)
class MerchantTerms:
    """What a merchant is registered with and may change: everything but its id."""

    name: str
    fee_bps: int = 0
    settlement_account_id: str = ""
    state: MerchantState = MerchantState.ACTIVE

    def __post_init__(self) -> None:
        if not 0 <= self.fee_bps <= BPS_PER_UNIT:
            raise ValueError(f"a fee rate is 0 to {BPS_PER_UNIT} basis points")


@dataclass(frozen=True, slots=True)
class TermsChange:
    """The terms an update sets; None keeps a term as it is."""

    name: str | None = None
    fee_bps: int | None = None
    settlement_account_id: str | None = None
    state: MerchantState | None = None

    def applied_to(self, terms: MerchantTerms) -> MerchantTerms:
        changes: dict[str, Any] = {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }
        return replace(terms, **changes)


@dataclass(frozen=True, slots=True)
class Merchant:
    merchant_id: str
    terms: MerchantTerms
    created_at: datetime
    updated_at: datetime

    @classmethod
    def register(cls, merchant_id: str, terms: MerchantTerms, now: datetime) -> Merchant:
        return cls(merchant_id, terms, now, now)

    def changed(self, change: TermsChange, now: datetime) -> Merchant:
        """The merchant with the change applied; itself (same update time) when nothing
        changes."""
        terms = change.applied_to(self.terms)
        return self if terms == self.terms else replace(self, terms=terms, updated_at=now)

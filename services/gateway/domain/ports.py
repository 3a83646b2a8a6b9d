"""What the gateway needs from the outside: channels, identity and the ledger."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from paysuite.money import Money


class ChannelOutcome(enum.Enum):
    """How definite a channel's answer is."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PENDING = "pending"  # accepted, final result later
    UNKNOWN = "unknown"  # no usable answer: timeout, connection lost, server error


@dataclass(frozen=True, slots=True)
class ChannelAnswer:
    outcome: ChannelOutcome
    channel_transaction_id: str = ""
    fee_minor_units: int = 0
    error_code: str = ""


@dataclass(frozen=True, slots=True)
class ChannelCharge:
    """One instruction to a channel; payment_id doubles as the channel's merchant order no."""

    payment_id: str
    amount: Money
    agreement_no: str
    subject: str


class ChannelAdapter(Protocol):
    name: str

    async def charge(self, charge: ChannelCharge) -> ChannelAnswer: ...

    async def query(self, payment_id: str) -> ChannelAnswer: ...

    def statement(self, day: date) -> AsyncIterator[bytes]: ...


@dataclass(frozen=True, slots=True)
class PayerCheck:
    eligible: bool
    reason: str = ""
    card_id: str = ""
    agreement_no: str = ""


class IdentityPort(Protocol):
    async def check_payer(self, user_id: str, amount: Money, card_id: str) -> PayerCheck: ...


@dataclass(frozen=True, slots=True)
class LedgerPosting:
    debit_account_id: str
    credit_account_id: str
    amount: Money


class LedgerPort(Protocol):
    async def post(
        self,
        transfer_id: str,
        postings: list[LedgerPosting],
        description: str,
        metadata: dict[str, str],
    ) -> str:
        """Posts idempotently; returns the ledger's result name (e.g. "POSTED", "EXISTS")."""
        ...

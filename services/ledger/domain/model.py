"""Accounts and transfers, and the rules that decide whether a transfer may post."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from paysuite.money import Money


class AccountType(enum.Enum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"

    @property
    def debit_normal(self) -> bool:
        return self in (AccountType.ASSET, AccountType.EXPENSE)


class OwnerType(enum.Enum):
    USER = "user"
    MERCHANT = "merchant"
    CHANNEL = "channel"
    PLATFORM = "platform"


class AccountState(enum.Enum):
    ACTIVE = "active"
    FROZEN = "frozen"
    CLOSED = "closed"


class TransferResult(enum.Enum):
    """Outcome of one transfer, in the spirit of TigerBeetle's result codes."""

    POSTED = "posted"
    EXISTS = "exists"
    EXISTS_WITH_DIFFERENT_CONTENT = "exists_with_different_content"
    ACCOUNT_NOT_FOUND = "account_not_found"
    CURRENCY_MISMATCH = "currency_mismatch"
    EXCEEDS_BALANCE = "exceeds_balance"
    ACCOUNT_NOT_ACTIVE = "account_not_active"

    @property
    def is_failure(self) -> bool:
        return self not in (TransferResult.POSTED, TransferResult.EXISTS)


class CreateAccountResult(enum.Enum):
    CREATED = "created"
    EXISTS = "exists"
    EXISTS_WITH_DIFFERENT_FIELDS = "exists_with_different_fields"


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """The identity and rules of an account, as its creator asked for it."""

    account_id: str
    name: str
    type: AccountType
    currency: str
    owner_type: OwnerType
    owner_id: str = ""
    debits_must_not_exceed_credits: bool = False
    credits_must_not_exceed_debits: bool = False


@dataclass(slots=True)
class Account:
    """An account with its posted totals; balance follows the type's normal side."""

    spec: AccountSpec
    state: AccountState = AccountState.ACTIVE
    debits_posted: int = 0
    credits_posted: int = 0
    created_at: datetime | None = None

    @property
    def account_id(self) -> str:
        return self.spec.account_id

    @property
    def balance(self) -> Money:
        if self.spec.type.debit_normal:
            return Money(self.spec.currency, self.debits_posted - self.credits_posted)
        return Money(self.spec.currency, self.credits_posted - self.debits_posted)

    def would_overdraw(self, debit: int, credit: int) -> bool:
        debits = self.debits_posted + debit
        credits = self.credits_posted + credit
        if self.spec.debits_must_not_exceed_credits and debits > credits:
            return True
        return self.spec.credits_must_not_exceed_debits and credits > debits


@dataclass(frozen=True, slots=True)
class Posting:
    """Debit one account and credit another by the same positive amount."""

    debit_account_id: str
    credit_account_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """A transaction of one or more postings, posted together or not at all."""

    transfer_id: str
    postings: tuple[Posting, ...]
    description: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def account_ids(self) -> list[str]:
        """Every account touched, sorted: the one lock order that rules out deadlocks."""
        ids = {p.debit_account_id for p in self.postings} | {
            p.credit_account_id for p in self.postings
        }
        return sorted(ids)

    def content_hash(self) -> str:
        """A digest of everything but the id, to tell a retry from a conflicting reuse."""
        body = {
            "postings": [
                [p.debit_account_id, p.credit_account_id, p.amount.currency, p.amount.minor_units]
                for p in self.postings
            ],
            "description": self.description,
            "metadata": dict(sorted(self.metadata.items())),
        }
        encoded = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        return hashlib.sha256(encoded).hexdigest()


def check_transfer(request: TransferRequest, accounts: Mapping[str, Account]) -> TransferResult:
    """Decides whether the transfer may post against the accounts' current totals."""
    for account_id in request.account_ids:
        if account_id not in accounts:
            return TransferResult.ACCOUNT_NOT_FOUND
    for posting in request.postings:
        for account_id in (posting.debit_account_id, posting.credit_account_id):
            if accounts[account_id].spec.currency != posting.amount.currency:
                return TransferResult.CURRENCY_MISMATCH
    if any(accounts[a].state is not AccountState.ACTIVE for a in request.account_ids):
        return TransferResult.ACCOUNT_NOT_ACTIVE
    debits: dict[str, int] = dict.fromkeys(request.account_ids, 0)
    credits: dict[str, int] = dict.fromkeys(request.account_ids, 0)
    for posting in request.postings:
        debits[posting.debit_account_id] += posting.amount.minor_units
        credits[posting.credit_account_id] += posting.amount.minor_units
    for account_id in request.account_ids:
        if accounts[account_id].would_overdraw(debits[account_id], credits[account_id]):
            return TransferResult.EXCEEDS_BALANCE
    return TransferResult.POSTED


def apply_transfer(request: TransferRequest, accounts: Mapping[str, Account]) -> None:
    """Adds the postings to the accounts' totals; call only after check_transfer said POSTED."""
    for posting in request.postings:
        accounts[posting.debit_account_id].debits_posted += posting.amount.minor_units
        accounts[posting.credit_account_id].credits_posted += posting.amount.minor_units

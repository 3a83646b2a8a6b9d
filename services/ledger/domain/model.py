"""Accounts, transfers and the rules that decide whether a transfer may post or hold."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

from paysuite.money import Money


class AccountType(enum.Enum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"

    @property
    def debit_normal(self) -> bool:
        return is_debit_normal(self)


def is_debit_normal(account_type: AccountType) -> bool:
    # Identity against module names, not a set or a property: this runs for every entry, and
    # an enum member hashes in Python.
    return account_type is _ASSET or account_type is _EXPENSE


_ASSET, _EXPENSE = AccountType.ASSET, AccountType.EXPENSE


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
    """Outcome of one request, in the spirit of TigerBeetle's result codes."""

    POSTED = "posted"
    PENDING = "pending"
    EXISTS = "exists"
    EXISTS_WITH_DIFFERENT_CONTENT = "exists_with_different_content"
    ACCOUNT_NOT_FOUND = "account_not_found"
    CURRENCY_MISMATCH = "currency_mismatch"
    EXCEEDS_BALANCE = "exceeds_balance"
    ACCOUNT_NOT_ACTIVE = "account_not_active"
    TRANSFER_NOT_FOUND = "transfer_not_found"
    ALREADY_POSTED = "already_posted"
    ALREADY_VOIDED = "already_voided"
    PENDING_EXPIRED = "pending_expired"
    EXCEEDS_PENDING_AMOUNT = "exceeds_pending_amount"
    NOT_PENDING = "not_pending"
    ALREADY_REVERSED = "already_reversed"
    NOT_REVERSIBLE = "not_reversible"
    ALREADY_CLEARED = "already_cleared"

    @property
    def is_failure(self) -> bool:
        return self not in (TransferResult.POSTED, TransferResult.PENDING, TransferResult.EXISTS)


class TransferKind(enum.Enum):
    TRANSFER = "transfer"
    POST = "post"
    VOID = "void"
    REVERSE = "reverse"
    CLEAR = "clear"
    ADJUST = "adjust"


class TransferState(enum.Enum):
    POSTED = "posted"
    PENDING = "pending"
    PENDING_POSTED = "pending_posted"
    VOIDED = "voided"
    FAILED = "failed"


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
    overdraft_limit: int = 0
    suspense: bool = False
    sub_accounts: int = 1


class Totals(NamedTuple):
    """What a decision about an account depends on, besides its spec (which never changes)."""

    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    state: AccountState


@dataclass(slots=True)
class Account:
    """An account with posted and pending totals; balances follow the type's normal side."""

    spec: AccountSpec
    state: AccountState = AccountState.ACTIVE
    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0
    day_end_balance: int = 0
    day_end_date: date | None = None
    created_at: datetime | None = None

    @property
    def account_id(self) -> str:
        return self.spec.account_id

    def totals(self) -> Totals:
        return Totals(
            self.debits_posted,
            self.credits_posted,
            self.debits_pending,
            self.credits_pending,
            self.state,
        )

    @property
    def balance(self) -> Money:
        """Current (intraday) balance of posted entries on the normal side."""
        return Money(self.spec.currency, self.balance_units)

    @property
    def balance_units(self) -> int:
        net = self.debits_posted - self.credits_posted
        return net if is_debit_normal(self.spec.type) else -net

    @property
    def available(self) -> Money:
        """The balance less what pending transfers hold against it."""
        if self.spec.type.debit_normal:
            units = self.debits_posted - self.credits_posted - self.credits_pending
        else:
            units = self.credits_posted - self.debits_posted - self.debits_pending
        return Money(self.spec.currency, units)

    def normal(self, debit_positive: int) -> int:
        """Converts a debit-positive amount to this account's normal side."""
        return debit_positive if self.spec.type.debit_normal else -debit_positive

    def would_overdraw(self, debit: int, credit: int, *, hold: bool = False) -> bool:
        """Whether these amounts break a no-overdraft flag, counting holds and the credit line.

        A hold (pending transfer) may not count on money it would itself bring in: that money
        is not there until the hold is posted.
        """
        incoming_credit = 0 if hold else credit
        incoming_debit = 0 if hold else debit
        limit = self.spec.overdraft_limit
        if self.spec.debits_must_not_exceed_credits:
            debits = self.debits_posted + self.debits_pending + debit
            if debits > self.credits_posted + incoming_credit + limit:
                return True
        if self.spec.credits_must_not_exceed_debits:
            credits = self.credits_posted + self.credits_pending + credit
            if credits > self.debits_posted + incoming_debit + limit:
                return True
        return False


@dataclass(frozen=True, slots=True)
class Posting:
    """Debit one account and credit another by the same positive amount."""

    debit_account_id: str
    credit_account_id: str
    amount: Money

    def swapped(self) -> Posting:
        return Posting(self.credit_account_id, self.debit_account_id, self.amount)


def content_digest(*parts: object) -> str:
    """A digest of a request's content, to tell a retry from a conflicting reuse of an id."""
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """A transaction of one or more postings, posted (or held) together or not at all."""

    transfer_id: str
    postings: tuple[Posting, ...]
    description: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    pending: bool = False
    timeout_seconds: int = 0
    digest: str = field(default="", compare=False)
    touched: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        # Computed once, when the request is read, not while its accounts are locked; a copy
        # routed to sub-accounts keeps the digest of what the client asked for.
        if not self.digest:
            object.__setattr__(self, "digest", self._digest())
        object.__setattr__(self, "touched", tuple(accounts_of(self.postings)))

    @property
    def account_ids(self) -> list[str]:
        """Every account touched, sorted: the one lock order that rules out deadlocks."""
        return list(self.touched)

    def content_hash(self) -> str:
        return self.digest

    def _digest(self) -> str:
        return transfer_digest(
            postings_text(self.postings),
            self.description,
            self.metadata,
            self.pending,
            self.timeout_seconds,
        )


def postings_text(postings: tuple[Posting, ...]) -> str:
    """The postings as text: leg_text of each, joined by ';' (as digested and as stored)."""
    return ";".join(
        leg_text(p.debit_account_id, p.credit_account_id, p.amount.currency, p.amount.minor_units)
        for p in postings
    )


def leg_text(debit: str, credit: str, currency: str, units: int) -> str:
    """One posting as it enters a transfer's digest."""
    return f"{debit},{credit},{currency},{units}"


def transfer_digest(
    legs: str, description: str, metadata: Mapping[str, str], pending: bool, timeout_seconds: int
) -> str:
    """A transfer request's digest from its legs (leg_text, joined by ';') and the rest; a
    reader that has the legs' fields at hand passes it in as TransferRequest.digest."""
    meta = ";".join(f"{k}={v}" for k, v in sorted(metadata.items())) if metadata else ""
    # content_digest's format, spelled out: this runs once per transfer read.
    text = f"transfer\x1f{legs}\x1f{description}\x1f{meta}\x1f{pending}\x1f{timeout_seconds}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def accounts_of(postings: tuple[Posting, ...]) -> list[str]:
    if len(postings) == 1:
        debit, credit = postings[0].debit_account_id, postings[0].credit_account_id
        if debit != credit:
            return [debit, credit] if debit < credit else [credit, debit]
    return sorted({p.debit_account_id for p in postings} | {p.credit_account_id for p in postings})


def check_postings(
    postings: tuple[Posting, ...],
    accounts: Mapping[str, Account],
    *,
    hold: bool = False,
    touched: tuple[str, ...] | None = None,
) -> TransferResult:
    """Decides whether postings may be added (posted or held) against the accounts' totals."""
    if len(postings) == 1 and postings[0].debit_account_id != postings[0].credit_account_id:
        return _check_posting(postings[0], accounts, hold)
    if touched is None:
        touched = tuple(accounts_of(postings))
    for account_id in touched:
        if account_id not in accounts:
            return TransferResult.ACCOUNT_NOT_FOUND
    for posting in postings:
        currency = posting.amount.currency
        if (
            accounts[posting.debit_account_id].spec.currency != currency
            or accounts[posting.credit_account_id].spec.currency != currency
        ):
            return TransferResult.CURRENCY_MISMATCH
    if any(accounts[a].state is not AccountState.ACTIVE for a in touched):
        return TransferResult.ACCOUNT_NOT_ACTIVE
    debits = dict.fromkeys(touched, 0)
    credits = dict.fromkeys(touched, 0)
    for posting in postings:
        debits[posting.debit_account_id] += posting.amount.minor_units
        credits[posting.credit_account_id] += posting.amount.minor_units
    for account_id in touched:
        if accounts[account_id].would_overdraw(debits[account_id], credits[account_id], hold=hold):
            return TransferResult.EXCEEDS_BALANCE
    return TransferResult.POSTED


def _check_posting(posting: Posting, accounts: Mapping[str, Account], hold: bool) -> TransferResult:
    """check_postings for one posting between two accounts: the same checks, in that order."""
    debit = accounts.get(posting.debit_account_id)
    credit = accounts.get(posting.credit_account_id)
    if debit is None or credit is None:
        return TransferResult.ACCOUNT_NOT_FOUND
    currency = posting.amount.currency
    if debit.spec.currency != currency or credit.spec.currency != currency:
        return TransferResult.CURRENCY_MISMATCH
    if debit.state is not AccountState.ACTIVE or credit.state is not AccountState.ACTIVE:
        return TransferResult.ACCOUNT_NOT_ACTIVE
    units = posting.amount.minor_units
    if debit.would_overdraw(units, 0, hold=hold) or credit.would_overdraw(0, units, hold=hold):
        return TransferResult.EXCEEDS_BALANCE
    return TransferResult.POSTED


def check_transfer(request: TransferRequest, accounts: Mapping[str, Account]) -> TransferResult:
    """POSTED (or PENDING for a hold) when the transfer may go ahead, else the reason."""
    result = check_postings(
        request.postings, accounts, hold=request.pending, touched=request.touched
    )
    if result is TransferResult.POSTED and request.pending:
        return TransferResult.PENDING
    return result


def apply_transfer(request: TransferRequest, accounts: Mapping[str, Account]) -> None:
    """Adds the postings to the accounts' posted totals; only after check_transfer said POSTED."""
    for posting in request.postings:
        accounts[posting.debit_account_id].debits_posted += posting.amount.minor_units
        accounts[posting.credit_account_id].credits_posted += posting.amount.minor_units


def hold_amounts(postings: tuple[Posting, ...], accounts: Mapping[str, Account], sign: int) -> None:
    """Adds (sign 1) or releases (sign -1) the postings as pending amounts."""
    for posting in postings:
        accounts[posting.debit_account_id].debits_pending += sign * posting.amount.minor_units
        accounts[posting.credit_account_id].credits_pending += sign * posting.amount.minor_units

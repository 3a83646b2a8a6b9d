"""Channel funds arriving in the platform's reserve (备付金) account, matched against what the
ledger says each channel owes. The rules only; no I/O.

The reserve account's bank statement (camt.053) has an entry per movement. A channel's
settlement of a business date is a credit whose end-to-end id is `STL-<channel>-<YYYYMMDD>`;
it clears the channel's receivable into the reserve account. A payout the bank made for us is a
debit under our payout id (its fee included), clearing what the ledger booked to the bank's
payouts account; a returned payout is a credit under the same id. The platform's own funds
moved in for the coupons of a trade date (recon.domain.coupon_funding) are matched with what
clearing booked of them. Anything else is unexpected and parked in the reserve account's
suspense.

Per channel and business date a position compares what the ledger expects (the receivable's
postings of the date, with reconciliation's differences parked for it) with what has arrived
on every statement so far. Once the settlement is due (its lag after the date) or anything
arrived, the rest (short-paid, missing) or the excess is parked in the channel's suspense
account; a later arrival moves it back. Every transfer's id derives from the statement entry
or the position, so a run again posts nothing twice; what a position parked is cleared (核销)
back to the receivable when its money comes.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from paysuite import accounts
from recon.domain.coupon_funding import funded_date
from recon.domain.discrepancies import suspense_account

SETTLEMENT_REFERENCE = re.compile(r"STL-([a-z0-9_-]{1,32})-([0-9]{8})")
TRANSFER_PREFIX = "funds:"


def reserve_account(currency: str) -> str:
    """The platform's reserve (备付金) bank account in the ledger (asset; seeded for CNY)."""
    return f"platform.reserve.{currency}"


def reserve_suspense(currency: str) -> str:
    """Where reserve account movements nobody explains are parked (suspense)."""
    return f"platform.reserve_suspense.{currency}"


class EntryKind(enum.Enum):
    ARRIVAL = "arrival"  # a channel's settlement
    PAYOUT = "payout"  # a payout the bank made for us, its fee included
    PAYOUT_RETURN = "payout_return"  # a payout that came back (退票)
    UNEXPECTED = "unexpected"  # nothing of ours explains it
    FUNDING = "funding"  # the platform's own funds moved in for a date's coupons


class Outcome(enum.Enum):
    MATCHED = "matched"
    SHORT = "short"  # less arrived than the ledger expects
    OVER = "over"  # more arrived than the ledger expects
    MISSING = "missing"  # due, and nothing arrived
    PENDING = "pending"  # not due yet, nothing arrived


@dataclass(frozen=True, slots=True)
class ReserveLine:
    """One entry of the reserve account's statement, as imported."""

    bank_ref: str
    end_to_end_id: str
    credit: bool
    amount: int
    currency: str
    line_no: int

    @property
    def signed(self) -> int:
        return self.amount if self.credit else -self.amount


@dataclass(frozen=True, slots=True)
class ReserveEntry:
    """A statement entry and what it is to us."""

    line: ReserveLine
    kind: EntryKind
    channel: str = ""
    business_date: date | None = None
    payout_id: str = ""

    @property
    def transfer_id(self) -> str:
        """The ledger transfer that books it: one per bank entry, so posted once."""
        return f"{TRANSFER_PREFIX}{self.line.bank_ref}"


def classify(line: ReserveLine, channels: Collection[str]) -> ReserveEntry:
    """What a statement entry is, by its direction and end-to-end id."""
    settlement = SETTLEMENT_REFERENCE.fullmatch(line.end_to_end_id)
    funded = funded_date(line.end_to_end_id)
    if funded is not None:
        return ReserveEntry(line, EntryKind.FUNDING, business_date=funded[1])
    if settlement is not None and line.credit:
        channel, stamp = settlement.groups()
        try:
            day = datetime.strptime(stamp, "%Y%m%d").date()
        except ValueError:
            return ReserveEntry(line, EntryKind.UNEXPECTED)
        if channel in channels:
            return ReserveEntry(line, EntryKind.ARRIVAL, channel=channel, business_date=day)
        return ReserveEntry(line, EntryKind.UNEXPECTED, channel=channel, business_date=day)
    if line.end_to_end_id and settlement is None:
        kind = EntryKind.PAYOUT_RETURN if line.credit else EntryKind.PAYOUT
        return ReserveEntry(line, kind, payout_id=line.end_to_end_id)
    return ReserveEntry(line, EntryKind.UNEXPECTED)


def as_booked(entry: ReserveEntry, before: str | None) -> ReserveEntry:
    """The entry as it was first booked, if it was: a channel's settlement stays one (or stays
    unexpected) whichever channels settle now, so its transfer never changes."""
    settlement = entry.channel and entry.business_date is not None
    if before == EntryKind.ARRIVAL.value and entry.kind is EntryKind.UNEXPECTED and settlement:
        return replace(entry, kind=EntryKind.ARRIVAL)
    if before == EntryKind.UNEXPECTED.value and entry.kind in (
        EntryKind.ARRIVAL,
        EntryKind.FUNDING,
    ):
        return replace(entry, kind=EntryKind.UNEXPECTED)
    return entry


@dataclass(frozen=True, slots=True)
class Posting:
    debit: str
    credit: str
    amount: int


@dataclass(frozen=True, slots=True)
class FundsTransfer:
    transfer_id: str
    currency: str
    postings: tuple[Posting, ...]
    description: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Difference:
    """Something the statement and the ledger disagree on, and what was parked for it."""

    kind: str  # an Outcome's value, "unexpected" or "payout_amount"
    reference: str  # the channel's settlement reference, or the bank's entry reference
    currency: str
    expected: int
    actual: int
    parked: int
    channel: str = ""
    business_date: date | None = None


def _parked_entry(entry: ReserveEntry) -> tuple[Posting, Difference]:
    line = entry.line
    reserve, suspense = reserve_account(line.currency), reserve_suspense(line.currency)
    posting = (
        Posting(reserve, suspense, line.amount)
        if line.credit
        else Posting(suspense, reserve, line.amount)
    )
    found = Difference(
        "unexpected",
        line.bank_ref,
        line.currency,
        0,
        line.signed,
        line.signed,
        entry.channel,
        entry.business_date,
    )
    return posting, found


def _payout_difference(line: ReserveLine, expected: int) -> Difference:
    """A payout debited otherwise than the ledger booked it (debits negative)."""
    return Difference(
        "payout_amount",
        line.bank_ref,
        line.currency,
        -expected,
        -line.amount,
        expected - line.amount,
    )


def _payout_postings(
    line: ReserveLine, payouts: str, expected: int
) -> tuple[list[Posting], Difference | None]:
    """The bank's debit clears what the ledger booked for the payout (amount and fee); a
    difference stays in the reserve account's suspense."""
    reserve, suspense = reserve_account(line.currency), reserve_suspense(line.currency)
    postings = [Posting(payouts, reserve, min(line.amount, expected))]
    if line.amount == expected:
        return postings, None
    if line.amount > expected:
        postings.append(Posting(suspense, reserve, line.amount - expected))
    else:
        postings.append(Posting(payouts, suspense, expected - line.amount))
    found = _payout_difference(line, expected)
    return postings, found


def _funding_postings(line: ReserveLine, booked: int) -> tuple[list[Posting], Difference | None]:
    """Coupons funding clearing booked already: only what the bank moved otherwise is parked
    (nothing when it agrees)."""
    differs = line.signed - booked
    if differs == 0:
        return [], None
    reserve, suspense = reserve_account(line.currency), reserve_suspense(line.currency)
    posting = (
        Posting(reserve, suspense, differs) if differs > 0 else Posting(suspense, reserve, -differs)
    )
    found = Difference("funding_amount", line.bank_ref, line.currency, booked, line.signed, differs)
    return [posting], found


def entry_transfer(
    entry: ReserveEntry, payouts_channel: str, payout_expected: int | None
) -> tuple[FundsTransfer, Difference | None]:
    """The transfer booking a statement entry; a payout the ledger does not know (no booked
    amount) is unexpected. For coupons funding, `payout_expected` is what clearing booked
    into the reserve account: the transfer has no postings when the bank agrees."""
    line = entry.line
    currency = line.currency
    reserve = reserve_account(currency)
    payouts = accounts.channel_payouts(payouts_channel, currency)
    found: Difference | None = None
    match entry.kind:
        case EntryKind.ARRIVAL:
            receivable = accounts.channel_receivable(entry.channel, currency)
            postings = [Posting(reserve, receivable, line.amount)]
            description = f"settlement of {entry.channel} arrived in the reserve account"
        case EntryKind.PAYOUT if payout_expected is not None:
            postings, found = _payout_postings(line, payouts, payout_expected)
            description = "payout paid from the reserve account"
        case EntryKind.PAYOUT_RETURN:
            postings = [Posting(reserve, payouts, line.amount)]
            description = "returned payout back in the reserve account"
        case EntryKind.FUNDING if payout_expected is not None:
            postings, found = _funding_postings(line, payout_expected)
            description = "coupons funding moved otherwise than booked (suspense)"
        case _:
            posting, found = _parked_entry(entry)
            postings = [posting]
            description = "reserve account movement unexplained (suspense)"
    metadata = {"bank_ref": line.bank_ref, "end_to_end_id": line.end_to_end_id}
    return FundsTransfer(entry.transfer_id, currency, tuple(postings), description, metadata), found


def payout_matched_later(
    entry: ReserveEntry, payouts_channel: str, expected: int
) -> tuple[Clearing, FundsTransfer | None, Difference | None]:
    """A payout booked as unexpected (the ledger had not booked it yet) that the ledger now
    has: its suspense item is cleared to the bank's payouts account, and what the bank debited
    otherwise than booked stays in suspense."""
    line = entry.line
    payouts = accounts.channel_payouts(payouts_channel, line.currency)
    suspense = reserve_suspense(line.currency)
    clearing = Clearing(
        f"{entry.transfer_id}:matched",
        f"{entry.transfer_id}:0D",
        payouts,
        "PAYOUT_BOOKED",
        entry.payout_id,
    )
    if line.amount == expected:
        return clearing, None, None
    posting = (
        Posting(payouts, suspense, expected - line.amount)
        if expected > line.amount
        else Posting(suspense, payouts, line.amount - expected)
    )
    rest = FundsTransfer(
        f"{entry.transfer_id}:rest",
        line.currency,
        (posting,),
        "payout debited otherwise than booked (suspense)",
        {"bank_ref": line.bank_ref, "end_to_end_id": line.end_to_end_id},
    )
    found = _payout_difference(line, expected)
    return clearing, rest, found


@dataclass(frozen=True, slots=True)
class Position:
    """A channel's settlement of one business date: what the ledger expects, what has arrived
    so far, and what is parked in the channel's suspense for the rest."""

    channel: str
    business_date: date
    currency: str
    expected: int = 0
    arrived: int = 0
    parked: int = 0
    parks: int = 0
    outcome: Outcome = Outcome.PENDING

    @property
    def reference(self) -> str:
        return f"STL-{self.channel}-{self.business_date.strftime('%Y%m%d')}"


def is_due(channel_lag_days: int, business_date: date, statement_date: date) -> bool:
    return statement_date >= business_date + timedelta(days=channel_lag_days)


@dataclass(frozen=True, slots=True)
class Clearing:
    """Clears a parked suspense item back to the account it came from (核销)."""

    transfer_id: str
    item_id: str
    counter_account_id: str
    reason: str
    business_reference: str


@dataclass(frozen=True, slots=True)
class FeesBooked:
    """What a channel's date's fee transfers have booked to the fee expense so far (debited
    positive) and how many there are."""

    amount: int = 0
    transfers: int = 0


def fee_transfer_id(channel: str, business_date: date, currency: str, number: int) -> str:
    """The id of a channel's date's fee transfer: the first books the bill's fees, each later
    one what a corrected bill changed."""
    first = f"{TRANSFER_PREFIX}fee:{channel}:{business_date.isoformat()}:{currency}"
    return first if number == 1 else f"{first}:{number}"


def fee_transfer(
    channel: str,
    business_date: date,
    currency: str,
    fees: int,
    booked: FeesBooked = FeesBooked(),
) -> FundsTransfer | None:
    """A channel's fees of a date as its current bill states them (a wallet's answers state
    none), out of its receivable into the fee expense: what it keeps of the date's settlement.
    What was booked before stays; the next transfer books only what the bill now states
    otherwise (None when it agrees), so a corrected bill's fees are booked by their difference."""
    change = fees - booked.amount
    if change == 0:
        return None
    receivable = accounts.channel_receivable(channel, currency)
    expense = accounts.channel_fee_expense(currency)
    posting = (
        Posting(expense, receivable, change)
        if change > 0
        else Posting(receivable, expense, -change)
    )
    what = "per its bill" if booked.transfers == 0 else "changed by its corrected bill"
    return FundsTransfer(
        fee_transfer_id(channel, business_date, currency, booked.transfers + 1),
        currency,
        (posting,),
        f"fees of {channel} {business_date.isoformat()} {what}",
        {"channel": channel, "business_date": business_date.isoformat()},
    )


def _park_id(position: Position, number: int) -> str:
    return (
        f"{TRANSFER_PREFIX}park:{position.channel}:{position.business_date.isoformat()}:"
        f"{position.currency}:{number}"
    )


def _outcome(position: Position, settling: bool, target: int) -> Outcome:
    if not settling:
        return Outcome.PENDING
    if target == 0:
        return Outcome.MATCHED
    if position.arrived == 0:
        return Outcome.MISSING
    return Outcome.SHORT if target > 0 else Outcome.OVER


def settle(position: Position, due: bool) -> tuple[Position, Clearing | None, FundsTransfer | None]:
    """The position with its outcome; when what is unsettled changed, the clearing of what was
    parked for it before and the transfer parking what is unsettled now (each None when there
    is nothing to clear or park). One suspense item is open per position at most."""
    settling = due or position.arrived != 0
    target = position.expected - position.arrived if settling else 0
    outcome = _outcome(position, settling, target)
    if target == position.parked:
        return replace(position, outcome=outcome), None, None
    currency = position.currency
    receivable = accounts.channel_receivable(position.channel, currency)
    suspense = suspense_account(position.channel, currency)
    clearing = None
    if position.parked:
        parked = _park_id(position, position.parks)
        clearing = Clearing(
            f"{TRANSFER_PREFIX}clear:{parked.removeprefix(TRANSFER_PREFIX)}",
            f"{parked}:0{'D' if position.parked > 0 else 'C'}",
            receivable,
            "SETTLEMENT_ARRIVED",
            position.reference,
        )
    park = None
    parks = position.parks
    if target:
        parks += 1
        # Unsettled receivable moves to suspense; an excess moves the other way.
        posting = (
            Posting(suspense, receivable, target)
            if target > 0
            else Posting(receivable, suspense, -target)
        )
        park = FundsTransfer(
            _park_id(position, parks),
            currency,
            (posting,),
            f"settlement of {position.channel} {outcome.value}",
            {"channel": position.channel, "business_date": position.business_date.isoformat()},
        )
    return replace(position, parked=target, parks=parks, outcome=outcome), clearing, park


def position_difference(position: Position) -> Difference | None:
    """The difference a settled position leaves, if any."""
    if position.outcome in (Outcome.MATCHED, Outcome.PENDING):
        return None
    return Difference(
        position.outcome.value,
        position.reference,
        position.currency,
        position.expected,
        position.arrived,
        position.parked,
        position.channel,
        position.business_date,
    )


@dataclass(frozen=True, slots=True)
class BalanceCheck:
    """The ledger's reserve account against the bank's closing balance of the statement."""

    currency: str
    bank_closing: int | None
    ledger_balance: int

    @property
    def balanced(self) -> bool:
        return self.bank_closing is not None and self.bank_closing == self.ledger_balance


@dataclass(frozen=True, slots=True)
class ReserveReconciliation:
    """What reconciling the reserve account's statement of a date found and booked."""

    statement_date: date
    import_id: str
    counts: dict[str, int]
    posted: int
    differences: tuple[Difference, ...]
    balances: tuple[BalanceCheck, ...]

    @property
    def balanced(self) -> bool:
        return bool(self.balances) and all(b.balanced for b in self.balances)

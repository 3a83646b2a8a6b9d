"""Reconciling the reserve (备付金) account's statement of a date against the ledger.

The statement (camt.053) is imported like any other (ImportStatement, under the reserve
account's statement channel), or fetched through the gateway when recon has none of the date.
Each entry is booked once: a channel's settlement clears its receivable into the reserve
account, a payout clears the bank's payouts account, anything unexplained goes to suspense. Each
channel's settlement of a business date that arrived, or is due, is then compared with what the
ledger expects (a wallet's fees, stated by its bill only, booked from the bill and kept by the
wallet), and the difference (short-paid, missing, over-paid) parked in the channel's suspense.
The D+0 payouts of the dates settled have their advance repaid to the platform's own funds up
to what the channels' money of their dates has arrived (recon.service_layer.advance_repayments).
Last, the ledger's reserve account is compared with the bank's closing balance. Run again, it
posts nothing twice. A date to settle of a channel whose bill comes first (the bank's, each
wallet's) that no completed run of its current bill reconciled is refused before anything is
posted: without its bill the date would come out short or over by what the bill's
reconciliation parks, and a wallet's by its fees."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Protocol

from paysuite import accounts
from paysuite.runtime import database
from recon.adapters.funds_repository import FundsRepository
from recon.domain.coupon_funding import funding_transfer_id
from recon.domain.funds import (
    BalanceCheck,
    Clearing,
    Difference,
    EntryKind,
    FeesBooked,
    FundsTransfer,
    Position,
    ReserveEntry,
    ReserveReconciliation,
    as_booked,
    classify,
    entry_transfer,
    fee_transfer,
    fee_transfer_id,
    is_due,
    payout_matched_later,
    position_difference,
    reserve_account,
    settle,
)
from recon.domain.settlement import ReconciliationNotClean
from recon.domain.statement_totals import StatementImport
from recon.service_layer.advance_repayments import repay_advances
from recon.service_layer.runs import StatementMissing

_log = logging.getLogger(__name__)

FundsUnitOfWorkFactory = Callable[[], database.UnitOfWork[FundsRepository]]


class FundsLedger(Protocol):
    """The ledger (recon.adapters.funds_ledger)."""

    async def open_accounts(self, channels: Iterable[str], currencies: Iterable[str]) -> None: ...

    async def booked_on(self, account_id: str, day: date) -> int: ...

    async def payout_booked(self, payout_id: str, payouts_account: str) -> int | None: ...

    async def debited(self, transfer_id: str, account_id: str) -> int | None: ...

    async def balance(self, account_id: str) -> int: ...

    async def post(self, transfers: Sequence[FundsTransfer]) -> int: ...

    async def clear(self, clearing: Clearing) -> int: ...


@dataclass(frozen=True, slots=True)
class FundsConfig:
    # The channel name the reserve account's statements are imported under.
    statement_channel: str
    # The bank channel whose payouts the reserve account pays.
    payouts_channel: str
    # Each settling channel and how many days after a business date its money is due.
    settlement_days: Mapping[str, int]
    # Channels whose fees are known from their bill only (the wallets): booked from it.
    fees_from_bill: frozenset[str] = frozenset()
    # Channels whose bill of a date is reconciled before their date settles (the bank's; those
    # whose fees come from the bill always are): what the bill's reconciliation parks is part
    # of what the date is expected to settle.
    bills_first: frozenset[str] = frozenset()

    def bill_first(self, channel: str) -> bool:
        return channel in self.bills_first or channel in self.fees_from_bill


@dataclass(frozen=True, slots=True)
class FundsDeps:
    uow: FundsUnitOfWorkFactory
    ledger: FundsLedger
    clock: Callable[[], datetime]
    config: FundsConfig
    # Imports the date's statement when recon has none (fetched through the gateway); None:
    # statements are imported by ImportStatement only.
    fetch_statement: Callable[[date], Awaitable[None]] | None = None


def _currencies(imported: StatementImport, entries: Sequence[ReserveEntry]) -> list[str]:
    found = {t.currency for t in imported.summary.totals}
    found |= {e.line.currency for e in entries}
    return sorted(found) or ["CNY"]


def _closing(imported: StatementImport, currency: str) -> int | None:
    return next(
        (t.closing_minor_units for t in imported.summary.totals if t.currency == currency), None
    )


@dataclass(slots=True)
class _Booking:
    """What the statement's entries call for in the ledger, and what each entry counts as."""

    entries: list[ReserveEntry] = field(default_factory=list)
    transfers: list[FundsTransfer] = field(default_factory=list)
    clearings: list[Clearing] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)


async def _book_entries(
    deps: FundsDeps, entries: Sequence[ReserveEntry], booked_before: Mapping[str, str]
) -> _Booking:
    """Each entry's transfer, the same however often it runs (an entry booked before keeps what
    it was booked as): a payout the ledger has no paid payout for is unexpected, and stays
    booked so; once the ledger has it, the unexpected item is cleared to the bank's payouts
    account (matched later)."""
    config, booking = deps.config, _Booking()
    for classified in entries:
        before = booked_before.get(classified.line.bank_ref)
        entry = as_booked(classified, before)
        expected, matched_later = None, False
        if entry.kind is EntryKind.PAYOUT:
            payouts = accounts.channel_payouts(config.payouts_channel, entry.line.currency)
            expected = await deps.ledger.payout_booked(entry.payout_id, payouts)
            matched_later = expected is not None and before == EntryKind.UNEXPECTED.value
            if expected is not None and matched_later:
                clearing, rest, found = payout_matched_later(
                    entry, config.payouts_channel, expected
                )
                booking.clearings.append(clearing)
                booking.transfers += [rest] if rest else []
                booking.differences += [found] if found else []
            if expected is None or matched_later:
                entry = ReserveEntry(entry.line, EntryKind.UNEXPECTED, payout_id=entry.payout_id)
        elif entry.kind is EntryKind.FUNDING:
            expected = await _funding_booked(deps, entry)
            if expected is None:  # clearing booked no coupons of the date: unexplained
                entry = replace(entry, kind=EntryKind.UNEXPECTED)
        transfer, found = entry_transfer(entry, config.payouts_channel, expected)
        booking.entries.append(entry)
        if transfer.postings:  # coupons funding as booked: nothing more to book
            booking.transfers.append(transfer)
        booking.kinds[EntryKind.PAYOUT.value if matched_later else entry.kind.value] += 1
        if found is not None and not matched_later:
            booking.differences.append(found)
    return booking


async def _funding_booked(deps: FundsDeps, entry: ReserveEntry) -> int | None:
    """What clearing booked into the reserve account for the coupons the entry funds; None
    when it booked nothing of that date."""
    assert entry.business_date is not None
    currency = entry.line.currency
    return await deps.ledger.debited(
        funding_transfer_id(currency, entry.business_date), reserve_account(currency)
    )


def _settling(
    config: FundsConfig, day: date, entries: Sequence[ReserveEntry], currencies: Sequence[str]
) -> list[tuple[str, date, str]]:
    """The channels' dates to settle now: those with an arrival on the statement and those
    due on its date."""
    keys = {
        (e.channel, e.business_date, e.line.currency)
        for e in entries
        if e.kind is EntryKind.ARRIVAL and e.business_date is not None
    }
    for channel, lag in config.settlement_days.items():
        keys |= {(channel, day - timedelta(days=lag), c) for c in currencies}
    return sorted(keys)


async def _position(
    deps: FundsDeps, repo: FundsRepository, key: tuple[str, date, str], fees: int
) -> Position:
    channel, business_date, currency = key
    before = await repo.position(*key) or Position(channel, business_date, currency)
    expected = await deps.ledger.booked_on(
        accounts.channel_receivable(channel, currency), business_date
    )
    expected += await repo.bill_parked(channel, business_date, currency) - fees
    arrived = await repo.arrived(*key)
    return Position(
        channel, business_date, currency, expected, arrived, before.parked, before.parks
    )


async def _bill_unreconciled(
    deps: FundsDeps, repo: FundsRepository, key: tuple[str, date, str], arriving: bool
) -> bool:
    """Whether a channel whose bill comes first has something of the date (booked, arriving or
    arrived, or a bill) that no completed run of its current bill reconciled: what its
    reconciliation parks (and a wallet's fees) would be missing from what the date is expected
    to settle."""
    channel, business_date, currency = key
    if not deps.config.bill_first(channel) or await repo.bill_reconciled(*key[:2]):
        return False
    receivable = accounts.channel_receivable(channel, currency)
    return bool(
        arriving
        or await repo.current_import(channel, business_date)
        or await repo.arrived(*key)
        or await deps.ledger.booked_on(receivable, business_date)
    )


async def _require_bills_reconciled(
    deps: FundsDeps,
    repo: FundsRepository,
    day: date,
    keys: Sequence[tuple[str, date, str]],
    entries: Sequence[ReserveEntry],
) -> None:
    """Refuses, before anything is posted, a run that would settle a date of the bank's or a
    wallet's whose bill is not reconciled yet (it would come out short or over by what the
    bill's reconciliation parks, a wallet's by its fees)."""
    arriving = {
        (e.channel, e.business_date, e.line.currency)
        for e in entries
        if e.kind is EntryKind.ARRIVAL
    }
    waiting = sorted(
        {
            f"{k[0]} {k[1].isoformat()}"
            for k in keys
            if await _bill_unreconciled(deps, repo, k, k in arriving)
        }
    )
    if waiting:
        channels = "; ".join(waiting)
        raise ReconciliationNotClean(
            f"reconcile the bills of {channels} first: a channel's differences, and a wallet's "
            "fees, are known from its bill only",
            metadata={"statement_date": day.isoformat(), "channels": channels},
        )


async def _fees_booked(deps: FundsDeps, key: tuple[str, date, str]) -> FeesBooked:
    """What the channel's date's fee transfers booked before, read back from the ledger (so
    what a run posted is known even if its own record of it was never committed)."""
    expense = accounts.channel_fee_expense(key[2])
    booked = FeesBooked()
    while (
        moved := await deps.ledger.debited(fee_transfer_id(*key, booked.transfers + 1), expense)
    ) is not None:
        booked = FeesBooked(booked.amount + moved, booked.transfers + 1)
    return booked


async def _book_fees(
    deps: FundsDeps, repo: FundsRepository, key: tuple[str, date, str]
) -> tuple[int, int]:
    """Books the fees the channel's current bill of the date states, by the difference from
    those booked before (a corrected bill may change them); the fees and how many transfers
    were posted now."""
    fees = await repo.bill_fees(*key)
    transfer = fee_transfer(*key, fees, await _fees_booked(deps, key))
    return fees, await deps.ledger.post([transfer]) if transfer is not None else 0


async def _settle_position(
    deps: FundsDeps,
    repo: FundsRepository,
    key: tuple[str, date, str],
    day: date,
    now: datetime,
    booking: _Booking,
) -> int:
    """Settles a channel's date: clears and parks in the ledger what changed, keeps the
    position, and notes its outcome and difference; how many transfers were posted now."""
    due = is_due(deps.config.settlement_days.get(key[0], 0), key[1], day)
    posted, fees = 0, 0
    if key[0] in deps.config.fees_from_bill:
        fees, posted = await _book_fees(deps, repo, key)
    position, clearing, park = settle(await _position(deps, repo, key, fees), due)
    if clearing is not None:
        posted += await deps.ledger.clear(clearing)
    if park is not None:
        posted += await deps.ledger.post([park])
    if position.expected or position.arrived or position.parked:
        await repo.save_position(position, day, now)
        booking.kinds[position.outcome.value] += 1
    found = position_difference(position)
    if found is not None:
        booking.differences.append(found)
    return posted


async def reconcile_reserve(deps: FundsDeps, day: date) -> ReserveReconciliation:
    config = deps.config
    if deps.fetch_statement is not None:
        await deps.fetch_statement(day)
    async with deps.uow() as work:
        repo = work.repo
        await repo.lock_reserve()
        imported = await repo.current_import(config.statement_channel, day)
        if imported is None:
            raise StatementMissing(
                "no reserve account statement is imported for the date",
                metadata={"channel": config.statement_channel, "date": day.isoformat()},
            )
        lines = await repo.reserve_lines(imported.import_id)
        classified = [classify(line, config.settlement_days) for line in lines]
        currencies = _currencies(imported, classified)
        booked_before = await repo.booked_kinds([e.line.bank_ref for e in classified])
        booking = await _book_entries(deps, classified, booked_before)
        settling = _settling(config, day, booking.entries, currencies)
        await _require_bills_reconciled(deps, repo, day, settling, booking.entries)
        await deps.ledger.open_accounts(config.settlement_days, currencies)
        posted = await deps.ledger.post(booking.transfers)
        for matched in booking.clearings:
            posted += await deps.ledger.clear(matched)
        now = deps.clock()
        entries, differences, counts = booking.entries, booking.differences, booking.kinds
        await repo.add_entries(entries, day, imported.import_id, now)
        for key in settling:
            posted += await _settle_position(deps, repo, key, day, now, booking)
        trade_dates = {key[1] for key in settling}
        posted += await repay_advances(deps.ledger, repo, trade_dates, config.settlement_days)
        balances = [
            BalanceCheck(c, _closing(imported, c), await deps.ledger.balance(reserve_account(c)))
            for c in currencies
        ]
        result = ReserveReconciliation(
            day, imported.import_id, dict(counts), posted, tuple(differences), tuple(balances)
        )
        await repo.save_checks(result, now)
        await work.commit()
    _log.info(
        "reserve account reconciled",
        extra={
            "statement_date": day.isoformat(),
            "posted": posted,
            "differences": len(differences),
            "balanced": result.balanced,
        },
    )
    return result

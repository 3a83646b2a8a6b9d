"""The accounting day: cut to the next business date, then close the cut date."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from ledger.domain.commands import Adjust
from ledger.domain.conflicts import WriteConflict
from ledger.domain.day_end import ROW_VS_BOOKS, DayEndReport, Difference, gl_differences
from ledger.service_layer.transfers import execute
from ledger.service_layer.unit_of_work import LedgerUnits
from paysuite.errors import DomainError, ErrorKind
from paysuite.money import Money

Clock = Callable[[], datetime]

SUSPENSE = "platform.suspense.{currency}"
DIFFERENCE = "platform.day_end_difference.{currency}"


class DateNotCut(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "DATE_NOT_CUT"


class EarlierDateOpen(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "EARLIER_DATE_NOT_CLOSED"


class BusinessDateMismatch(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "BUSINESS_DATE_MISMATCH"


class DateNotClosed(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "DATE_NOT_CLOSED"


async def day_cut(
    units: LedgerUnits, request_id: str, expected: date | None, clock: Clock
) -> tuple[date, date]:
    """Moves the business date on once per request id; postings wait at most for the cut."""
    async with units.postings() as work:
        await work.repo.lock_business_date()
        replay = await work.repo.replayed_cut(request_id)
        if replay is not None:
            return replay
        current, _ = await work.repo.ledger_state()
        if expected is not None and expected != current:
            raise BusinessDateMismatch(
                "the business date is not the expected one",
                metadata={"business_date": current.isoformat()},
            )
        cut, new = await work.repo.advance_business_date(request_id, clock())
        await work.commit()
    return cut, new


async def run_day_end(units: LedgerUnits, day: date, clock: Clock) -> DayEndReport:
    """Closes the date; re-running returns the stored report and posts nothing twice."""
    report = await _report(units, day, clock)
    for difference in report.differences:
        if difference.amount:
            await execute(units.posting_batch, [_parking(report, difference)], clock)
    async with units.day_end_writes() as work:
        await work.repo.roll_day_end_balances(day, clock())
        await work.commit()
    return report


async def trial_balance(units: LedgerUnits, day: date) -> DayEndReport:
    async with units.day_end_snapshot() as work:
        report = await work.repo.stored_report(day)
    if report is None:
        raise DateNotClosed(
            "the accounting date is not closed", metadata={"accounting_date": day.isoformat()}
        )
    return report


async def _report(units: LedgerUnits, day: date, clock: Clock) -> DayEndReport:
    for _ in range(3):
        try:
            return await _close(units, day, clock)
        except WriteConflict:
            continue  # another day-end closed it meanwhile: read its report
    raise AssertionError("day-end kept racing")


async def _close(units: LedgerUnits, day: date, clock: Clock) -> DayEndReport:
    async with units.day_end_snapshot() as work:
        store = work.repo
        await store.lock()
        business, last_closed = await store.state()
        stored = await store.stored_report(day)
        if stored is not None:
            return stored
        if day >= business:
            raise DateNotCut(
                "the date is still the business date; run the day-cut first",
                metadata={"business_date": business.isoformat()},
            )
        earliest = await store.earliest_open_date(day, last_closed)
        if earliest is not None:
            raise EarlierDateOpen(
                "an earlier date with postings is not closed",
                metadata={"accounting_date": earliest.isoformat()},
            )
        accounts = await store.write_daily_balances(day, last_closed)
        totals = await store.type_totals(day)
        differences = [
            *await store.rows_vs_books(day),
            *gl_differences(await store.general_ledger(day), store.subledger(totals)),
        ]
        report = DayEndReport(
            accounting_date=day,
            accounts=accounts,
            entries=await store.entry_count(day),
            trial_balance=tuple(totals),
            differences=tuple(differences),
            completed_at=clock(),
        )
        await store.store_report(report)
        await work.commit()
    return report


def _parking(report: DayEndReport, difference: Difference) -> Adjust:
    """The transfer that parks a difference in suspense (debit-positive amounts)."""
    suspense = SUSPENSE.format(currency=difference.currency)
    amount = Money(difference.currency, abs(difference.amount))
    if difference.check == ROW_VS_BOOKS:
        other, books_only = difference.account_id, difference.account_id
    else:
        other, books_only = DIFFERENCE.format(currency=difference.currency), ""
    debit, credit = (other, suspense) if difference.amount > 0 else (suspense, other)
    return Adjust(
        transfer_id=report.adjustment_id(difference),
        debit_account_id=debit,
        credit_account_id=credit,
        amount=amount,
        description=f"day-end {report.accounting_date.isoformat()} {difference.check}",
        books_only_account=books_only,
    )

"""A merchant's daily statement, from the ledger, given once the date's channel layer is clean:
every channel that carried its payments and refunds of the date reconciled (its latest run of
the date completed) with none of the date's differences left open."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from paysuite import accounts
from recon.domain.discrepancies import DiscrepancyState
from recon.domain.merchant_statement import MerchantStatement, Movement, build, unclean
from recon.domain.model import RunState
from recon.domain.settlement import ReconciliationNotClean
from recon.service_layer.unit_of_work import UnitOfWorkFactory

# Open differences counted per channel, at most (the message says "at least" past it).
OPEN_SHOWN = 1000


class MerchantBook(Protocol):
    """The ledger's movements of an account on a date (recon.adapters.merchant_book)."""

    async def movements(self, account_id: str, day: date) -> list[Movement]: ...


async def merchant_statement(
    uow: UnitOfWorkFactory,
    book: MerchantBook,
    merchant_id: str,
    day: date,
    currency: str,
    ledger_books: frozenset[str] = frozenset(),
) -> MerchantStatement:
    """The statement; ReconciliationNotClean when a channel of it is not reconciled clean (a
    channel whose book is the ledger has no bill to be reconciled against)."""
    movements = await book.movements(accounts.merchant_payable(merchant_id, currency), day)
    statement = build(merchant_id, day, currency, movements)
    channels = [c for c in statement.channels if c not in ledger_books]
    reconciled: set[str] = set()
    open_counts: dict[str, int] = {}
    async with uow() as work:
        for channel in channels:
            latest = await work.repo.list_runs(channel, day, None, 1)
            if latest and latest[0].state is RunState.COMPLETED:
                reconciled.add(channel)
            still_open = await work.repo.list_discrepancies(
                channel, day, None, DiscrepancyState.OPEN, None, OPEN_SHOWN
            )
            open_counts[channel] = len(still_open)
    problems = unclean(channels, reconciled, open_counts)
    if problems:
        raise ReconciliationNotClean(
            "the date's channel reconciliation is not clean: reconcile the channels and resolve "
            "their differences first",
            metadata={
                "merchant_id": merchant_id,
                "statement_date": day.isoformat(),
                "channels": "; ".join(problems),
            },
        )
    return statement

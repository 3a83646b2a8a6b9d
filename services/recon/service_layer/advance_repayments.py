"""D+0 advances repaid as the channels' money of their trade dates arrives in the reserve
account (recon.domain.advance_repayment says how much).

The reserve reconciliation of a statement date calls it last, once the channels' settlements
of the business dates it settled (those with an arrival on the statement, and those due on it)
are saved: every D+0 payout that paid one of those dates gets back what the money now in allows
of the amount the ledger booked for its advance, by what that adds to its repayments so far (read
back from the ledger, so known even if a run that posted one never committed). A payout made
after its dates' money arrived (cleared late) is repaid by the next reserve run of a date it
paid."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from datetime import date
from typing import Protocol

from paysuite import accounts
from recon.adapters.funds_repository import FundsRepository
from recon.domain.advance_repayment import (
    AdvancedPayout,
    DateFunds,
    Repaid,
    repayable,
    repayment,
)
from recon.domain.funds import FundsTransfer

_log = logging.getLogger(__name__)


class AdvanceLedger(Protocol):
    """The ledger (recon.adapters.funds_ledger)."""

    async def debited(self, transfer_id: str, account_id: str) -> int | None: ...

    async def post(self, transfers: Sequence[FundsTransfer]) -> int: ...


async def _repaid(ledger: AdvanceLedger, payout: AdvancedPayout) -> Repaid:
    own_funds = accounts.own_funds(payout.currency)
    repaid = Repaid()
    while (
        moved := await ledger.debited(payout.repay_transfer_id(repaid.transfers + 1), own_funds)
    ) is not None:
        repaid = Repaid(repaid.amount + moved, repaid.transfers + 1)
    return repaid


async def repay_advances(
    ledger: AdvanceLedger,
    repo: FundsRepository,
    trade_dates: Iterable[date],
    settling: Collection[str],
) -> int:
    """Repays what the money arrived allows of the advances of the D+0 payouts that paid any
    of the trade dates; how many repayment transfers were posted now."""
    funds: dict[tuple[date, str], DateFunds | None] = {}
    posted = 0
    for payout in await repo.advanced_payouts(trade_dates):
        account = accounts.settlement_advance(payout.currency)
        advance = await ledger.debited(payout.advance_transfer_id, account)
        if not advance:  # the payout's transfers not posted (yet): nothing advanced
            continue
        of_dates: dict[date, DateFunds] = {}
        for day in payout.trade_dates:
            if (day, payout.currency) not in funds:
                funds[day, payout.currency] = await repo.date_funds(day, payout.currency)
            known = funds[day, payout.currency]
            if known is not None:
                of_dates[day] = known
        target = repayable(advance, payout.trade_dates, of_dates, settling)
        if target == 0:
            continue
        transfer = repayment(payout, target, await _repaid(ledger, payout))
        if transfer is None:
            continue
        posted += await ledger.post([transfer])
        _log.info(
            "D+0 advance repaid",
            extra={
                "merchant_id": payout.merchant_id,
                "settlement_date": payout.settlement_date.isoformat(),
                "amount": transfer.postings[0].amount,
                "repaid": target,
                "advanced": advance,
            },
        )
    return posted

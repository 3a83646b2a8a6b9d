"""D+0 advances repaid as the channels' money of their trade dates arrives in the reserve
account (recon.domain.advance_repayment says when).

The reserve reconciliation of a statement date calls it last, for the business dates it settled
(those with an arrival on the statement, and those due on it): every D+0 payout that paid one of
them, and whose advance the money now in covers, gets its advance back, by the amount the
ledger booked for the advance. A payout made after its dates' money arrived (cleared late) is
repaid by the next reserve run of a date it paid."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from datetime import date
from typing import Protocol

from paysuite import accounts
from recon.adapters.funds_repository import FundsRepository
from recon.domain.advance_repayment import DateFunds, covered, repayment
from recon.domain.funds import FundsTransfer

_log = logging.getLogger(__name__)


class AdvanceLedger(Protocol):
    """The ledger (recon.adapters.funds_ledger)."""

    async def debited(self, transfer_id: str, account_id: str) -> int | None: ...

    async def post(self, transfers: Sequence[FundsTransfer]) -> int: ...


async def repay_advances(
    ledger: AdvanceLedger,
    repo: FundsRepository,
    trade_dates: Iterable[date],
    settling: Collection[str],
) -> int:
    """Repays the advances the arrived money covers of the D+0 payouts that paid any of the
    trade dates (repaid before: posted again, nothing new); how many were repaid now."""
    funds: dict[tuple[date, str], DateFunds | None] = {}
    repaid = 0
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
        if not covered(advance, payout.trade_dates, of_dates, settling):
            continue
        now = await ledger.post([repayment(payout, advance)])
        repaid += now
        if now:
            _log.info(
                "D+0 advance repaid",
                extra={
                    "merchant_id": payout.merchant_id,
                    "settlement_date": payout.settlement_date.isoformat(),
                    "amount": advance,
                },
            )
    return repaid

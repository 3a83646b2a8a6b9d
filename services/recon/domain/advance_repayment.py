"""When a D+0 settlement's advance is repaid to the platform's own funds, and the transfer.

A D+0 payout pays the merchant on the trade date with funds the platform advances (booked
`platform.settlement_advance` debit, `platform.own_funds` credit under the payout's advance
key), because the channels' money of that date has not arrived yet. The advance is owed back
once it has: when, for every trade date the payout paid, each channel that owes money for the
date (a positive net in the date's clearing) and settles into the reserve account has money of
the date on a reserve statement, and what is there for those dates (the arrivals, and the net of
channels whose money is the platform's own book already, such as the wallet balance) covers the
advance. It is then repaid in full by one transfer named after the payout's merchant, currency
and settlement date (repay_key), so a run again posts nothing twice. What a channel paid short
stays the channel's debt, parked in its suspense by the reserve reconciliation; what a payout
advanced is never repaid before the money to repay it is there.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date

from paysuite import accounts
from recon.domain.funds import FundsTransfer, Posting
from recon.domain.settlement import advance_key, repay_key


@dataclass(frozen=True, slots=True)
class AdvancedPayout:
    """A D+0 payout: its merchant, currency, settlement date and the trade dates it paid."""

    merchant_id: str
    currency: str
    settlement_date: date
    trade_dates: tuple[date, ...]

    @property
    def advance_transfer_id(self) -> str:
        return advance_key(self.merchant_id, self.currency, self.settlement_date)


@dataclass(frozen=True, slots=True)
class DateFunds:
    """A trade date's money in one currency: what each channel owes for it (its clearing's
    net) and what each channel's settlements of it brought into the reserve account so far."""

    owed: Mapping[str, int] = field(default_factory=dict)
    arrived: Mapping[str, int] = field(default_factory=dict)


def covered(
    advance: int,
    trade_dates: Collection[date],
    funds: Mapping[date, DateFunds],
    settling: Collection[str],
) -> bool:
    """Whether the channels' money of the trade dates is in and covers the advance."""
    available = 0
    for day in trade_dates:
        of_day = funds.get(day)
        if of_day is None:  # never cleared: nothing known to have arrived
            return False
        for channel, net in of_day.owed.items():
            if channel not in settling:  # already the platform's: in the reserve account
                available += net
                continue
            arrived = of_day.arrived.get(channel, 0)
            if net > 0 and arrived <= 0:
                return False
            available += arrived
    return available >= advance > 0


def repayment(payout: AdvancedPayout, advance: int) -> FundsTransfer:
    """The advance given back: own funds debited, the advance account credited."""
    currency = payout.currency
    return FundsTransfer(
        repay_key(payout.merchant_id, payout.currency, payout.settlement_date),
        currency,
        (Posting(accounts.own_funds(currency), accounts.settlement_advance(currency), advance),),
        f"D+0 settlement {payout.settlement_date:%Y-%m-%d} advance repaid",
        {
            "merchant_id": payout.merchant_id,
            "settlement_date": payout.settlement_date.isoformat(),
            "advance_transfer_id": payout.advance_transfer_id,
        },
    )

"""How much of a D+0 settlement's advance is repaid to the platform's own funds, and the
transfers that repay it.

A D+0 payout pays the merchant on the trade date with funds the platform advances (booked
`platform.settlement_advance` debit, `platform.own_funds` credit under the payout's advance
key), because the channels' money of that date has not arrived yet. The advance is repaid up to
what has arrived since: the advance less what the channels still owe of the trade dates the
payout paid (each channel settling into the reserve account that the date's clearing counted
owing: what the reserve reconciliation last found expected and not arrived of it, or, before
any reconciliation of it, its clearing net; a channel whose money is the platform's own book
already, such as the wallet balance, owes nothing), never below zero and nothing for a date
never cleared. Each repayment books only what the arrivals added since the last (the first under
repay_key, the next under repay_key:2, ...), read back from the ledger, so a run again posts
nothing twice and more money arriving later repays the rest; nothing repaid is ever taken back.
What a channel pays short stays owed (parked in its suspense) and keeps that much advanced.
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

    def repay_transfer_id(self, number: int) -> str:
        first = repay_key(self.merchant_id, self.currency, self.settlement_date)
        return first if number == 1 else f"{first}:{number}"


@dataclass(frozen=True, slots=True)
class Arrival:
    """A channel's settlement of a date as the reserve reconciliation last found it."""

    expected: int
    arrived: int

    @property
    def outstanding(self) -> int:
        return max(self.expected - self.arrived, 0)


@dataclass(frozen=True, slots=True)
class DateFunds:
    """A trade date's money in one currency: what each channel owes for it by its clearing
    (net), and each channel's settlement of it reconciled so far."""

    owed: Mapping[str, int] = field(default_factory=dict)
    arrivals: Mapping[str, Arrival] = field(default_factory=dict)

    def outstanding(self, settling: Collection[str]) -> int:
        """What the channels settling into the reserve account still owe of the date."""
        total = 0
        for channel, net in self.owed.items():
            if channel not in settling:  # the platform's own book: in the reserve already
                continue
            arrival = self.arrivals.get(channel)
            total += max(net, 0) if arrival is None else arrival.outstanding
        return total


def repayable(
    advance: int,
    trade_dates: Collection[date],
    funds: Mapping[date, DateFunds],
    settling: Collection[str],
) -> int:
    """What of the advance the money arrived allows to be repaid by now."""
    if not trade_dates or any(day not in funds for day in trade_dates):
        return 0
    owed = sum(funds[day].outstanding(settling) for day in trade_dates)
    return max(advance - owed, 0)


@dataclass(frozen=True, slots=True)
class Repaid:
    """What the payout's repayment transfers have given back so far, and how many there are."""

    amount: int = 0
    transfers: int = 0


def repayment(payout: AdvancedPayout, target: int, repaid: Repaid) -> FundsTransfer | None:
    """The next repayment, own funds debited and the advance account credited by what the
    target adds to what was repaid before; None when it adds nothing."""
    change = target - repaid.amount
    if change <= 0:
        return None
    currency = payout.currency
    return FundsTransfer(
        payout.repay_transfer_id(repaid.transfers + 1),
        currency,
        (Posting(accounts.own_funds(currency), accounts.settlement_advance(currency), change),),
        f"D+0 settlement {payout.settlement_date:%Y-%m-%d} advance repaid",
        {
            "merchant_id": payout.merchant_id,
            "settlement_date": payout.settlement_date.isoformat(),
            "advance_transfer_id": payout.advance_transfer_id,
        },
    )

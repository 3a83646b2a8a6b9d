"""A day's bill in flavour-neutral terms (what the wallet did that day) and the bill's own faults.

A bill lists the payments decided on its date (Shanghai) that the wallet took, and the refunds
it made that day; it is built from the wallet's state each time it is asked for, so it is the
same file until something of that day changes. Faults of the bill itself are set per date
through the admin endpoint: late (not available before a moment), lines left out, lines of
payments the wallet never made added; a correction drops the line faults and is the file sent
again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from channelsim.amounts import fee_for
from channelsim.banktime import SHANGHAI, from_epoch
from channelsim.bill_faults import BillFaultBook, made_up_lines
from walletsim.flavour import WalletFlavour
from walletsim.store import SUCCESS, NotifyPlan, RefundRecord, Trade, WalletStore

_EXTRA_SUBJECT = "Paysuite order"


@dataclass(frozen=True)
class DayBill:
    """What one date's bill lists: payments, refunds (with their trades), when it was made."""

    day: date
    payments: list[Trade]
    refunds: list[tuple[RefundRecord, Trade]]
    made_at: float  # the last movement it lists (the day's start when none): same file, same time

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, time(), SHANGHAI)


def _on(day: date, moment: float | None) -> bool:
    return moment is not None and from_epoch(moment).date() == day


class Bills(BillFaultBook):
    """Each date's bill faults, and the date's bill as the wallet issues it now."""

    def __init__(self, flavour: WalletFlavour, fee_bps: int) -> None:
        super().__init__()
        self._flavour = flavour
        self._fee_bps = fee_bps

    def bill(self, store: WalletStore, mch_id: str, day: date) -> DayBill:
        """The date's bill with its faults applied."""
        faults = self.faults(day)
        trades = [t for t in store.trades.values() if t.mch_id == mch_id]
        payments = [
            t
            for t in trades
            if t.status == SUCCESS and _on(day, t.decided_at) and t.out_trade_no not in faults.omit
        ]
        payments += self._made_up(mch_id, day, faults.extra_lines)
        payments.sort(key=lambda t: (t.decided_at or 0.0, t.trade_no))
        by_no = {t.out_trade_no: t for t in trades}
        refunds = sorted(
            (
                (r, by_no[r.out_trade_no])
                for r in store.refunds.values()
                if r.ok
                and r.out_trade_no in by_no
                and _on(day, r.created_at)
                and r.out_refund_no not in faults.omit
            ),
            key=lambda pair: (pair[0].created_at, pair[0].refund_no),
        )
        moments = [t.decided_at or 0.0 for t in payments] + [r.created_at for r, _ in refunds]
        start = datetime.combine(day, time(), SHANGHAI).timestamp()
        return DayBill(day, payments, refunds, max(moments, default=start))

    def _made_up(self, mch_id: str, day: date, count: int) -> list[Trade]:
        """Payments the wallet lists but never made: the same ones for a date every time."""
        made: list[Trade] = []
        for line in made_up_lines(mch_id, day, count):
            at = line.at.timestamp()
            buyer_id, buyer_login = self._flavour.buyer(line.digits)
            made.append(
                Trade(
                    out_trade_no=f"X{day:%Y%m%d}{line.digits(12)}",
                    trade_no=self._flavour.trade_no(day, line.digits),
                    mch_id=mch_id,
                    amount=line.amount,
                    currency="CNY",
                    subject=_EXTRA_SUBJECT,
                    notify_url="",
                    created_at=at,
                    status=SUCCESS,
                    outcome=SUCCESS,
                    plan=NotifyPlan(),
                    decided_at=at,
                    fee=fee_for(line.amount, self._fee_bps),
                    buyer_id=buyer_id,
                    buyer_login=buyer_login,
                )
            )
        return made

"""A day's bill in flavour-neutral terms (what the wallet did that day) and the bill's own faults.

A bill lists the payments decided on its date (Shanghai) that the wallet took, and the refunds
it made that day; it is built from the wallet's state each time it is asked for, so it is the
same file until something of that day changes. Faults of the bill itself are set per date
through the admin endpoint: late (not available before a moment), lines left out, lines of
payments the wallet never made added; a correction drops the line faults and is the file sent
again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from channelsim.amounts import fee_for
from channelsim.banktime import SHANGHAI, from_epoch
from walletsim.flavour import WalletFlavour
from walletsim.store import SUCCESS, NotifyPlan, RefundRecord, Trade, WalletStore

MAX_EXTRA_LINES = 100
OrderNo = Annotated[StrictStr, Field(max_length=64)]
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


@dataclass(frozen=True)
class BillFaults:
    """A date's bill faults; version counts the files sent (a correction is the next)."""

    available_at: float = 0.0
    omit: frozenset[str] = field(default_factory=frozenset)
    extra_lines: int = 0
    version: int = 1

    def view(self, now: float) -> dict[str, Any]:
        return {
            "available": now >= self.available_at,
            "available_at": self.available_at,
            "omit": sorted(self.omit),
            "extra_lines": self.extra_lines,
            "version": self.version,
        }


class BillFaultsUpdate(BaseModel):
    """POST /_admin/bills/{date}/faults: what to change; unknown fields are refused.

    late_seconds: the bill is not available until this long from now.
    omit: our order or refund numbers whose lines the bill leaves out.
    extra_lines: lines of made-up payments the wallet never made.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    late_seconds: Annotated[float, Field(ge=0, le=7 * 86_400)] | None = None
    omit: Annotated[list[OrderNo], Field(max_length=1000)] | None = None
    extra_lines: Annotated[int, Field(ge=0, le=MAX_EXTRA_LINES)] | None = None

    def apply(self, faults: BillFaults, now: float) -> BillFaults:
        if self.late_seconds is not None:
            faults = replace(faults, available_at=now + self.late_seconds)
        if self.omit is not None:
            faults = replace(faults, omit=frozenset(self.omit))
        if self.extra_lines is not None:
            faults = replace(faults, extra_lines=self.extra_lines)
        return faults


def _on(day: date, moment: float | None) -> bool:
    return moment is not None and from_epoch(moment).date() == day


class Bills:
    """Each date's bill faults, and the date's bill as the wallet issues it now."""

    def __init__(self, flavour: WalletFlavour, fee_bps: int) -> None:
        self._flavour = flavour
        self._fee_bps = fee_bps
        self._faults: dict[date, BillFaults] = {}

    def faults(self, day: date) -> BillFaults:
        return self._faults.get(day, BillFaults())

    def change(self, day: date, update: BillFaultsUpdate, now: float) -> BillFaults:
        self._faults[day] = update.apply(self.faults(day), now)
        return self._faults[day]

    def correct(self, day: date) -> BillFaults:
        """The date's bill sent again, corrected: every line as the wallet made it."""
        current = self.faults(day)
        self._faults[day] = replace(
            current, omit=frozenset(), extra_lines=0, version=current.version + 1
        )
        return self._faults[day]

    def ready(self, day: date, now: float) -> bool:
        return now >= self.faults(day).available_at

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
        for index in range(count):
            dice = random.Random(f"{mch_id}:{day.isoformat()}:{index}")

            def digits(n: int, dice: random.Random = dice) -> str:
                return "".join(dice.choice("0123456789") for _ in range(n))

            at = datetime.combine(day, time(12, 0, index % 60), SHANGHAI).timestamp()
            amount = 100 + dice.randrange(9_900)
            buyer_id, buyer_login = self._flavour.buyer(digits)
            made.append(
                Trade(
                    out_trade_no=f"X{day:%Y%m%d}{digits(12)}",
                    trade_no=self._flavour.trade_no(day, digits),
                    mch_id=mch_id,
                    amount=amount,
                    currency="CNY",
                    subject=_EXTRA_SUBJECT,
                    notify_url="",
                    created_at=at,
                    status=SUCCESS,
                    outcome=SUCCESS,
                    plan=NotifyPlan(),
                    decided_at=at,
                    fee=fee_for(amount, self._fee_bps),
                    buyer_id=buyer_id,
                    buyer_login=buyer_login,
                )
            )
        return made

"""The trade engine both flavours share: pay, decide (now or later), close, refund, notify."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from channelsim.amounts import fee_for
from channelsim.banktime import from_epoch
from channelsim.faults import Dice
from walletsim.faults import Faults
from walletsim.flavour import WalletFlavour
from walletsim.notifier import Notifier
from walletsim.store import (
    CLOSED,
    FAILED,
    SUCCESS,
    WAITING,
    NotifyPlan,
    RefundRecord,
    Trade,
    WalletStore,
)

_log = logging.getLogger(__name__)

TRADE_NOT_EXIST = "TRADE_NOT_EXIST"
TRADE_NOT_PAID = "TRADE_NOT_PAID"
REFUND_EXCEEDS = "REFUND_EXCEEDS"


@dataclass(frozen=True)
class Order:
    """A merchant's pay request in flavour-neutral terms (amounts in fen)."""

    out_trade_no: str
    mch_id: str
    amount: int
    currency: str
    subject: str
    notify_url: str


class OrderConflict(Exception):
    """The out_trade_no is known with another amount."""


class RefundConflict(Exception):
    """The out_refund_no is known for another trade or amount."""


class Wallet:
    """Trades decided by a simulated buyer; each decision is notified per the flavour."""

    def __init__(
        self,
        flavour: WalletFlavour,
        store: WalletStore,
        dice: Dice,
        notifier: Notifier,
        faults: Faults,
        fee_bps: int,
    ) -> None:
        self.flavour = flavour
        self.store = store
        self.dice = dice
        self.notifier = notifier
        self.faults = faults
        self._fee_bps = fee_bps
        self._tasks: set[asyncio.Task[None]] = set()

    def pay(self, order: Order, now: float) -> tuple[Trade, bool]:
        """The trade for the order, and whether it is new; no await, so repeats cannot race."""
        existing = self.store.trades.get(order.out_trade_no)
        if existing is not None:
            if (existing.amount, existing.currency) != (order.amount, order.currency):
                raise OrderConflict(order.out_trade_no)
            return existing, False
        faults, dice = self.faults, self.dice
        plan = NotifyPlan(
            delay_ms=faults.notify_delay_ms,
            duplicate=dice.roll(faults.notify_duplicate_rate),
            drop=dice.roll(faults.notify_drop_rate),
            copies=faults.notify_copies,
        )
        buyer_id, buyer_login = self.flavour.buyer(dice.digits)
        day = from_epoch(now).date()
        trade = Trade(
            out_trade_no=order.out_trade_no,
            trade_no=self.store.unique(lambda: self.flavour.trade_no(day, dice.digits)),
            mch_id=order.mch_id,
            amount=order.amount,
            currency=order.currency,
            subject=order.subject,
            notify_url=order.notify_url,
            created_at=now,
            status=WAITING,
            outcome=FAILED if dice.roll(faults.decline_rate) else SUCCESS,
            plan=plan,
            waited=dice.roll(faults.accepted_rate),
            buyer_id=buyer_id,
            buyer_login=buyer_login,
        )
        self.store.trades[trade.out_trade_no] = trade
        if trade.waited:
            self._later(trade, faults.decide_ms / 1000)
        else:
            trade.told_failed = trade.outcome == SUCCESS and dice.roll(faults.false_failure_rate)
            self.decide(trade, trade.outcome, now)
        return trade, True

    def _later(self, trade: Trade, delay: float) -> None:
        task = asyncio.create_task(self._decide_later(trade, delay), name="walletsim-buyer")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _decide_later(self, trade: Trade, delay: float) -> None:
        await asyncio.sleep(delay)
        if trade.status == WAITING:  # unless the merchant closed it meanwhile
            self.decide(trade, trade.outcome, time.time())

    def decide(self, trade: Trade, status: str, now: float, plan: NotifyPlan | None = None) -> None:
        """Settles the trade (or, from the admin endpoint, changes its mind) and notifies."""
        trade.status = status
        trade.decided_at = now
        trade.fee = fee_for(trade.amount, self._fee_bps) if status == SUCCESS else 0
        word = self.flavour.status_word(trade)
        _log.info(
            "trade decided",
            extra={"out_trade_no": trade.out_trade_no, "code": word, "amount": trade.amount},
        )
        if self.flavour.notifies(trade):
            notify_id = self.store.unique(lambda: f"{self.dice.digits(16)}{self.dice.digits(16)}")
            message = self.flavour.notification(trade, notify_id, now)
            self.notifier.send(message, trade.plan if plan is None else plan, self.faults)

    def close(self, out_trade_no: str, now: float) -> Trade | None:
        """Closes a trade the buyer has not paid; a paid or failed one is left as it is."""
        trade = self.store.trades.get(out_trade_no)
        if trade is not None and trade.status == WAITING:
            trade.status = CLOSED
            trade.decided_at = now
            _log.info("trade closed", extra={"out_trade_no": out_trade_no})
        return trade

    def refund(
        self, out_trade_no: str, out_refund_no: str, amount: int, now: float
    ) -> tuple[RefundRecord, bool]:
        """Refunds a paid trade up to its amount, once per out_refund_no; (record, new)."""
        previous = self.store.refunds.get(out_refund_no)
        if previous is not None:
            if (previous.out_trade_no, previous.amount) != (out_trade_no, amount):
                raise RefundConflict(out_refund_no)
            return previous, False
        trade = self.store.trades.get(out_trade_no)
        error = ""
        if trade is None:
            error = TRADE_NOT_EXIST
        elif trade.status != SUCCESS:
            error = TRADE_NOT_PAID
        elif trade.refunded + amount > trade.amount:
            error = REFUND_EXCEEDS
        record = RefundRecord(
            out_refund_no=out_refund_no,
            out_trade_no=out_trade_no,
            refund_no=self.store.unique(
                lambda: self.flavour.refund_no(from_epoch(now).date(), self.dice.digits)
            ),
            amount=amount,
            ok=not error,
            error=error,
            created_at=now,
            fee=0 if error else fee_for(amount, self._fee_bps),
        )
        if trade is not None and record.ok:
            trade.refunded += amount
        self.store.refunds[out_refund_no] = record
        _log.info(
            "refund answered",
            extra={"out_refund_no": out_refund_no, "code": error or "SUCCESS", "amount": amount},
        )
        return record, True

    async def close_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

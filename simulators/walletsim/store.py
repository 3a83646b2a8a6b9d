"""The wallet's trades and refunds, in memory, in flavour-neutral terms."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

WAITING = "waiting"  # accepted; the buyer has not decided yet
SUCCESS = "success"
FAILED = "failed"  # the buyer could not pay (balance, cancelled)
CLOSED = "closed"  # closed unpaid by the merchant

FINAL = frozenset({SUCCESS, FAILED, CLOSED})


@dataclass(frozen=True)
class NotifyPlan:
    """How the notification of a trade's decision will go, rolled when the trade is created."""

    delay_ms: int = 0
    duplicate: bool = False
    drop: bool = False
    copies: int = 1  # sent this many times in all, the copies at once (a notification storm)


@dataclass
class Trade:
    """One wallet payment; buyer identifiers stay out of repr and logs."""

    out_trade_no: str
    trade_no: str
    mch_id: str
    amount: int
    currency: str
    subject: str
    notify_url: str
    created_at: float
    status: str
    outcome: str  # what the buyer will do: SUCCESS or FAILED, revealed when decided
    plan: NotifyPlan
    waited: bool = False  # answered "accepted" before the decision
    told_failed: bool = False  # the pay answer said failed although the wallet took the money
    decided_at: float | None = None
    fee: int = 0
    refunded: int = 0
    buyer_id: str = field(default="", repr=False)
    buyer_login: str = field(default="", repr=False)

    @property
    def answered(self) -> str:
        """The status the pay answer gives: a false failure says FAILED for a paid trade."""
        return FAILED if self.told_failed else self.status

    def view(self) -> dict[str, Any]:
        """What the admin endpoint shows: no buyer identifiers."""
        return {
            "out_trade_no": self.out_trade_no,
            "trade_no": self.trade_no,
            "mch_id": self.mch_id,
            "amount": self.amount,
            "currency": self.currency,
            "status": self.status,
            "notify_url": self.notify_url,
            "waited": self.waited,
            "told_failed": self.told_failed,
            "fee": self.fee,
            "refunded": self.refunded,
            "created_at": self.created_at,
            "decided_at": self.decided_at,
        }


@dataclass(frozen=True)
class RefundRecord:
    """A refund answered once per out_refund_no; failed ones are kept so repeats match."""

    out_refund_no: str
    out_trade_no: str
    refund_no: str
    amount: int
    ok: bool
    error: str
    created_at: float
    fee: int = 0

    def view(self) -> dict[str, Any]:
        return {
            "out_refund_no": self.out_refund_no,
            "out_trade_no": self.out_trade_no,
            "refund_no": self.refund_no,
            "amount": self.amount,
            "ok": self.ok,
            "error": self.error,
            "created_at": self.created_at,
        }


class WalletStore:
    """Trades by out_trade_no and refunds by out_refund_no."""

    def __init__(self) -> None:
        self.trades: dict[str, Trade] = {}
        self.refunds: dict[str, RefundRecord] = {}
        self._ids: set[str] = set()

    def unique(self, make: Callable[[], str]) -> str:
        """An id from make() that was not given out before."""
        while True:
            candidate = make()
            if candidate not in self._ids:
                self._ids.add(candidate)
                return candidate

    def refunds_of(self, out_trade_no: str) -> list[RefundRecord]:
        return [r for r in self.refunds.values() if r.out_trade_no == out_trade_no]

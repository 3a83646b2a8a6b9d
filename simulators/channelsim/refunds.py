"""The bank's refunds: at most what an order was paid, once per out_refund_no, in memory."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RefundRecord:
    out_refund_no: str
    out_trade_no: str
    amount: int
    refund_no: str
    code: str
    err_code: str = ""
    refunded_at: float = 0.0  # when the bank answered it (its day is the refund's day)

    def answer(self) -> dict[str, object]:
        return {
            "code": self.code,
            "out_refund_no": self.out_refund_no,
            "out_trade_no": self.out_trade_no,
            "refund_no": self.refund_no,
            "amount": self.amount,
            "err_code": self.err_code,
        }


class RefundBook:
    """Refunds by out_refund_no, and how much of each order is refunded so far."""

    def __init__(self) -> None:
        self._by_no: dict[str, RefundRecord] = {}
        self._refunded: dict[str, int] = {}

    def get(self, out_refund_no: str) -> RefundRecord | None:
        return self._by_no.get(out_refund_no)

    def refunded(self, out_trade_no: str) -> int:
        return self._refunded.get(out_trade_no, 0)

    def add(self, record: RefundRecord) -> None:
        self._by_no[record.out_refund_no] = record
        if record.code == "SUCCESS":
            self._refunded[record.out_trade_no] = self.refunded(record.out_trade_no) + record.amount

    def all(self) -> list[RefundRecord]:
        return list(self._by_no.values())

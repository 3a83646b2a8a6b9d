"""The bank's refunds: at most what an order was paid, once per out_refund_no; each appended to
the bank's journal, so a restart keeps them (its bill and its settlements list them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from channelsim.journal import Journal, records_of

REFUND_RECORD = "refund"


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

    def to_record(self) -> dict[str, Any]:
        return {"record": REFUND_RECORD, **asdict(self)}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> RefundRecord:
        return cls(
            out_refund_no=str(record["out_refund_no"]),
            out_trade_no=str(record["out_trade_no"]),
            amount=int(record["amount"]),
            refund_no=str(record["refund_no"]),
            code=str(record["code"]),
            err_code=str(record.get("err_code", "")),
            refunded_at=float(record["refunded_at"]),
        )


class RefundBook:
    """Refunds by out_refund_no, and how much of each order is refunded so far."""

    def __init__(self, journal: Journal | None = None) -> None:
        self._journal = journal or Journal()
        self._by_no: dict[str, RefundRecord] = {}
        self._refunded: dict[str, int] = {}

    def load(self, records: Iterable[dict[str, Any]]) -> int:
        """Takes the refunds among the journal's records; returns how many."""
        for loaded in records_of(records, REFUND_RECORD, RefundRecord.from_record):
            self._remember(loaded)
        return len(self._by_no)

    def get(self, out_refund_no: str) -> RefundRecord | None:
        return self._by_no.get(out_refund_no)

    def refunded(self, out_trade_no: str) -> int:
        return self._refunded.get(out_trade_no, 0)

    def add(self, record: RefundRecord) -> None:
        self._journal.append(record.to_record())
        self._remember(record)

    def all(self) -> list[RefundRecord]:
        return list(self._by_no.values())

    def _remember(self, record: RefundRecord) -> None:
        self._by_no[record.out_refund_no] = record
        if record.code == "SUCCESS":
            self._refunded[record.out_trade_no] = self.refunded(record.out_trade_no) + record.amount

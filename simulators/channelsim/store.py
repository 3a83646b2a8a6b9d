"""In-memory bank transactions, appended to the bank's journal so a restart keeps them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from channelsim.banktime import compact_date, format_trade_time, parse_trade_time
from channelsim.journal import Journal

_log = logging.getLogger(__name__)

SUCCESS = "SUCCESS"
FAIL = "FAIL"
PROCESSING = "PROCESSING"
# The journal record kind of a quick-pay transaction (its records predate kinds: none is one).
TRANSACTION_RECORD = "transaction"


@dataclass(frozen=True)
class Transaction:
    """One quick-pay order at the bank; status is final, shown as PROCESSING until settles_at."""

    out_trade_no: str
    trade_no: str
    mch_id: str
    amount: int
    currency: str
    fee: int
    status: str
    err_code: str
    err_msg: str
    trade_time: datetime
    settles_at: float | None = None

    def status_at(self, now: float) -> str:
        if self.settles_at is not None and now < self.settles_at:
            return PROCESSING
        return self.status

    def to_record(self) -> dict[str, Any]:
        return {
            "out_trade_no": self.out_trade_no,
            "trade_no": self.trade_no,
            "mch_id": self.mch_id,
            "amount": self.amount,
            "currency": self.currency,
            "fee": self.fee,
            "status": self.status,
            "err_code": self.err_code,
            "err_msg": self.err_msg,
            "trade_time": format_trade_time(self.trade_time),
            "settles_at": self.settles_at,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Transaction:
        settles_at = record.get("settles_at")
        return cls(
            out_trade_no=str(record["out_trade_no"]),
            trade_no=str(record["trade_no"]),
            mch_id=str(record["mch_id"]),
            amount=int(record["amount"]),
            currency=str(record["currency"]),
            fee=int(record["fee"]),
            status=str(record["status"]),
            err_code=str(record.get("err_code", "")),
            err_msg=str(record.get("err_msg", "")),
            trade_time=parse_trade_time(str(record["trade_time"])),
            settles_at=None if settles_at is None else float(settles_at),
        )


class DuplicateOrderError(Exception):
    """The out_trade_no is already known to the bank."""


class TransactionStore:
    """Transactions by out_trade_no; every new one is appended to the bank's journal."""

    def __init__(self, journal: Journal | None = None) -> None:
        self._journal = journal or Journal()
        self._by_out_trade_no: dict[str, Transaction] = {}
        self._trade_nos: set[str] = set()

    def load(self, records: Iterable[dict[str, Any]]) -> int:
        """Takes the transactions among the journal's records; returns how many."""
        for record in records:
            if record.get("record", TRANSACTION_RECORD) != TRANSACTION_RECORD:
                continue
            try:
                transaction = Transaction.from_record(record)
            except (ValueError, KeyError, TypeError):
                _log.warning("skipping unreadable transaction record")
                continue
            self._remember(transaction)
        return len(self._by_out_trade_no)

    def get(self, out_trade_no: str) -> Transaction | None:
        return self._by_out_trade_no.get(out_trade_no)

    def all(self) -> list[Transaction]:
        return sorted(self._by_out_trade_no.values(), key=lambda t: (t.trade_time, t.trade_no))

    def add(self, transaction: Transaction) -> None:
        """Stores a new transaction; raises DuplicateOrderError if either id is taken."""
        if (
            transaction.out_trade_no in self._by_out_trade_no
            or transaction.trade_no in self._trade_nos
        ):
            raise DuplicateOrderError(transaction.out_trade_no)
        self._journal.append(transaction.to_record())
        self._remember(transaction)

    def new_trade_no(self, moment: datetime, digits: Callable[[int], str]) -> str:
        """A bank id "B" + YYYYMMDD + 12 digits that no stored transaction has."""
        while True:
            trade_no = f"B{compact_date(moment)}{digits(12)}"
            if trade_no not in self._trade_nos:
                return trade_no

    def _remember(self, transaction: Transaction) -> None:
        self._by_out_trade_no[transaction.out_trade_no] = transaction
        self._trade_nos.add(transaction.trade_no)

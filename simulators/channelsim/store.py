"""In-memory bank transactions, optionally appended to a JSONL file so a restart keeps them."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import orjson

from channelsim.banktime import format_trade_time, parse_trade_time

_log = logging.getLogger(__name__)

SUCCESS = "SUCCESS"
FAIL = "FAIL"
PROCESSING = "PROCESSING"


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
    """Transactions by out_trade_no; every new one is appended to the state file if there is one."""

    def __init__(self, state_file: Path | None = None) -> None:
        self._state_file = state_file
        self._out: TextIO | None = None
        self._by_out_trade_no: dict[str, Transaction] = {}
        self._trade_nos: set[str] = set()

    def load(self) -> int:
        """Reads the state file, skipping a torn last line; returns how many were loaded."""
        if self._state_file is None or not self._state_file.exists():
            return 0
        with self._state_file.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    transaction = Transaction.from_record(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    _log.warning("skipping unreadable state line", extra={"line": number})
                    continue
                self._remember(transaction)
        self._end_torn_line(self._state_file)
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
        self._append(transaction)
        self._remember(transaction)

    def new_trade_no(self, moment: datetime, digits: Callable[[int], str]) -> str:
        """A bank id "B" + YYYYMMDD + 12 digits that no stored transaction has."""
        while True:
            trade_no = f"B{moment.strftime('%Y%m%d')}{digits(12)}"
            if trade_no not in self._trade_nos:
                return trade_no

    def _remember(self, transaction: Transaction) -> None:
        self._by_out_trade_no[transaction.out_trade_no] = transaction
        self._trade_nos.add(transaction.trade_no)

    @staticmethod
    def _end_torn_line(path: Path) -> None:
        # A crash mid-write leaves a line without "\n"; end it so the next record starts clean.
        with path.open("rb+") as data:
            size = data.seek(0, os.SEEK_END)
            if size == 0:
                return
            data.seek(size - 1)
            if data.read(1) != b"\n":
                data.write(b"\n")

    def _append(self, transaction: Transaction) -> None:
        if self._state_file is None:
            return
        if self._out is None:
            self._state_file.parent.mkdir(parents=True, exist_ok=True)
            self._out = self._state_file.open("a", encoding="utf-8")
        line = orjson.dumps(transaction.to_record()).decode()
        # Flushed line by line: a killed simulator leaves every answered order on disk.
        self._out.write(line + "\n")
        self._out.flush()

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

"""The bank's payouts (代付): from our merchant's account at the bank to a card or an account.

A payout's outcome is decided when it first arrives and never changes, except that a paid
payout can come back later (退票: the payee's bank returned it), shown as RETURNED from then on.
Payee numbers are never kept: a payout holds a masked form and a keyed digest of its payee.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from channelsim.banktime import SHANGHAI, format_trade_time, from_epoch, parse_trade_time
from channelsim.faults import Dice, Faults
from channelsim.journal import Journal, records_of
from channelsim.store import FAIL, PROCESSING, SUCCESS

RETURNED = "RETURNED"
PAYOUT_RECORD = "payout"

ACCOUNT_CLOSED = "ACCOUNT_CLOSED"
ACCOUNT_ABNORMAL = "ACCOUNT_ABNORMAL"
# Payee accounts ending in this suffix are closed: a deterministic decline for tests.
CLOSED_ACCOUNT_SUFFIX = "0000"


@dataclass(frozen=True)
class Payee:
    """Where a payout goes: a card bound here (its agreement) or any bank account."""

    agreement_no: str = ""
    account_no: str = ""
    account_name: str = ""

    def digest(self, secret: bytes) -> str:
        """A keyed digest standing for the payee: repeats match, numbers are not kept."""
        text = f"{self.agreement_no}|{self.account_no}|{self.account_name}"
        return hmac.new(secret, b"payee:" + text.encode(), hashlib.sha256).hexdigest()

    def masked(self) -> str:
        if self.agreement_no:
            return "agreement ****" + self.agreement_no[-4:]
        return "account ****" + self.account_no[-4:]


@dataclass(frozen=True)
class Payout:
    """One payout instruction; status is its outcome, shown PROCESSING until settles_at and,
    once paid, RETURNED from returns_at."""

    out_payout_no: str
    payout_no: str
    mch_id: str
    amount: int
    currency: str
    fee: int
    payee: str
    payee_digest: str
    status: str
    err_code: str
    err_msg: str
    pay_time: datetime
    settles_at: float | None = None
    returns_at: float | None = None
    return_reason: str = ""

    def status_at(self, now: float) -> str:
        if self.settles_at is not None and now < self.settles_at:
            return PROCESSING
        if self.status == SUCCESS and self.returns_at is not None and now >= self.returns_at:
            return RETURNED
        return self.status

    def returned_on(self, now: float) -> date | None:
        """The bank date it came back on, once it has."""
        if self.status_at(now) != RETURNED or self.returns_at is None:
            return None
        return from_epoch(self.returns_at).astimezone(SHANGHAI).date()

    def answer(self, now: float) -> dict[str, Any]:
        """The pay/query answer as the bank sees the payout at `now`."""
        code = self.status_at(now)
        settled = code != PROCESSING
        returned = code == RETURNED and self.returns_at is not None
        return {
            "code": code,
            "out_payout_no": self.out_payout_no,
            "payout_no": self.payout_no,
            "amount": self.amount,
            "currency": self.currency,
            "fee": self.fee if settled else 0,
            "err_code": self.err_code if settled else "",
            "err_msg": self.err_msg if settled else "",
            "pay_time": format_trade_time(self.pay_time),
            "return_reason": self.return_reason if returned else "",
            "return_time": format_trade_time(from_epoch(self.returns_at or 0)) if returned else "",
        }

    def to_record(self) -> dict[str, Any]:
        return {
            "record": PAYOUT_RECORD,
            "out_payout_no": self.out_payout_no,
            "payout_no": self.payout_no,
            "mch_id": self.mch_id,
            "amount": self.amount,
            "currency": self.currency,
            "fee": self.fee,
            "payee": self.payee,
            "payee_digest": self.payee_digest,
            "status": self.status,
            "err_code": self.err_code,
            "err_msg": self.err_msg,
            "pay_time": format_trade_time(self.pay_time),
            "settles_at": self.settles_at,
            "returns_at": self.returns_at,
            "return_reason": self.return_reason,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Payout:
        settles_at, returns_at = record.get("settles_at"), record.get("returns_at")
        return cls(
            out_payout_no=str(record["out_payout_no"]),
            payout_no=str(record["payout_no"]),
            mch_id=str(record["mch_id"]),
            amount=int(record["amount"]),
            currency=str(record["currency"]),
            fee=int(record["fee"]),
            payee=str(record["payee"]),
            payee_digest=str(record["payee_digest"]),
            status=str(record["status"]),
            err_code=str(record.get("err_code", "")),
            err_msg=str(record.get("err_msg", "")),
            pay_time=parse_trade_time(str(record["pay_time"])),
            settles_at=None if settles_at is None else float(settles_at),
            returns_at=None if returns_at is None else float(returns_at),
            return_reason=str(record.get("return_reason", "")),
        )


@dataclass(frozen=True)
class PayoutOrder:
    """A new payout as asked for, before the bank decides it."""

    out_payout_no: str
    mch_id: str
    amount: int
    currency: str
    payee: Payee


def decide(
    order: PayoutOrder,
    *,
    payout_no: str,
    fee: int,
    secret: bytes,
    faults: Faults,
    dice: Dice,
    now: float,
) -> Payout:
    """The outcome of a new payout: declined (a closed account, or the dial), else paid; maybe
    only after a while (processing), maybe returned later (the return dial)."""
    status, err_code, err_msg = SUCCESS, "", ""
    if order.payee.account_no.endswith(CLOSED_ACCOUNT_SUFFIX):
        status, err_code, err_msg = FAIL, ACCOUNT_CLOSED, "payee account closed"
    elif dice.roll(faults.payout_decline_rate):
        status, err_code, err_msg = FAIL, ACCOUNT_ABNORMAL, "payee account frozen or abnormal"
    settles_at = None
    if dice.roll(faults.payout_processing_rate):
        settles_at = now + faults.payout_processing_ms / 1000
    returns_at = None
    if status == SUCCESS and dice.roll(faults.payout_return_rate):
        returns_at = (settles_at or now) + faults.payout_return_after_ms / 1000
    return Payout(
        out_payout_no=order.out_payout_no,
        payout_no=payout_no,
        mch_id=order.mch_id,
        amount=order.amount,
        currency=order.currency,
        fee=fee if status == SUCCESS else 0,
        payee=order.payee.masked(),
        payee_digest=order.payee.digest(secret),
        status=status,
        err_code=err_code,
        err_msg=err_msg,
        pay_time=from_epoch(now),
        settles_at=settles_at,
        returns_at=returns_at,
        return_reason=ACCOUNT_CLOSED if returns_at is not None else "",
    )


class NotReturnable(Exception):
    """Only a payout the bank has paid (and not returned yet) can come back."""


class PayoutBook:
    """Payouts by out_payout_no; each new one and each change is appended to the journal."""

    def __init__(self, journal: Journal | None = None) -> None:
        self._journal = journal or Journal()
        self._by_no: dict[str, Payout] = {}
        self._payout_nos: set[str] = set()

    def load(self, records: Iterable[dict[str, Any]]) -> int:
        """Takes the payouts among the journal's records (a later line of one wins)."""
        for loaded in records_of(records, PAYOUT_RECORD, Payout.from_record):
            self._remember(loaded)
        return len(self._by_no)

    def get(self, out_payout_no: str) -> Payout | None:
        return self._by_no.get(out_payout_no)

    def all(self) -> list[Payout]:
        return sorted(self._by_no.values(), key=lambda p: (p.pay_time, p.payout_no))

    def add(self, payout: Payout) -> None:
        if payout.out_payout_no in self._by_no:
            raise ValueError(f"payout {payout.out_payout_no} exists")
        self._journal.append(payout.to_record())
        self._remember(payout)

    def mark_returned(self, out_payout_no: str, reason: str, now: float) -> Payout:
        """The payee's bank sent the money back now; raises NotReturnable unless it was paid."""
        payout = self._by_no.get(out_payout_no)
        if payout is None or payout.status_at(now) != SUCCESS:
            raise NotReturnable(out_payout_no)
        returned = replace(payout, returns_at=now, return_reason=reason)
        self._journal.append(returned.to_record())
        self._remember(returned)
        return returned

    def returned_on(self, mch_id: str, day: date, now: float) -> list[Payout]:
        """The merchant's payouts that came back on the bank date `day`."""
        return [p for p in self.all() if p.mch_id == mch_id and p.returned_on(now) == day]

    def new_payout_no(self, moment: datetime, digits: Callable[[int], str]) -> str:
        """A bank id "P" + YYYYMMDD + 12 digits that no payout has."""
        while True:
            payout_no = f"P{moment.strftime('%Y%m%d')}{digits(12)}"
            if payout_no not in self._payout_nos:
                return payout_no

    def _remember(self, payout: Payout) -> None:
        self._by_no[payout.out_payout_no] = payout
        self._payout_nos.add(payout.payout_no)

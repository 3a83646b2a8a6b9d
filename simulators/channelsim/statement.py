"""The bank's daily bill of the card channel: its lines, and the simulator's own CSV of them.

The bill is sent as UnionPay's ZM file (channelsim.unionpay_zm) from the lines made here, or,
with CHANNELSIM_BILL_FORMAT=csv, as a CSV file with comment lines, format 2.

As an acquirer's settlement file does, it lists the day's (Shanghai) successful charges and
refunds, each on its own line: a PAYMENT line with the bank's and our order numbers, a REFUND
line with the refund's numbers beside its order's and the amount negative. The bank keeps its
fee when it refunds (its settlement pays charges less fees, less refunds), so a refund line's
fee is 0.00. The first comment names the layout (format=2) and the file's version (a
corrected file is the next); the trailer gives the control totals. Faults of the bill itself
(lines left out, made-up lines) are applied here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from channelsim.amounts import fee_for, yuan
from channelsim.banktime import SHANGHAI, format_trade_time, from_epoch
from channelsim.bill_faults import BillFaults, made_up_lines
from channelsim.refunds import RefundRecord
from channelsim.store import SUCCESS, Transaction

FORMAT = 2
COLUMNS = (
    "trade_type",
    "trade_no",
    "out_trade_no",
    "refund_no",
    "out_refund_no",
    "trade_time",
    "amount",
    "currency",
    "fee",
    "status",
)
PAYMENT = "PAYMENT"
REFUND = "REFUND"


@dataclass(frozen=True)
class BillLine:
    """One line of the bill; amount is signed (a refund's negative), fee what the bank kept."""

    trade_type: str
    trade_no: str
    out_trade_no: str
    at: datetime
    amount: int
    currency: str
    fee: int
    refund_no: str = ""
    out_refund_no: str = ""

    def row(self) -> tuple[str, ...]:
        return (
            self.trade_type,
            self.trade_no,
            self.out_trade_no,
            self.refund_no,
            self.out_refund_no,
            format_trade_time(self.at),
            yuan(self.amount),
            self.currency,
            yuan(self.fee),
            SUCCESS,
        )


@dataclass(frozen=True)
class BankBook:
    """What the bank did for one merchant, as the bill is made from it."""

    transactions: Sequence[Transaction]
    refunds: Sequence[RefundRecord]
    mch_id: str
    fee_bps: int


def _payments(book: BankBook, day: date, now: float) -> list[BillLine]:
    return [
        BillLine(PAYMENT, t.trade_no, t.out_trade_no, t.trade_time, t.amount, t.currency, t.fee)
        for t in book.transactions
        if t.mch_id == book.mch_id
        and t.status_at(now) == SUCCESS
        and t.trade_time.astimezone(SHANGHAI).date() == day
    ]


def _refunds(book: BankBook, day: date) -> list[BillLine]:
    orders = {t.out_trade_no: t for t in book.transactions if t.mch_id == book.mch_id}
    lines = []
    for r in book.refunds:
        order = orders.get(r.out_trade_no)
        at = from_epoch(r.refunded_at)
        if r.code != SUCCESS or order is None or at.date() != day:
            continue
        lines.append(
            BillLine(
                REFUND,
                order.trade_no,
                r.out_trade_no,
                at,
                -r.amount,
                order.currency,
                0,
                r.refund_no,
                r.out_refund_no,
            )
        )
    return lines


def _made_up(book: BankBook, day: date, count: int) -> list[BillLine]:
    """Charges the bill lists that the bank never made."""
    return [
        BillLine(
            PAYMENT,
            f"B{day:%Y%m%d}{line.digits(12)}",
            f"X{day:%Y%m%d}{line.digits(12)}",
            line.at,
            line.amount,
            "CNY",
            fee_for(line.amount, book.fee_bps),
        )
        for line in made_up_lines(book.mch_id, day, count)
    ]


def bill_lines(book: BankBook, day: date, now: float, faults: BillFaults) -> list[BillLine]:
    """The day's lines with the bill's faults applied, by time: charges settled as SUCCESS by
    now, refunds the bank made that day."""
    lines = [
        line
        for line in _payments(book, day, now) + _refunds(book, day)
        if (line.out_refund_no or line.out_trade_no) not in faults.omit
    ]
    lines += _made_up(book, day, faults.extra_lines)
    return sorted(lines, key=lambda line: (line.at, line.refund_no or line.trade_no))


def render_statement(
    book: BankBook, *, channel: str, day: date, now: float, faults: BillFaults
) -> str:
    """The bill's text: comment header, column row, one row per line, totals trailer."""
    lines = bill_lines(book, day, now, faults)
    refunds = [line.amount for line in lines if line.trade_type == REFUND]
    out = io.StringIO()
    out.write(
        f"# {channel} statement,mch_id={book.mch_id},date={day.isoformat()},"
        f"format={FORMAT},version={faults.version}\n"
    )
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(line.row() for line in lines)
    out.write(
        f"# total_count={len(lines)},total_amount={yuan(sum(line.amount for line in lines))},"
        f"refund_count={len(refunds)},refund_amount={yuan(-sum(refunds))}\n"
    )
    return out.getvalue()

"""The bank's daily statement of successful transactions as a CSV file with comment lines."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date

from channelsim.amounts import yuan
from channelsim.banktime import SHANGHAI, format_trade_time
from channelsim.store import SUCCESS, Transaction

COLUMNS = ("trade_no", "out_trade_no", "trade_time", "amount", "currency", "fee", "status")


def statement_rows(
    transactions: Iterable[Transaction], *, mch_id: str, day: date, now: float
) -> list[Transaction]:
    """The merchant's transactions settled as SUCCESS on day (Shanghai), by trade time."""
    rows = [
        t
        for t in transactions
        if t.mch_id == mch_id
        and t.status_at(now) == SUCCESS
        and t.trade_time.astimezone(SHANGHAI).date() == day
    ]
    return sorted(rows, key=lambda t: (t.trade_time, t.trade_no))


def render_statement(
    transactions: Iterable[Transaction], *, channel: str, mch_id: str, day: date, now: float
) -> str:
    """The statement text: comment header, column row, one row per transaction, totals trailer."""
    rows = statement_rows(transactions, mch_id=mch_id, day=day, now=now)
    out = io.StringIO()
    out.write(f"# {channel} statement,mch_id={mch_id},date={day.isoformat()}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for t in rows:
        writer.writerow(
            (
                t.trade_no,
                t.out_trade_no,
                format_trade_time(t.trade_time),
                yuan(t.amount),
                t.currency,
                yuan(t.fee),
                SUCCESS,
            )
        )
    total = sum(t.amount for t in rows)
    out.write(f"# total_count={len(rows)},total_amount={yuan(total)}\n")
    return out.getvalue()

"""Parses the bank channel's daily CSV statement (comment header, rows, trailer with totals)."""

from __future__ import annotations

import csv
import io
import re

from paysuite.money import Money
from recon.domain.model import StatementFormatError, StatementLine

_TRAILER = re.compile(r"^# total_count=(\d+),total_amount=(-?\d+\.\d{2})$")
_COLUMNS = ["trade_no", "out_trade_no", "trade_time", "amount", "currency", "fee", "status"]


def _line(number: int, row: dict[str, str | None]) -> StatementLine:
    if any(row.get(column) is None for column in _COLUMNS) or None in row:
        raise StatementFormatError(f"row {number} does not have {len(_COLUMNS)} fields")
    try:
        amount = Money.parse(str(row["amount"]), str(row["currency"]))
    except (ValueError, KeyError) as exc:
        raise StatementFormatError(f"row {number} has an unreadable amount") from exc
    return StatementLine(
        payment_id=str(row["out_trade_no"]),
        channel_transaction_id=str(row["trade_no"]),
        amount=amount,
        succeeded=row["status"] == "SUCCESS",
    )


def parse(content: bytes) -> list[StatementLine]:
    """All lines of the file; refuses a truncated file whose trailer totals do not add up."""
    text = content.decode("utf-8-sig")
    body = [line for line in text.splitlines() if line and not line.startswith("#")]
    trailers = [line for line in text.splitlines() if _TRAILER.match(line)]
    if not trailers:
        raise StatementFormatError("statement has no trailer: incomplete file")
    reader = csv.DictReader(io.StringIO("\n".join(body)))
    if reader.fieldnames != _COLUMNS:
        raise StatementFormatError("unexpected statement columns")
    lines = [_line(number, row) for number, row in enumerate(reader, start=1)]
    match = _TRAILER.match(trailers[-1])
    assert match is not None
    expected_count = int(match.group(1))
    currency = lines[0].amount.currency if lines else "CNY"
    expected_total = Money.parse(match.group(2), currency)
    total = sum((line.amount.minor_units for line in lines), 0)
    if expected_count != len(lines) or expected_total.minor_units != total:
        raise StatementFormatError("statement totals do not match its trailer")
    return lines

"""Plain CSV statements: any CSV through a column mapping, and the bank simulator's.

The bank simulator writes `# ...` comment lines around a fixed header and its rows; the last
comment is the trailer with its control totals (`# total_count=4,total_amount=1002.35,
refund_count=1,refund_amount=10.00`; format 1, charges only, stops after total_amount). A
generic CSV states no totals; its header must hold every column the mapping names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import IO
from zoneinfo import ZoneInfo

from paysuite.money import Money
from recon.adapters.statements.reading import (
    SHANGHAI,
    Item,
    Reader,
    byte_lines,
    decode,
    local_time,
    split,
    unknown_header,
)
from recon.domain.statement_totals import Check
from recon.domain.statements import (
    ColumnMapping,
    Direction,
    LineKind,
    MalformedLine,
    Rejection,
    StatementLine,
    StatementRefused,
    exact_decimal,
    money,
    required,
)

# The bank simulator's layouts by their column row: format 1 listed charges only; format 2 lists
# refunds too (trade_type REFUND, the refund's numbers, the amount negative).
_BANKSIM_V1 = ("trade_no", "out_trade_no", "trade_time", "amount", "currency", "fee", "status")
_BANKSIM_V2 = (
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
_TRAILER = re.compile(
    r"# total_count=([0-9]+),total_amount=(-?[0-9]+\.[0-9]+)"
    r"(?:,refund_count=([0-9]+),refund_amount=([0-9]+\.[0-9]+))?"
)
_TRADE_TYPES = {"PAYMENT": LineKind.PAYMENT, "REFUND": LineKind.REFUND}


def _signed(
    kind: LineKind | None, amount_text: str, currency: str
) -> tuple[LineKind, Direction, Money]:
    """Kind, direction and amount of a signed amount: negative is a refund unless kind says."""
    amount = money(amount_text, currency, "amount")
    negative = amount.minor_units < 0
    kind = kind or (LineKind.REFUND if negative else LineKind.PAYMENT)
    direction = Direction.DEBIT if kind is LineKind.REFUND else Direction.CREDIT
    return kind, direction, -amount if negative else amount


def _banksim_line(number: int, row: dict[str, str]) -> StatementLine:
    """A line of either layout; in format 2 a refund's amount must be negative, a charge's not."""
    kind = None
    if "trade_type" in row:
        kind = _TRADE_TYPES.get(row["trade_type"])
        if kind is None:
            raise MalformedLine(f"trade_type {row['trade_type']!r} is not PAYMENT or REFUND")
        if row["amount"].strip().startswith("-") != (kind is LineKind.REFUND):
            raise MalformedLine(f"a {row['trade_type']} line's amount has the other sign")
    refund = kind is LineKind.REFUND
    return StatementLine(
        number,
        *_signed(kind, row["amount"], row["currency"]),
        exact_decimal(row["fee"], "fee"),
        required(row["trade_no"], "trade_no"),
        required(row["out_trade_no"], "out_trade_no"),
        required(row["refund_no"], "refund_no") if refund else "",
        required(row["out_refund_no"], "out_refund_no") if refund else "",
        occurred_at=local_time(row["trade_time"], SHANGHAI),
        status=row["status"],
    )


def _stated(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


class BanksimCsv(Reader):
    """The bank simulator's daily bill, told by its column row (format 1 or 2). The trailer's
    totals are checked: count and signed sum of the lines, and in format 2 the refunds'."""

    known = "the bank simulator's statement (" + ",".join(_BANKSIM_V2) + ", or format 1)"

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw

    def __iter__(self) -> Iterator[Item]:
        columns: tuple[str, ...] = ()
        rows = refunds = 0
        total = refunded = Decimal(0)
        trailer: re.Match[str] | None = None
        for number, raw in byte_lines(self._raw):
            try:
                text = decode(raw, "utf-8")
                if text.startswith("#"):
                    trailer = _TRAILER.fullmatch(text) or trailer
                    continue
                if not text.strip():
                    continue
                cells = split(text, ",")
                if not columns:
                    if tuple(cells) not in (_BANKSIM_V1, _BANKSIM_V2):
                        raise StatementRefused(number, unknown_header(cells, self.known))
                    columns = tuple(cells)
                    continue
                if len(cells) != len(columns):
                    raise MalformedLine(f"{len(cells)} fields where the header has {len(columns)}")
                line = _banksim_line(number, dict(zip(columns, cells, strict=True)))
                amount = exact_decimal(cells[columns.index("amount")], "amount")
                rows, total = rows + 1, total + amount
                if line.kind is LineKind.REFUND:
                    refunds, refunded = refunds + 1, refunded - amount
                yield line
            except MalformedLine as exc:
                yield Rejection(number, str(exc))
        stated = [_stated(v) for v in trailer.groups()] if trailer else [None] * 4
        self.checks = [
            Check("trailer total_count", stated[0], rows),
            Check("trailer total_amount", stated[1], total),
        ]
        if columns == _BANKSIM_V2:
            self.checks += [
                Check("trailer refund_count", stated[2], refunds),
                Check("trailer refund_amount", stated[3], refunded),
            ]


class MappedCsv(Reader):
    """Any CSV whose columns a mapping names; the first line is its header."""

    def __init__(self, raw: IO[bytes], mapping: ColumnMapping) -> None:
        super().__init__()
        self._raw = raw
        self._mapping = mapping
        self._zone = ZoneInfo(mapping.time_zone)

    def __iter__(self) -> Iterator[Item]:
        mapping = self._mapping
        lines = byte_lines(self._raw)
        width, index = self._header(lines)
        for number, raw in lines:
            try:
                text = decode(raw, mapping.encoding)
                if not text.strip():
                    continue
                cells = [c.strip() for c in split(text, mapping.delimiter)]
                if len(cells) != width:
                    raise MalformedLine(f"{len(cells)} fields where the header has {width}")

                def get(name: str, cells: list[str] = cells) -> str:
                    return cells[index[name]] if name in index else ""

                kind = None
                if "kind" in index:
                    refund = get("kind") in mapping.refund_values
                    kind = LineKind.REFUND if refund else LineKind.PAYMENT
                yield StatementLine(
                    number,
                    *_signed(kind, get("amount"), get("currency") or mapping.currency),
                    exact_decimal(get("fee"), "fee") if get("fee") else Decimal(0),
                    required(get("channel_transaction_id"), "channel_transaction_id"),
                    required(get("order_id"), "order_id"),
                    get("channel_refund_id"),
                    get("refund_id"),
                    local_time(get("time"), self._zone) if get("time") else None,
                    get("status"),
                )
            except MalformedLine as exc:
                yield Rejection(number, str(exc))

    def _header(self, lines: Iterator[tuple[int, bytes]]) -> tuple[int, dict[str, int]]:
        """The header's width and where each mapped field's column is."""
        mapping = self._mapping
        for number, raw in lines:
            text = raw.decode(mapping.encoding, errors="replace")
            if not text.strip():
                continue
            cells = [c.strip() for c in split(text, mapping.delimiter)]
            wanted = {f: mapping.column(f) for f in ColumnMapping.FIELDS if mapping.column(f)}
            missing = sorted(c for c in wanted.values() if c not in cells)
            if missing:
                raise StatementRefused(
                    number, f"the header has no column {', '.join(map(repr, missing))}"
                )
            return len(cells), {f: cells.index(c) for f, c in wanted.items()}
        raise StatementRefused(0, "the file is empty")

"""A channel's statement file as recon reads it: its lines, the lines it could not read.

An importer (recon.adapters.statements) reads a file line by line and yields a StatementLine
for each transaction and a Rejection for each line it cannot read; a file it cannot read at all
(an unknown header, a zip with no bill in it) is refused whole with StatementRefused, naming
the line. What a file states about itself (control totals, balances) is statement_totals'.
No I/O here.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from paysuite.money import Money

# Longest identifier and status kept (the columns of recon's statement lines).
MAX_ID_LENGTH = 64
MAX_STATUS_LENGTH = 32

_DECIMAL = re.compile(r"[-+]?[0-9]+(?:\.[0-9]+)?")


class StatementFormat(enum.Enum):
    """The published layouts recon reads; each importer tells its layout by the header."""

    WECHAT = "wechat"  # WeChat Pay trade bill (ALL, SUCCESS or REFUND)
    WECHAT_FUNDFLOW = "wechat-fundflow"  # WeChat Pay fund-flow bill
    ALIPAY = "alipay"  # Alipay trade bill (业务明细, usually zipped) or personal export
    CAMT053 = "camt053"  # ISO 20022 BankToCustomerStatement, .001.02 to .001.08
    MT940 = "mt940"  # SWIFT MT940 customer statement
    CSV = "csv"  # any CSV, read through a column mapping
    BANKSIM = "banksim"  # the bank simulator's daily CSV
    UNIONPAY_ZM = "unionpay-zm"  # UnionPay's merchant ZM file (一般交易流水), zipped or plain


class LineKind(enum.Enum):
    PAYMENT = "payment"
    REFUND = "refund"
    FEE = "fee"  # a fee the channel books on its own line (fund-flow bills)
    TRANSFER = "transfer"  # any other movement: a withdrawal, a top-up, an adjustment


class Direction(enum.Enum):
    """Which way the money moved on the account the statement is of."""

    CREDIT = "credit"
    DEBIT = "debit"
    NONE = "none"  # moved nothing there (an Alipay personal export's 不计收支)


class MalformedLine(ValueError):
    """One line cannot be read; the importer reports it and goes on with the next."""


class StatementRefused(ValueError):
    """The file cannot be read at all, e.g. its header is not one of the layouts known.

    `line` is the line the reader stopped at (0: the file as a whole, e.g. a zip).
    """

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Rejection:
    """A line the importer could not read, and why."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One transaction as the file gives it.

    `amount` is positive; `direction` says which way it moved. `fee` is what the channel
    charged for it (negative: a fee it gave back), exact at the precision the file gives
    (WeChat's 手续费 has five decimals), whatever sign convention the file writes it in.
    `order_id` and `refund_id` are ours (the merchant order and refund numbers), the other ids
    the channel's. `status` is the file's own word for the transaction's state.
    """

    line_no: int
    kind: LineKind
    direction: Direction
    amount: Money
    fee: Decimal
    channel_transaction_id: str
    order_id: str
    channel_refund_id: str = ""
    refund_id: str = ""
    occurred_at: datetime | None = None
    status: str = ""

    def __post_init__(self) -> None:
        if self.amount.minor_units < 0:
            raise MalformedLine(f"negative amount {self.amount.format()}")
        for name in ("channel_transaction_id", "order_id", "channel_refund_id", "refund_id"):
            if len(getattr(self, name)) > MAX_ID_LENGTH:
                raise MalformedLine(f"{name} longer than {MAX_ID_LENGTH} characters")
        if len(self.status) > MAX_STATUS_LENGTH:
            raise MalformedLine(f"status longer than {MAX_STATUS_LENGTH} characters")


def exact_decimal(text: str, what: str) -> Decimal:
    """A plain decimal such as "-0.27000", exactly, at the precision written; MalformedLine
    for anything else (exponents, NaN, thousands separators)."""
    cleaned = text.strip()
    if not _DECIMAL.fullmatch(cleaned):
        raise MalformedLine(f"{what} {text!r} is not a plain decimal")
    return Decimal(cleaned)


def plain(value: Decimal) -> str:
    """A decimal as written, never in exponent notation: "0.00000", not "0E-5"."""
    return f"{value:f}"


def required(text: str, name: str) -> str:
    """A cell that must not be empty (an id the line cannot be matched without)."""
    if not text:
        raise MalformedLine(f"no {name}")
    return text


def money(text: str, currency: str, what: str) -> Money:
    """An amount in major units as integer minor units; MalformedLine when it is not one."""
    try:
        return Money.parse(text, currency)
    except (ValueError, KeyError) as exc:
        raise MalformedLine(f"{what} {text!r}: {exc}") from None


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """How a generic CSV's columns name a statement line's fields.

    `columns` maps a field (see FIELDS) to the header naming it; channel_transaction_id,
    order_id and amount default to columns of their own names. A negative amount is a refund
    unless a `kind` column says which lines are (with one of `refund_values`). Times are ISO
    8601; one without an offset is in `time_zone`.
    """

    columns: dict[str, str] = field(default_factory=dict)
    delimiter: str = ","
    encoding: str = "utf-8"
    currency: str = "CNY"
    refund_values: tuple[str, ...] = ("refund", "REFUND", "退款")
    time_zone: str = "UTC"

    FIELDS = (
        "channel_transaction_id",
        "order_id",
        "channel_refund_id",
        "refund_id",
        "kind",
        "amount",
        "currency",
        "fee",
        "time",
        "status",
    )
    REQUIRED = ("channel_transaction_id", "order_id", "amount")

    def column(self, name: str) -> str:
        """The header of a field; "" when an optional field is not mapped."""
        return self.columns.get(name, name if name in self.REQUIRED else "")

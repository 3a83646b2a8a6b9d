"""A merchant's statement of a date (商户对账单) from the ledger: each movement on its payable
account told apart by its transfer (a payment's capture, a refund, a reconciliation adjustment,
anything else), with the platform's fee from the transfer's posting to fee income, and the
totals; and the rule that it is given only once the channel layer of the date is clean. No I/O.
"""

from __future__ import annotations

import csv
import enum
import io
from dataclasses import dataclass
from datetime import date, datetime

from paysuite import accounts
from paysuite.money import Money


class LineKind(enum.Enum):
    PAYMENT = "payment"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Posting:
    """One posting of a ledger transfer (minor units)."""

    debit: str
    credit: str
    amount: int


@dataclass(frozen=True, slots=True)
class Movement:
    """A transfer that moved the merchant's payable account, with all its postings."""

    transfer_id: str
    posted_at: datetime
    net: int  # what it moved the payable by: credits less debits
    postings: tuple[Posting, ...]


@dataclass(frozen=True, slots=True)
class StatementLine:
    """amount, fee and net signed as they move what the merchant is owed (net = amount + fee)."""

    kind: LineKind
    transfer_id: str
    transaction_id: str
    channel: str
    amount: int
    fee: int
    net: int
    posted_at: datetime


@dataclass(frozen=True, slots=True)
class MerchantStatement:
    merchant_id: str
    statement_date: date
    currency: str
    lines: tuple[StatementLine, ...]

    def _sum(self, kind: LineKind, field: str) -> int:
        return sum(getattr(line, field) for line in self.lines if line.kind is kind)

    def count(self, kind: LineKind) -> int:
        return sum(1 for line in self.lines if line.kind is kind)

    @property
    def payment_amount(self) -> int:
        return self._sum(LineKind.PAYMENT, "amount")

    @property
    def refund_amount(self) -> int:
        return -self._sum(LineKind.REFUND, "amount")

    @property
    def fee_amount(self) -> int:
        """Fees charged less fees given back (positive when charged)."""
        return -sum(line.fee for line in self.lines)

    @property
    def adjustment_amount(self) -> int:
        return self._sum(LineKind.ADJUSTMENT, "net")

    @property
    def other_amount(self) -> int:
        return self._sum(LineKind.OTHER, "net")

    @property
    def net_amount(self) -> int:
        return sum(line.net for line in self.lines)

    @property
    def channels(self) -> list[str]:
        """The channels that carried its payments and refunds."""
        return sorted(
            {
                line.channel
                for line in self.lines
                if line.channel and line.kind in (LineKind.PAYMENT, LineKind.REFUND)
            }
        )


def _channel_of(postings: tuple[Posting, ...], currency: str) -> str:
    """The channel whose receivable the transfer moved."""
    suffix = f".receivable.{currency}"
    for posting in postings:
        for account in (posting.debit, posting.credit):
            if account.startswith("channel.") and account.endswith(suffix):
                return account.removeprefix("channel.").removesuffix(suffix)
    return ""


def statement_line(movement: Movement, currency: str) -> StatementLine:
    """What one transfer did to the payable account, and what it was."""
    postings, net = movement.postings, movement.net
    income = accounts.fee_income(currency)
    fee = sum(p.amount for p in postings if p.debit == income) - sum(
        p.amount for p in postings if p.credit == income
    )
    name, _, suffix = movement.transfer_id.rpartition(":")
    kind = {"capture": LineKind.PAYMENT, "refund": LineKind.REFUND}.get(suffix, LineKind.OTHER)
    if kind is LineKind.OTHER and movement.transfer_id.startswith("recon:"):
        kind, name = LineKind.ADJUSTMENT, name.removeprefix("recon:")
    if kind is LineKind.OTHER:
        name, fee = movement.transfer_id, 0
    return StatementLine(
        kind,
        movement.transfer_id,
        name,
        _channel_of(postings, currency) if kind is not LineKind.OTHER else "",
        net - fee,
        fee,
        net,
        movement.posted_at,
    )


def build(
    merchant_id: str, day: date, currency: str, movements: list[Movement]
) -> MerchantStatement:
    lines = sorted(
        (statement_line(m, currency) for m in movements),
        key=lambda line: (line.posted_at, line.transfer_id),
    )
    return MerchantStatement(merchant_id, day, currency, tuple(lines))


def unclean(channels: list[str], reconciled: set[str], open_counts: dict[str, int]) -> list[str]:
    """What keeps the date's channel layer from being clean, channel by channel."""
    problems = [f"{c}: not reconciled" for c in channels if c not in reconciled]
    problems += [f"{c}: {n} differences open" for c, n in sorted(open_counts.items()) if n]
    return problems


CSV_HEADER = (
    "merchant_id",
    "statement_date",
    "kind",
    "transaction_id",
    "channel",
    "posted_at",
    "currency",
    "amount",
    "fee",
    "net",
)


def to_csv(statement: MerchantStatement) -> str:
    """The statement as CSV: a line per movement, then a total line per figure."""
    currency = statement.currency

    def major(units: int) -> str:
        return Money(currency, units).format().rpartition(" ")[0]

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    head = (statement.merchant_id, statement.statement_date.isoformat())
    for line in statement.lines:
        writer.writerow(
            (
                *head,
                line.kind.value,
                line.transaction_id,
                line.channel,
                line.posted_at.isoformat(),
                currency,
                major(line.amount),
                major(line.fee),
                major(line.net),
            )
        )
    totals = (
        (f"total payments ({statement.count(LineKind.PAYMENT)})", statement.payment_amount),
        (f"total refunds ({statement.count(LineKind.REFUND)})", -statement.refund_amount),
        ("total fees", -statement.fee_amount),
        ("total adjustments", statement.adjustment_amount),
        ("total other", statement.other_amount),
        ("net", statement.net_amount),
    )
    for label, units in totals:
        writer.writerow((*head, label, "", "", "", currency, "", "", major(units)))
    return out.getvalue()

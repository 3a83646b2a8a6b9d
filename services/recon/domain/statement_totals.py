"""What an imported statement adds up to, and whether that agrees with what the file says.

A Tally counts the lines as they stream past (nothing is kept per line); the importer's Checks
compare what the file states about itself (its totals block, its balances) with what its lines
give. A check that fails is a file-level break: the file is kept, flagged, not read as N broken
lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from paysuite.money import Money
from recon.domain.statements import (
    Direction,
    LineKind,
    Rejection,
    StatementFormat,
    StatementLine,
    plain,
)

# Rejected lines kept with their reasons; past this only the count grows (a file that is all
# wrong must not fill memory with reasons).
KEPT_REJECTIONS = 1000


class Amount(NamedTuple):
    """A signed amount as a file writes it, in any currency (a bank statement's balances)."""

    currency: str
    value: Decimal

    def __str__(self) -> str:
        return f"{plain(self.value)} {self.currency}"


CheckValue = int | Decimal | Amount


def _show(value: CheckValue | None) -> str:
    if isinstance(value, Decimal):
        return plain(value)
    return "nothing" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Check:
    """One thing the file states about itself beside what its lines give.

    `declared` is None when the file lacks a statement it should carry (a bill cut off before
    its totals). `balance` marks account balances (opening + entries = closing) apart from
    control totals (counts and sums).
    """

    name: str
    declared: CheckValue | None
    counted: CheckValue
    balance: bool = False

    @property
    def holds(self) -> bool:
        return self.declared is not None and self.declared == self.counted

    def describe(self) -> str:
        if self.declared is None:
            return f"{self.name}: the file gives none (cut short?)"
        declared, counted = _show(self.declared), _show(self.counted)
        return f"{self.name}: the file says {declared}, its lines give {counted}"


@dataclass(slots=True)
class CurrencyTotals:
    """Counts and sums of one currency's lines; fee_net is fees charged less fees returned."""

    currency: str
    payments: int = 0
    refunds: int = 0
    payment_minor_units: int = 0
    refund_minor_units: int = 0
    credit_minor_units: int = 0
    debit_minor_units: int = 0
    fee_net: Decimal = field(default_factory=lambda: Decimal(0))
    # An account statement's closing booked balance (the last statement's), signed.
    closing_minor_units: int | None = None


class Tally:
    """Adds lines up as they pass, per currency."""

    def __init__(self) -> None:
        self.rows = 0
        self.totals: dict[str, CurrencyTotals] = {}
        self.rejected = 0
        self.rejections: list[Rejection] = []

    def add(self, line: StatementLine) -> None:
        self.rows += 1
        currency = line.amount.currency
        totals = self.totals.get(currency)
        if totals is None:
            totals = self.totals[currency] = CurrencyTotals(currency)
        units = line.amount.minor_units
        if line.kind is LineKind.PAYMENT:
            totals.payments += 1
            totals.payment_minor_units += units
        elif line.kind is LineKind.REFUND:
            totals.refunds += 1
            totals.refund_minor_units += units
        if line.direction is Direction.CREDIT:
            totals.credit_minor_units += units
        elif line.direction is Direction.DEBIT:
            totals.debit_minor_units += units
        totals.fee_net += line.fee

    def _closing(self, closing: Amount) -> None:
        """Keeps a statement's closing balance in minor units (one in a currency we do not
        keep is left out)."""
        try:
            minor = Money.parse(plain(closing.value), closing.currency).minor_units
        except ValueError:
            return
        totals = self.totals.setdefault(closing.currency, CurrencyTotals(closing.currency))
        totals.closing_minor_units = minor

    def count(self, items: Iterable[StatementLine | Rejection]) -> Iterator[StatementLine]:
        """The lines among an importer's items, each added up as it passes; rejections noted."""
        for item in items:
            if isinstance(item, Rejection):
                self.reject(item)
            else:
                self.add(item)
                yield item

    def reject(self, rejection: Rejection) -> None:
        self.rejected += 1
        if len(self.rejections) < KEPT_REJECTIONS:
            self.rejections.append(rejection)

    def summary(self, checks: list[Check]) -> StatementSummary:
        balances = [c for c in checks if c.balance]
        for check in balances:
            if isinstance(check.declared, Amount):
                self._closing(check.declared)
        return StatementSummary(
            rows=self.rows,
            totals=tuple(self.totals[c] for c in sorted(self.totals)),
            rejected=self.rejected,
            rejections=tuple(self.rejections),
            breaks=tuple(c.describe() for c in checks if not c.holds),
            control_totals_consistent=all(c.holds for c in checks if not c.balance),
            balances_consistent=all(c.holds for c in balances) if balances else None,
        )


@dataclass(frozen=True, slots=True)
class StatementSummary:
    """An imported file in figures. `balances_consistent` is None for a file with no balances;
    `breaks` describes every check that failed, control totals and balances alike."""

    rows: int
    totals: tuple[CurrencyTotals, ...]
    rejected: int
    rejections: tuple[Rejection, ...]
    breaks: tuple[str, ...]
    control_totals_consistent: bool
    balances_consistent: bool | None


@dataclass(frozen=True, slots=True)
class StatementImport:
    """One file imported for a channel's day. A day has one current import: a different file
    for the same day replaces it (`replaces` names the one it replaced); the same file again is
    the same import."""

    import_id: str
    channel: str
    format: StatementFormat
    statement_date: date
    file_sha256: str
    file_bytes: int
    summary: StatementSummary
    replaces: str
    created_at: datetime

"""Statement lines, our records, and how one is matched against the other by transaction id."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from paysuite.money import Money


class Outcome(enum.Enum):
    MATCHED = "matched"
    LONG = "long"  # 长款: the channel has it; we do not, or not as a success
    SHORT = "short"  # 短款: we have a success the channel does not
    AMOUNT_MISMATCH = "amount_mismatch"


class RunState(enum.Enum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class StatementFormatError(ValueError):
    """A channel's statement file is not a complete statement in the format expected of it."""


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One row of a channel's statement; our payment id is the channel's merchant order no."""

    payment_id: str
    channel_transaction_id: str
    amount: Money
    succeeded: bool


@dataclass(frozen=True, slots=True)
class OurRecord:
    payment_id: str
    amount: Money
    succeeded: bool


@dataclass(frozen=True, slots=True)
class MatchResult:
    payment_id: str
    outcome: Outcome
    statement_amount: Money | None
    our_amount: Money | None

    @property
    def currency(self) -> str:
        amount = self.statement_amount or self.our_amount
        assert amount is not None, "a match result has at least one side"
        return amount.currency


def match(lines: Iterable[StatementLine], records: Iterable[OurRecord]) -> list[MatchResult]:
    """Compares both sides by id; our failed records missing from the statement are fine."""
    ours = {r.payment_id: r for r in records}
    results: list[MatchResult] = []
    seen: set[str] = set()
    for line in lines:
        if not line.succeeded:
            continue
        seen.add(line.payment_id)
        record = ours.get(line.payment_id)
        if record is None or not record.succeeded:
            outcome = Outcome.LONG
        elif record.amount != line.amount:
            outcome = Outcome.AMOUNT_MISMATCH
        else:
            outcome = Outcome.MATCHED
        results.append(
            MatchResult(line.payment_id, outcome, line.amount, record.amount if record else None)
        )
    for record in ours.values():
        if record.succeeded and record.payment_id not in seen:
            results.append(MatchResult(record.payment_id, Outcome.SHORT, None, record.amount))
    return results


def count(results: Iterable[MatchResult]) -> dict[Outcome, int]:
    return dict(Counter(r.outcome for r in results))


@dataclass(frozen=True, slots=True)
class ReconciliationRun:
    run_id: str
    request_id: str
    channel: str
    statement_date: date
    state: RunState
    statement_rows: int
    our_records: int
    counts: dict[Outcome, int]
    created_at: datetime

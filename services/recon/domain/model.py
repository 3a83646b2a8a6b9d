"""A reconciliation run of a channel's date: its state, where it is, what it found."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime

from paysuite.errors import NotFound
from recon.domain.matching import Outcome


class RunState(enum.Enum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class Phase(enum.Enum):
    STAGING = "staging"  # reading the bill, the gateway's records, the ledger's postings
    MATCHING = "matching"  # bucket ranges
    POSTING = "posting"  # differences stored and parked in suspense
    DONE = "done"


class RunNotFound(NotFound):
    """No run with this id."""


@dataclass(frozen=True, slots=True)
class ReconciliationRun:
    run_id: str
    request_id: str
    channel: str
    statement_date: date
    state: RunState
    created_at: datetime
    phase: Phase = Phase.STAGING
    statement_rows: int = 0
    our_records: int = 0
    ledger_records: int = 0
    carried_in: int = 0
    counts: dict[Outcome, int] = field(default_factory=dict)
    buckets_done: int = 0
    buckets_total: int = 0
    import_id: str = ""
    discrepancies: int = 0
    posted: int = 0
    matched_later: int = 0
    flagged_resolved: int = 0
    failure: str = ""
    updated_at: datetime | None = None

"""The ledger's units of work: postings at READ COMMITTED, day-end reads on one snapshot.

The ledger talks to Postgres through a plain asyncpg pool: its batch path is set-based SQL
and binary COPY, and the ORM's per-statement overhead was most of a single transfer's cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ledger.adapters.day_end_store import DayEndStore
from ledger.adapters.repository import BUSINESS_DATE_LOCK, LedgerRepository
from ledger.adapters.spec_cache import SpecCache
from ledger.adapters.unit_of_work import LedgerUnitOfWork

UnitOfWork = LedgerUnitOfWork[LedgerRepository]
UnitOfWorkFactory = Callable[[], UnitOfWork]
DayEndUnitOfWork = LedgerUnitOfWork[DayEndStore]


@dataclass(frozen=True)
class LedgerUnits:
    """Factories for the ledger's transactions over one pool, and what it knows of splits."""

    pool: Any
    # Split accounts seen so far and their sub-account counts; a split never changes.
    splits: dict[str, int] = field(default_factory=dict)
    specs: SpecCache = field(default_factory=SpecCache)

    def postings(self) -> UnitOfWork:
        return LedgerUnitOfWork(self.pool, self._repository)

    def posting_batch(self) -> UnitOfWork:
        """A transaction that posts: it holds the business date shared from its first statement,
        so a day-cut waits for it and it never sees a date being cut."""
        return LedgerUnitOfWork(
            self.pool,
            self._repository,
            begin_sql=f"SELECT pg_advisory_xact_lock_shared({BUSINESS_DATE_LOCK})",
        )

    def _repository(self, connection: Any) -> LedgerRepository:
        return LedgerRepository(connection, self.specs)

    def day_end_snapshot(self) -> DayEndUnitOfWork:
        return LedgerUnitOfWork(self.pool, DayEndStore, isolation="repeatable_read")

    def day_end_writes(self) -> DayEndUnitOfWork:
        return LedgerUnitOfWork(self.pool, DayEndStore)

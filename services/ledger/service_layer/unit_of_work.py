"""The ledger's units of work: postings at READ COMMITTED, day-end reads on one snapshot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.adapters.day_end_store import DayEndStore
from ledger.adapters.repository import LedgerRepository
from paysuite.runtime.database import SqlUnitOfWork

UnitOfWork = SqlUnitOfWork[LedgerRepository]
UnitOfWorkFactory = Callable[[], UnitOfWork]
DayEndUnitOfWork = SqlUnitOfWork[DayEndStore]


@dataclass(frozen=True)
class LedgerUnits:
    """Factories for the ledger's transactions."""

    engine: AsyncEngine

    def postings(self) -> UnitOfWork:
        return SqlUnitOfWork(self.engine, LedgerRepository)

    def day_end_snapshot(self) -> DayEndUnitOfWork:
        return SqlUnitOfWork(self.engine, DayEndStore, isolation_level="REPEATABLE READ")

    def day_end_writes(self) -> DayEndUnitOfWork:
        return SqlUnitOfWork(self.engine, DayEndStore)


def uow_factory(engine: AsyncEngine) -> UnitOfWorkFactory:
    return LedgerUnits(engine).postings

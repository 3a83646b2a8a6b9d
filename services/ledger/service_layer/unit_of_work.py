"""The ledger unit of work: one transaction with the ledger repository bound to it."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.adapters.repository import LedgerRepository
from paysuite.runtime.database import SqlUnitOfWork

UnitOfWork = SqlUnitOfWork[LedgerRepository]
UnitOfWorkFactory = Callable[[], UnitOfWork]


def uow_factory(engine: AsyncEngine) -> UnitOfWorkFactory:
    return lambda: SqlUnitOfWork(engine, LedgerRepository)

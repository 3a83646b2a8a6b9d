"""The ledger's unit of work: one transaction with the ledger repository bound to it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Self

from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.adapters.repository import LedgerRepository
from paysuite.runtime.database import SqlUnitOfWork


class LedgerUnitOfWork(SqlUnitOfWork):
    """Rolls back unless committed."""

    ledger: LedgerRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.ledger = LedgerRepository(self.connection)
        return self


UnitOfWorkFactory = Callable[[], LedgerUnitOfWork]


def uow_factory(engine: AsyncEngine) -> UnitOfWorkFactory:
    return lambda: LedgerUnitOfWork(engine)

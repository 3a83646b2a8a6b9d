"""The ledger's unit of work: a pool transaction whose refusals are the ledger's own errors.

Use cases retry or fall back on `WriteConflict` and `StoreRefused`, never on the driver's.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self, TypeVar

import asyncpg

from ledger.domain.conflicts import StoreRefused, WriteConflict
from paysuite.runtime.database import PoolUnitOfWork

R = TypeVar("R")

_CONFLICTS = (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError)


def _refusal(error: Any) -> StoreRefused:
    return WriteConflict(str(error)) if isinstance(error, _CONFLICTS) else StoreRefused(str(error))


class LedgerUnitOfWork(PoolUnitOfWork[R]):
    async def __aenter__(self) -> Self:
        try:
            return await super().__aenter__()
        except asyncpg.PostgresError as error:
            raise _refusal(error) from error

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await super().__aexit__(exc_type, exc, tb)
        if isinstance(exc, asyncpg.PostgresError):
            raise _refusal(exc) from exc

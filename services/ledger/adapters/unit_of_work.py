"""The ledger's unit of work: a pool transaction whose refusals are the ledger's own errors.

Use cases retry or fall back on `WriteConflict` and `StoreRefused`, never on the driver's.
"""

from __future__ import annotations

from typing import TypeVar

import asyncpg

from ledger.domain.conflicts import StoreRefused, WriteConflict
from paysuite.runtime.database import PoolUnitOfWork

R = TypeVar("R")

_CONFLICTS = (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError)


class LedgerUnitOfWork(PoolUnitOfWork[R]):
    def translate(self, error: Exception) -> Exception | None:
        if isinstance(error, _CONFLICTS):
            return WriteConflict(str(error))
        if isinstance(error, asyncpg.PostgresError):
            return StoreRefused(str(error))
        return None

"""The identity unit of work: one transaction with the identity repository bound to it."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from identity.adapters.repository import IdentityRepository
from paysuite.runtime.database import SqlUnitOfWork

UnitOfWork = SqlUnitOfWork[IdentityRepository]
UnitOfWorkFactory = Callable[[], UnitOfWork]


def uow_factory(engine: AsyncEngine) -> UnitOfWorkFactory:
    return lambda: SqlUnitOfWork(engine, IdentityRepository)

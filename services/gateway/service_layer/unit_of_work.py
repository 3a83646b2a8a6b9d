"""The gateway unit of work: one transaction with the gateway repository bound to it."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.adapters.repository import GatewayRepository
from paysuite.runtime.database import SqlUnitOfWork

UnitOfWork = SqlUnitOfWork[GatewayRepository]
UnitOfWorkFactory = Callable[[], UnitOfWork]


def uow_factory(engine: AsyncEngine) -> UnitOfWorkFactory:
    return lambda: SqlUnitOfWork(engine, GatewayRepository)

"""The recon unit of work: one transaction with the recon repository bound to it."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from paysuite.runtime.database import SqlUnitOfWork
from recon.adapters.repository import ReconRepository

UnitOfWork = SqlUnitOfWork[ReconRepository]
UnitOfWorkFactory = Callable[[], UnitOfWork]


def uow_factory(engine: AsyncEngine) -> UnitOfWorkFactory:
    return lambda: SqlUnitOfWork(engine, ReconRepository)

"""Async SQLAlchemy engine pinned to a service's schema, and a rollback-by-default unit of work."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from paysuite.runtime.dsn import asyncpg_sqlalchemy_url


def create_engine(dsn: str, *, schema: str, service: str, pool_size: int = 10) -> AsyncEngine:
    """An engine whose connections see only the service's schema first on the search path."""
    return create_async_engine(
        asyncpg_sqlalchemy_url(dsn),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        # Pinned so correctness never depends on server or role defaults.
        isolation_level="READ COMMITTED",
        connect_args={
            "server_settings": {
                "search_path": schema,
                "application_name": f"paysuite-{service}",
            }
        },
    )


R = TypeVar("R")


class SqlUnitOfWork(Generic[R]):
    """One database transaction with a repository bound to it; rolls back unless committed."""

    repo: R

    def __init__(
        self,
        engine: AsyncEngine,
        repository: Callable[[AsyncConnection], R],
        isolation_level: str | None = None,
    ) -> None:
        self._engine = engine
        self._repository = repository
        self._isolation_level = isolation_level
        self._connection: AsyncConnection | None = None

    @property
    def connection(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._connection

    async def __aenter__(self) -> Self:
        self._connection = await self._engine.connect()
        if self._isolation_level:
            await self._connection.execution_options(isolation_level=self._isolation_level)
        await self._connection.begin()
        self.repo = self._repository(self._connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self.connection, None
        try:
            if connection.in_transaction():
                await connection.rollback()
        finally:
            await connection.close()

    async def commit(self) -> None:
        await self.connection.commit()
        await self.connection.begin()

    async def rollback(self) -> None:
        await self.connection.rollback()
        await self.connection.begin()


async def driver_connection(connection: AsyncConnection) -> Any:
    """The asyncpg connection under a SQLAlchemy one, inside its transaction, for bulk work."""
    # The asyncpg dialect sends BEGIN lazily, on its first statement: make that happen first.
    await connection.execute(text("SELECT 1"))
    raw = await connection.get_raw_connection()
    return raw.driver_connection

"""Async SQLAlchemy engine pinned to a service's schema, and a rollback-by-default unit of work."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from paysuite.runtime.dsn import asyncpg_sqlalchemy_url, plain_postgres_url


def create_engine(dsn: str, *, schema: str, service: str, pool_size: int = 10) -> AsyncEngine:
    """An engine whose connections see only the service's schema first on the search path."""
    return create_async_engine(
        asyncpg_sqlalchemy_url(dsn),
        pool_size=pool_size,
        max_overflow=pool_size,
        # No pre-ping round trip per checkout: asyncpg reports a dead connection on use, and
        # SQLAlchemy then discards it; recycling bounds how stale a pooled connection gets.
        pool_recycle=1800,
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


async def driver_connection(
    connection: AsyncConnection, first: str = "SELECT 1", **params: Any
) -> tuple[Any, Any]:
    """The asyncpg connection under a SQLAlchemy one, inside its transaction, for bulk work.

    The asyncpg dialect sends BEGIN lazily with its first statement, so `first` goes through
    SQLAlchemy (and BEGIN with it); its first row is returned alongside the connection.
    """
    row = (await connection.execute(text(first), params)).first()
    raw = await connection.get_raw_connection()
    return raw.driver_connection, row


async def create_pool(dsn: str, *, schema: str, service: str, size: int = 10) -> Any:
    """A plain asyncpg pool pinned to the service's schema, for hot paths that skip the ORM."""
    import asyncpg

    return await asyncpg.create_pool(
        plain_postgres_url(dsn),
        min_size=1,
        max_size=size,
        server_settings={"search_path": schema, "application_name": f"paysuite-{service}"},
        reset=_keep_session,
    )


async def _keep_session(connection: Any) -> None:
    """Releases a connection with no reset query: asyncpg still rolls back an open transaction,
    and the units of work on these pools leave no session state behind (their locks are
    transaction-scoped; no LISTEN, cursor or SET outlives a transaction). The default query
    (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL) was one more round trip per transaction.
    """


_ISOLATION_SQL = {"read_committed": "READ COMMITTED", "repeatable_read": "REPEATABLE READ"}


class PoolUnitOfWork(Generic[R]):
    """One asyncpg transaction with a repository bound to it; rolls back unless committed.

    `begin_sql` is sent in the same round trip as BEGIN (e.g. a transaction-scoped lock every
    unit of this kind takes first), which saves a round trip on hot paths.
    """

    repo: R

    def __init__(
        self,
        pool: Any,
        repository: Callable[[Any], R],
        isolation: str = "read_committed",
        begin_sql: str = "",
    ) -> None:
        self._pool = pool
        self._repository = repository
        self._begin_sql = f"BEGIN ISOLATION LEVEL {_ISOLATION_SQL[isolation]}" + (
            f"; {begin_sql}" if begin_sql else ""
        )
        self._connection: Any = None
        self._open = False

    async def __aenter__(self) -> Self:
        self._connection = await self._pool.acquire()
        try:
            await self._begin()
        except BaseException:
            await self._pool.release(self._connection)
            raise
        self.repo = self._repository(self._connection)
        return self

    async def _begin(self) -> None:
        await self._connection.execute(self._begin_sql)
        self._open = True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._open:
                self._open = False
                await self._connection.execute("ROLLBACK")
        finally:
            await self._pool.release(self._connection)

    async def commit(self) -> None:
        """Commits; the unit of work is finished (no new transaction is opened after it)."""
        self._open = False
        await self._connection.execute("COMMIT")

    async def rollback(self) -> None:
        """Rolls back and opens a fresh transaction on the same connection."""
        self._open = False
        await self._connection.execute("ROLLBACK")
        await self._begin()

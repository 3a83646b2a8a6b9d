"""Engines and pools pinned to a service's schema, and the rollback-by-default unit of work."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from paysuite.runtime.dsn import asyncpg_sqlalchemy_url, plain_postgres_url

_log = logging.getLogger(__name__)

# How long a stopping service waits for its connections to come back before cutting them.
POOL_CLOSE_SECONDS = 10.0


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


class UnitOfWorkFinished(RuntimeError):
    """A unit of work was used after its commit, or outside its `async with`."""


class UnitOfWork(ABC, Generic[R]):
    """One database transaction with a repository bound to it. Both kinds below keep this:

    - `async with` takes a connection and begins the transaction; leaving the block rolls back
      whatever was not committed (an exception included) and gives the connection back.
    - `commit()` commits and ends the unit: after it, `repo`, `commit()` and `rollback()` raise
      UnitOfWorkFinished. Work that follows a commit takes a new unit.
    - `rollback()` undoes the unit's work so far and goes on in a fresh transaction on the same
      connection: a use case that lost an insert race reads what the winner wrote.
    - An error raised in the unit leaves it as `translate` makes it: a service's adapters
      override that to turn the driver's errors into the service's own.
    """

    _repo: R | None = None

    def __init__(self, repository: Callable[[Any], R]) -> None:
        self._repository = repository

    @property
    def repo(self) -> R:
        if self._repo is None:
            raise UnitOfWorkFinished("the unit of work is committed or not open: open a new one")
        return self._repo

    def translate(self, error: Exception) -> Exception | None:
        """The exception to raise instead of an error raised in the unit; None keeps it."""
        return None

    async def __aenter__(self) -> Self:
        try:
            self._repo = self._repository(await self._open())
        except Exception as error:
            self._raise_translated(error)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._repo = None
        await self._close()
        if isinstance(exc, Exception):
            self._raise_translated(exc)

    def _raise_translated(self, error: Exception) -> None:
        translated = self.translate(error)
        if translated is not None:
            raise translated from error

    def _finish(self) -> None:
        """Checks the unit is open and ends it."""
        if self._repo is None:
            raise UnitOfWorkFinished("the unit of work is committed or not open")
        self._repo = None

    @abstractmethod
    async def _open(self) -> Any:
        """Takes a connection and begins the transaction; returns the connection."""

    @abstractmethod
    async def _close(self) -> None:
        """Rolls back what was not committed and gives the connection back."""

    @abstractmethod
    async def commit(self) -> None: ...

    @abstractmethod
    async def rollback(self) -> None: ...


class SqlUnitOfWork(UnitOfWork[R]):
    """The unit of work on a SQLAlchemy connection."""

    def __init__(
        self,
        engine: AsyncEngine,
        repository: Callable[[AsyncConnection], R],
        isolation_level: str | None = None,
    ) -> None:
        super().__init__(repository)
        self._engine = engine
        self._isolation_level = isolation_level
        self._connection: AsyncConnection | None = None

    async def _open(self) -> AsyncConnection:
        connection = await self._engine.connect()
        try:
            if self._isolation_level:
                await connection.execution_options(isolation_level=self._isolation_level)
            await connection.begin()
        except BaseException:
            await connection.close()
            raise
        self._connection = connection
        return connection

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            raise UnitOfWorkFinished("unit of work left without being entered")
        try:
            if connection.in_transaction():
                await connection.rollback()
        finally:
            await connection.close()

    async def commit(self) -> None:
        self._finish()
        assert self._connection is not None
        await self._connection.commit()

    async def rollback(self) -> None:
        repo, self._repo = self.repo, None
        assert self._connection is not None
        await self._connection.rollback()
        await self._connection.begin()
        self._repo = repo


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


async def create_pool(
    dsn: str, *, schema: str, service: str, size: int = 10, generic_plans: bool = False
) -> Any:
    """A plain asyncpg pool pinned to the service's schema, for hot paths that skip the ORM.

    With `generic_plans`, each statement is planned once per connection: for batch statements
    whose array arguments vary in length, which Postgres otherwise plans again on about half
    their runs (each custom plan looks cheaper to it than the generic one). Only for statements
    that never need a parameter's value to choose a partial index.
    """
    import asyncpg

    settings = {"search_path": schema, "application_name": f"paysuite-{service}"}
    if generic_plans:
        settings["plan_cache_mode"] = "force_generic_plan"
    return await asyncpg.create_pool(
        plain_postgres_url(dsn),
        min_size=1,
        max_size=size,
        server_settings=settings,
        reset=_keep_session,
    )


async def close_pool(pool: Any, timeout: float = POOL_CLOSE_SECONDS) -> None:
    """Closes an asyncpg pool once its connections are back, cutting those still out after
    timeout: asyncpg's own close waits for every one without end, so one stuck call would hold
    the process past its orchestrator's grace period."""
    try:
        async with asyncio.timeout(timeout):
            await pool.close()
    except TimeoutError:
        _log.warning("database connections still in use at shutdown were cut")
        pool.terminate()


async def _keep_session(connection: Any) -> None:
    """Releases a connection with no reset query: asyncpg still rolls back an open transaction,
    and the units of work on these pools leave no session state behind (their locks are
    transaction-scoped; no LISTEN, cursor or SET outlives a transaction). The default query
    (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL) was one more round trip per transaction.
    """


_ISOLATION_SQL = {"read_committed": "READ COMMITTED", "repeatable_read": "REPEATABLE READ"}


class PoolUnitOfWork(UnitOfWork[R]):
    """The unit of work on a connection of a plain asyncpg pool.

    `begin_sql` is sent in the same round trip as BEGIN (e.g. a transaction-scoped lock every
    unit of this kind takes first), which saves a round trip on hot paths.
    """

    def __init__(
        self,
        pool: Any,
        repository: Callable[[Any], R],
        isolation: str = "read_committed",
        begin_sql: str = "",
    ) -> None:
        super().__init__(repository)
        self._pool = pool
        self._begin_sql = f"BEGIN ISOLATION LEVEL {_ISOLATION_SQL[isolation]}" + (
            f"; {begin_sql}" if begin_sql else ""
        )
        self._connection: Any = None
        self._in_transaction = False

    async def _open(self) -> Any:
        self._connection = await self._pool.acquire()
        try:
            await self._begin()
        except BaseException:
            await self._pool.release(self._connection)
            raise
        return self._connection

    async def _begin(self) -> None:
        await self._connection.execute(self._begin_sql)
        self._in_transaction = True

    async def _close(self) -> None:
        try:
            if self._in_transaction:
                self._in_transaction = False
                await self._connection.execute("ROLLBACK")
        finally:
            await self._pool.release(self._connection)

    async def commit(self) -> None:
        self._finish()
        self._in_transaction = False
        await self._connection.execute("COMMIT")

    async def rollback(self) -> None:
        repo, self._repo = self.repo, None
        self._in_transaction = False
        await self._connection.execute("ROLLBACK")
        await self._begin()
        self._repo = repo


class PoolSession(Generic[R]):
    """A pooled connection with a repository bound and no transaction around it: each
    statement commits by itself. For changes that are one statement (a guarded update with its
    effects in one WITH clause), which a unit of work would only cost BEGIN and COMMIT more."""

    def __init__(self, pool: Any, repository: Callable[[Any], R]) -> None:
        self._pool = pool
        self._repository = repository
        self._connection: Any = None

    async def __aenter__(self) -> R:
        self._connection = await self._pool.acquire()
        return self._repository(self._connection)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        await self._pool.release(connection)

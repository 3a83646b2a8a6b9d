"""The asyncpg pool's units of work: whatever way a unit ends, the next one gets a clean
connection, without a reset query on every release."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from paysuite.runtime.database import PoolUnitOfWork, close_pool, create_pool
from tests.helpers import eventually, service_dsn

LOCK = 7_246_001


class Probe:
    """A repository that only hands back its connection."""

    def __init__(self, connection: Any) -> None:
        self.db = connection


@pytest.fixture
async def pool(suite_db: str) -> AsyncIterator[Any]:
    pool = await create_pool(service_dsn(suite_db, "ledger"), schema="ledger", service="t", size=1)
    try:
        yield pool
    finally:
        await pool.close()


def unit(pool: Any) -> PoolUnitOfWork[Probe]:
    return PoolUnitOfWork(pool, Probe, begin_sql=f"SELECT pg_advisory_xact_lock({LOCK})")


async def assert_clean(pool: Any, db: asyncpg.Connection) -> None:
    """The pool's only connection is outside any transaction and holds no lock (db, another
    connection, can take it)."""
    async with pool.acquire() as pooled:
        assert not pooled.is_in_transaction()
        assert (
            await pooled.fetchval(
                "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() "
                "AND locktype = 'advisory'"
            )
            == 0
        )
    assert await db.fetchval("SELECT pg_try_advisory_xact_lock($1)", LOCK)


async def test_a_unit_that_fails_midway_leaves_a_clean_connection(
    pool: Any, db: asyncpg.Connection
) -> None:
    with pytest.raises(RuntimeError):
        async with unit(pool) as work:
            await work.repo.db.execute("SET LOCAL statement_timeout = '2s'")
            raise RuntimeError("the book said no")
    await assert_clean(pool, db)
    async with pool.acquire() as pooled:
        assert await pooled.fetchval("SHOW statement_timeout") == "0"


async def test_a_unit_cancelled_mid_statement_leaves_a_clean_connection(
    pool: Any, db: asyncpg.Connection
) -> None:
    async def slow() -> None:
        async with unit(pool) as work:
            await work.repo.db.execute("SELECT pg_sleep(5)")

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(slow(), timeout=0.3)
    await assert_clean(pool, db)


async def test_a_committed_unit_is_released_without_a_reset_query(
    pool: Any, db: asyncpg.Connection
) -> None:
    async with unit(pool) as work:
        pid = await work.repo.db.fetchval("SELECT pg_backend_pid()")
        await work.commit()
    last = await db.fetchval("SELECT query FROM pg_stat_activity WHERE pid = $1", pid)
    assert last == "COMMIT"
    await assert_clean(pool, db)


async def test_closing_a_pool_cuts_a_connection_never_given_back(
    suite_db: str, db: asyncpg.Connection
) -> None:
    dsn = service_dsn(suite_db, "ledger")
    pool = await create_pool(dsn, schema="ledger", service="stuck-close", size=1)
    await pool.acquire()  # a stuck call that never gives it back
    async with asyncio.timeout(30):  # asyncpg's own close would wait for it forever
        await close_pool(pool, timeout=0.2)
    assert pool.is_closing()

    async def backends() -> int:
        query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
        count: int = await db.fetchval(query, "paysuite-stuck-close")
        return count

    assert await eventually(backends, 0, 10) == 0

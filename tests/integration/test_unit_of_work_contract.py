"""The one unit-of-work contract, kept alike by the SQLAlchemy and the asyncpg-pool kinds: rolled
back unless committed, finished by commit, going on after rollback (runtime/database.py)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from paysuite.runtime.database import (
    PoolUnitOfWork,
    SqlUnitOfWork,
    UnitOfWork,
    UnitOfWorkFinished,
    create_engine,
    create_pool,
)
from paysuite.runtime.dsn import plain_postgres_url

SCHEMA = "uow_contract"


class SqlRows:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, tag: str, n: int) -> None:
        await self._conn.execute(text("INSERT INTO rows VALUES (:tag, :n)"), {"tag": tag, "n": n})


class PoolRows:
    def __init__(self, connection: Any) -> None:
        self._conn = connection

    async def add(self, tag: str, n: int) -> None:
        await self._conn.execute("INSERT INTO rows VALUES ($1, $2)", tag, n)


Units = Callable[[], UnitOfWork[Any]]


@pytest.fixture(params=["sql", "pool"])
async def units(request: pytest.FixtureRequest, suite_db: str) -> AsyncIterator[Units]:
    dsn = plain_postgres_url(suite_db)
    setup = await asyncpg.connect(dsn)
    await setup.execute(
        f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}; "
        f"CREATE TABLE IF NOT EXISTS {SCHEMA}.rows (tag text NOT NULL, n int NOT NULL)"
    )
    await setup.close()
    if request.param == "sql":
        engine = create_engine(dsn, schema=SCHEMA, service="uow-test", pool_size=1)
        yield lambda: SqlUnitOfWork(engine, SqlRows)
        await engine.dispose()
    else:
        pool = await create_pool(dsn, schema=SCHEMA, service="uow-test", size=1)
        yield lambda: PoolUnitOfWork(pool, PoolRows)
        await pool.close()


@pytest.fixture
def tag() -> str:
    return secrets.token_hex(6)


async def kept(db: asyncpg.Connection, tag: str) -> list[int]:
    rows = await db.fetch(f"SELECT n FROM {SCHEMA}.rows WHERE tag = $1 ORDER BY n", tag)
    return [r["n"] for r in rows]


async def test_commit_keeps_the_work_and_ends_the_unit(
    units: Units, tag: str, db: asyncpg.Connection
) -> None:
    async with units() as work:
        await work.repo.add(tag, 1)
        await work.commit()
        with pytest.raises(UnitOfWorkFinished):
            _ = work.repo
        with pytest.raises(UnitOfWorkFinished):
            await work.commit()
        with pytest.raises(UnitOfWorkFinished):
            await work.rollback()
    assert await kept(db, tag) == [1]


async def test_a_unit_left_uncommitted_keeps_nothing(
    units: Units, tag: str, db: asyncpg.Connection
) -> None:
    async with units() as work:
        await work.repo.add(tag, 1)
    with pytest.raises(RuntimeError, match="no"):
        async with units() as work:
            await work.repo.add(tag, 2)
            raise RuntimeError("no")
    assert await kept(db, tag) == []


async def test_rollback_undoes_and_the_unit_goes_on(
    units: Units, tag: str, db: asyncpg.Connection
) -> None:
    async with units() as work:
        await work.repo.add(tag, 1)
        await work.rollback()
        await work.repo.add(tag, 2)
        await work.commit()
    assert await kept(db, tag) == [2]


async def test_the_repository_exists_only_inside_the_block(units: Units, tag: str) -> None:
    unit = units()
    with pytest.raises(UnitOfWorkFinished):
        _ = unit.repo
    async with unit as work:
        await work.repo.add(tag, 1)
    with pytest.raises(UnitOfWorkFinished):
        _ = unit.repo


async def test_a_unit_is_used_again_after_it_ends(
    units: Units, tag: str, db: asyncpg.Connection
) -> None:
    """The pool's one connection goes back clean: the next unit on it starts a transaction."""
    for n in range(3):
        async with units() as work:
            await work.repo.add(tag, n)
            if n != 1:
                await work.commit()
    assert await kept(db, tag) == [0, 2]

"""Each service's role reaches its own schema only."""

from __future__ import annotations

import asyncpg
import pytest

from paysuite.runtime.dsn import plain_postgres_url
from tests.helpers import SERVICES, service_dsn


async def _connect(suite_db: str, service: str) -> asyncpg.Connection:
    return await asyncpg.connect(plain_postgres_url(service_dsn(suite_db, service)))


async def test_ledger_role_cannot_read_identity(suite_db: str, db: asyncpg.Connection) -> None:
    conn = await _connect(suite_db, "ledger")
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT * FROM identity.users")
        # Its own schema it reads whole (the migrations seed a chart of accounts).
        query = "SELECT count(*) FROM ledger.accounts"
        assert await conn.fetchval(query) == await db.fetchval(query) > 0
    finally:
        await conn.close()


@pytest.mark.parametrize("service", SERVICES)
async def test_a_role_holds_privileges_on_its_own_tables_only(
    suite_db: str, db: asyncpg.Connection, service: str
) -> None:
    """information_schema lists the tables a role holds any privilege on: a grant on any table
    of another schema (or of public) shows up here, however the role would use it."""
    query = (
        "SELECT table_schema, count(*) FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') GROUP BY table_schema"
    )
    own = {service: dict(await db.fetch(query))[service]}
    conn = await _connect(suite_db, service)
    try:
        assert dict(await conn.fetch(query)) == own
    finally:
        await conn.close()


@pytest.mark.parametrize("service", SERVICES)
async def test_no_role_reaches_another_schema(suite_db: str, service: str) -> None:
    conn = await _connect(suite_db, service)
    try:
        for other in SERVICES:
            if other == service:
                continue
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(f"CREATE TABLE {other}.intruder (x int)")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(f"SELECT * FROM {other}.alembic_version")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE public.intruder (x int)")
        version = await conn.fetchval(f"SELECT version_num FROM {service}.alembic_version")
        assert version.startswith(service[0])
    finally:
        await conn.close()

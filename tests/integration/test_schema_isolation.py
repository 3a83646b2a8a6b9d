"""Each service's role reaches its own schema only."""

from __future__ import annotations

import asyncpg
import pytest

from paysuite.runtime.dsn import plain_postgres_url
from tests.helpers import SERVICES, service_dsn


async def _connect(suite_db: str, service: str) -> asyncpg.Connection:
    return await asyncpg.connect(plain_postgres_url(service_dsn(suite_db, service)))


async def test_ledger_role_cannot_read_identity(suite_db: str) -> None:
    conn = await _connect(suite_db, "ledger")
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT * FROM identity.users")
        assert await conn.fetchval("SELECT count(*) FROM ledger.accounts") >= 0
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

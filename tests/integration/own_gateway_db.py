"""A migrated gateway schema on a database of the test's own, where no running gateway's
background work (sequencer, janitor, relay) touches what the test writes."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

import asyncpg
from alembic import command

from devstack.provision import drop_database, provision
from paysuite.runtime.dsn import plain_postgres_url
from paysuite.runtime.migrations import alembic_config
from tests.helpers import SERVICES_DIR, service_dsn


@contextlib.asynccontextmanager
async def own_gateway_database(admin_url: str, prefix: str) -> AsyncIterator[str]:
    """Yields the gateway's URL on a fresh database migrated to head."""
    name = f"paysuite_{prefix}_{secrets.token_hex(4)}"
    url = await provision(admin_url, name, ("gateway",))
    dsn = service_dsn(url, "gateway")
    config = alembic_config(
        "gateway", "gateway", dsn, SERVICES_DIR / "gateway" / "migrations" / "versions"
    )
    try:
        await asyncio.to_thread(command.upgrade, config, "head")
        yield plain_postgres_url(dsn)
    finally:
        await drop_database(admin_url, name)


async def connect_as_gateway(url: str) -> asyncpg.Connection:
    """A connection as the gateway's pool opens them: its schema first on the search path."""
    return await asyncpg.connect(url, server_settings={"search_path": "gateway"})

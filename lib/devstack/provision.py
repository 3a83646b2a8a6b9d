"""Creates the suite's database, one role per service, and one schema each role owns alone."""

from __future__ import annotations

import asyncpg

from paysuite.runtime.dsn import (
    dev_service_password,
    plain_postgres_url,
    service_role,
    with_database,
)

SERVICES = ("gateway", "ledger", "identity", "recon")


async def _connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(plain_postgres_url(url))


async def create_database(admin_url: str, database: str) -> None:
    conn = await _connect(with_database(admin_url, "postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


async def drop_database(admin_url: str, database: str) -> None:
    conn = await _connect(with_database(admin_url, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()


async def provision(admin_url: str, database: str, services: tuple[str, ...] = SERVICES) -> str:
    """Idempotently provisions the database; returns its admin URL."""
    await create_database(admin_url, database)
    url = with_database(admin_url, database)
    conn = await _connect(url)
    try:
        # Roles are cluster-wide: creating them can race with another provisioner.
        await conn.execute("SELECT pg_advisory_lock(hashtext('paysuite-provision'))")
        await conn.execute(f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC')
        await conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        for service in services:
            role = service_role(service)
            password = dev_service_password(service).replace("'", "''")
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            verb = "ALTER" if exists else "CREATE"
            await conn.execute(
                f"{verb} ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                f"PASSWORD '{password}'"
            )
            await conn.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {service} AUTHORIZATION {role}")
            await conn.execute(f"REVOKE ALL ON SCHEMA {service} FROM PUBLIC")
        await conn.execute("SELECT pg_advisory_unlock(hashtext('paysuite-provision'))")
    finally:
        await conn.close()
    return url

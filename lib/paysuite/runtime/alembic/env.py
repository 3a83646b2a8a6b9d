"""Shared Alembic environment: runs one service's versions inside that service's schema."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from paysuite.runtime.database import create_engine

config = context.config
schema: str = config.attributes["schema"]
service: str = config.attributes["service"]
dsn: str = config.attributes["dsn"]


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=None,
        version_table_schema=schema,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    engine = create_engine(dsn, schema=schema, service=f"{service}-migrate", pool_size=1)
    try:
        async with engine.connect() as connection:
            # Serialise concurrent migrators (several replicas starting at once).
            await connection.execute(text("SELECT pg_advisory_lock(hashtext(:s))"), {"s": schema})
            await connection.commit()
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


asyncio.run(_main())

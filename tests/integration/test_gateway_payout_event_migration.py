"""Gateway migration g0019 on events written before it: a payout's event has its payout id
moved from payment_id to its own payout_id column (payment_id left empty), a payment's event is
left as it was, and a downgrade puts the payout id back where it was."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from alembic import command

from devstack.provision import drop_database, provision
from paysuite.runtime.dsn import plain_postgres_url
from paysuite.runtime.migrations import alembic_config
from tests.helpers import SERVICES_DIR, service_dsn

EVENTS = "SELECT type, payment_id, payout_id FROM gateway.payment_events ORDER BY event_id"


@pytest.fixture
async def gateway_dsn(admin_url: str) -> AsyncIterator[str]:
    """The gateway's URL on a database of the test's own."""
    name = f"paysuite_g0019_{secrets.token_hex(4)}"
    url = await provision(admin_url, name, ("gateway",))
    try:
        yield service_dsn(url, "gateway")
    finally:
        await drop_database(admin_url, name)


async def _migrate(dsn: str, how: str, revision: str) -> None:
    config = alembic_config(
        "gateway", "gateway", dsn, SERVICES_DIR / "gateway" / "migrations" / "versions"
    )
    await asyncio.to_thread(getattr(command, how), config, revision)


async def test_payout_events_move_to_their_own_column_and_back(gateway_dsn: str) -> None:
    await _migrate(gateway_dsn, "upgrade", "g0018")
    conn = await asyncpg.connect(plain_postgres_url(gateway_dsn))
    try:
        await conn.executemany(
            "INSERT INTO gateway.payment_events (merchant_id, type, payment_id, refund_id, "
            "created_at) VALUES ('M1', $1, $2, '', $3)",
            [
                ("payment.succeeded", "pay_1", datetime.now(UTC)),
                ("payout.created", "po_1", datetime.now(UTC)),
                ("payout.returned", "po_1", datetime.now(UTC)),
            ],
        )
        await _migrate(gateway_dsn, "upgrade", "head")
        upgraded = [tuple(r) for r in await conn.fetch(EVENTS)]
        await _migrate(gateway_dsn, "downgrade", "g0018")
        downgraded = [tuple(r) for r in await conn.fetch(EVENTS.replace(", payout_id", ""))]
    finally:
        await conn.close()

    assert upgraded == [
        ("payment.succeeded", "pay_1", ""),
        ("payout.created", "", "po_1"),
        ("payout.returned", "", "po_1"),
    ]
    assert downgraded == [
        ("payment.succeeded", "pay_1"),
        ("payout.created", "po_1"),
        ("payout.returned", "po_1"),
    ]

"""The event sequencer's run (number_payment_events, one statement) on a database of its own:
events are numbered in the order they were written once committed, with no gap and no number
twice, and a run that waited for another's lock numbers after what that run committed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from gateway.adapters.store.events import CHANNEL, EventStore
from tests.integration.own_gateway_db import connect_as_gateway, own_gateway_database

ADD = (
    "INSERT INTO payment_events (merchant_id, type, payment_id, refund_id, created_at) "
    "VALUES ('M1', 'payment.succeeded', $1, '', $2) RETURNING event_id"
)
NUMBERS = "SELECT payment_id, sequence FROM payment_events ORDER BY payment_id"


@pytest.fixture
async def gateway_url(admin_url: str) -> AsyncIterator[str]:
    """No sequencer of a running gateway numbers what the test writes."""
    async with own_gateway_database(admin_url, "seq") as url:
        yield url


async def _add(conn: asyncpg.Connection, payment_id: str) -> None:
    await conn.fetchval(ADD, payment_id, datetime.now(UTC))


async def test_a_run_numbers_committed_events_in_written_order_and_rings(
    gateway_url: str,
) -> None:
    conn, writer, listener = [await connect_as_gateway(gateway_url) for _ in range(3)]
    rung = asyncio.Event()
    await listener.add_listener(CHANNEL, lambda *_: rung.set())
    try:
        events = EventStore(conn)
        assert await events.number_pending(100) == 0
        await _add(conn, "pay_a")
        # Written second, committed last: numbered by the run after its commit.
        late = writer.transaction()
        await late.start()
        await _add(writer, "pay_b")
        await _add(conn, "pay_c")
        assert await events.number_pending(100) == 2
        await asyncio.wait_for(rung.wait(), 5)
        await late.commit()
        assert await events.number_pending(1) == 1
        assert await events.number_pending(100) == 0
        numbers = [tuple(r) for r in await conn.fetch(NUMBERS)]
    finally:
        for c in (conn, writer, listener):
            await c.close()
    assert numbers == [("pay_a", 1), ("pay_b", 3), ("pay_c", 2)]


async def test_a_run_that_waited_for_the_lock_numbers_after_what_the_holder_committed(
    gateway_url: str,
) -> None:
    holder, other, writer = [await connect_as_gateway(gateway_url) for _ in range(3)]
    try:
        # pay_1 is written first but committed after a run numbered pay_2: a run with a
        # snapshot from before its wait would see pay_2 unnumbered and max(sequence) 0, and
        # number pay_1 and pay_2 as 1 and 2 (a unique violation, or pay_2 renumbered).
        first = writer.transaction()
        await first.start()
        await _add(writer, "pay_1")
        await _add(holder, "pay_2")
        held = holder.transaction()
        await held.start()
        assert await EventStore(holder).number_pending(100) == 1
        waiting = asyncio.create_task(EventStore(other).number_pending(100))
        await asyncio.sleep(0.3)
        assert not waiting.done(), "the second run did not wait for the sequencer's lock"
        await first.commit()
        await asyncio.sleep(0.3)
        await held.commit()
        assert await asyncio.wait_for(waiting, 5) == 1
        numbers = [tuple(r) for r in await holder.fetch(NUMBERS)]
    finally:
        for c in (holder, other, writer):
            await c.close()
    assert numbers == [("pay_1", 2), ("pay_2", 1)]

"""The payment path's writes of several payments in one statement (record_many, apply_many) on
a database of the test's own: each item gets the fate its own statement would have given it
(created or why not; applied, stale, the business order paid, the notification seen), and
only applied changes write their attempt, outbox messages, event and notification."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any, cast

import asyncpg
import pytest

from gateway.adapters.store.coalesced_writes import CoalescedPaymentWrites
from gateway.adapters.store.payment_batches import (
    AnswerWrite,
    NewPayment,
    apply_many,
    record_many,
)
from gateway.adapters.store.payments import Applied, NotificationRecord
from gateway.domain.answers import Change, Message, MessageKind
from gateway.domain.attempts import ChannelAttempt
from gateway.domain.model import Payment, PaymentState
from paysuite.money import Money
from paysuite.runtime.database import create_pool
from tests.gateway_payments import a_payment
from tests.integration.own_gateway_db import connect_as_gateway, own_gateway_database

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
DAY = date(2026, 12, 6)
MERCHANT = "M_COALESCE"


@pytest.fixture
async def url(admin_url: str) -> AsyncIterator[str]:
    async with own_gateway_database(admin_url, "writes") as own:
        yield own


@pytest.fixture
async def conn(url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await connect_as_gateway(url)
    try:
        await connection.execute(
            "INSERT INTO merchants (merchant_id, name, state, created_at, fee_bps, "
            "settlement_account_id, updated_at) VALUES ($1, 'shop', 'active', $2, 60, "
            "'acct', $2), ('M_CLOSED', 'gone', 'closed', $2, 60, 'acct', $2)",
            MERCHANT,
            NOW,
        )
        yield connection
    finally:
        await connection.close()


def _payment(n: int, *, order: str = "", request: str = "", merchant: str = MERCHANT) -> Payment:
    return a_payment(
        NOW,
        payment_id=f"pay_{n}",
        request_id=request or f"req_{n}",
        request_hash=f"hash_{n}",
        merchant_id=merchant,
        merchant_order_no=order or f"order_{n}",
        amount=Money("CNY", 100 * n),
        payer_user_id="usr_1",
        trace_id="",
    )


def _new(payment: Payment) -> NewPayment:
    first = ChannelAttempt(payment.payment_id, 1, payment.channel, "default", "first", NOW, NOW)
    return NewPayment(
        payment, DAY, first, NOW, traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01"
    )


def _succeeded(payment: Payment) -> Change:
    paid = replace(payment, state=PaymentState.SUCCEEDED, channel_transaction_id="t1")
    message = Message(
        MessageKind.LIMIT_COMMIT, f"limit:{payment.payment_id}", {"payment_id": payment.payment_id}
    )
    return Change(paid, (message,), "payment.succeeded", ("succeeded", ""))


async def _count(conn: asyncpg.Connection, table: str, payment_id: str) -> int:
    return int(
        await conn.fetchval(f"SELECT count(*) FROM {table} WHERE payment_id = $1", payment_id)
    )


async def test_records_get_each_their_own_fate(conn: asyncpg.Connection) -> None:
    await record_many(conn, [_new(_payment(9, order="paid-order"))])
    await conn.execute("UPDATE payments SET state = 'succeeded' WHERE payment_id = 'pay_9'")
    recorded = await record_many(
        conn,
        [
            _new(_payment(1)),
            _new(_payment(2, merchant="M_CLOSED")),
            _new(_payment(3, order="paid-order")),
            _new(_payment(4, request="req_1")),  # the request id of the first, in the batch
        ],
    )
    assert [(r.created, r.merchant_active, r.order_paid, r.fee_bps) for r in recorded] == [
        (True, True, False, 60),
        (False, False, False, 0),
        (False, True, True, 60),
        (False, True, False, 60),
    ]
    stored = await conn.fetch(
        "SELECT payment_id, merchant_fee_bps, state, version FROM payments ORDER BY payment_id"
    )
    assert [tuple(r) for r in stored] == [
        ("pay_1", 60, "processing", 0),
        ("pay_9", 60, "succeeded", 0),
    ]
    assert await _count(conn, "channel_attempts", "pay_1") == 1
    assert await _count(conn, "payment_events", "pay_1") == 0


async def test_answers_are_applied_or_refused_each_as_alone(conn: asyncpg.Connection) -> None:
    payments = [_payment(n) for n in (1, 2, 3)]
    await record_many(conn, [_new(p) for p in payments])
    note = NotificationRecord("banksim", "n-3", "succeeded")
    results = await apply_many(
        conn,
        [
            AnswerWrite(_succeeded(payments[0]), 0, "tp"),
            AnswerWrite(_succeeded(payments[1]), 5, "tp"),  # decided on another version
            AnswerWrite(_succeeded(payments[2]), 0, "tp", note),
        ],
    )
    assert results == [Applied.APPLIED, Applied.STALE, Applied.APPLIED]
    rows = await conn.fetch("SELECT payment_id, state, version FROM payments ORDER BY payment_id")
    assert [tuple(r) for r in rows] == [
        ("pay_1", "succeeded", 1),
        ("pay_2", "processing", 0),
        ("pay_3", "succeeded", 1),
    ]
    for payment_id, written in (("pay_1", 1), ("pay_2", 0), ("pay_3", 1)):
        assert await _count(conn, "payment_events", payment_id) == written
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE idempotency_key = $1", f"limit:{payment_id}"
            )
            == written
        )
        assert await conn.fetchval(
            "SELECT outcome FROM channel_attempts WHERE payment_id = $1", payment_id
        ) == ("succeeded" if written else "")
    assert await _count(conn, "channel_notifications", "pay_3") == 1

    # The same notification again, beside a change that breaks nothing: that one applies.
    again = await apply_many(
        conn,
        [
            AnswerWrite(Change(replace(payments[2], state=PaymentState.SUCCEEDED)), 1, "tp", note),
            AnswerWrite(_succeeded(payments[1]), 0, "tp"),
        ],
    )
    assert again == [Applied.NOTIFICATION_SEEN, Applied.APPLIED]


async def test_a_second_success_of_a_business_order_and_a_payment_twice(
    conn: asyncpg.Connection,
) -> None:
    first, second = _payment(1, order="one-order"), _payment(2, order="one-order")
    third = _payment(3)
    await record_many(conn, [_new(p) for p in (first, second, third)])
    results = await apply_many(
        conn,
        [AnswerWrite(_succeeded(first), 0, "tp"), AnswerWrite(_succeeded(second), 0, "tp")],
    )
    assert results == [Applied.APPLIED, Applied.ORDER_PAID]
    assert await conn.fetchval("SELECT state FROM payments WHERE payment_id = 'pay_2'") == (
        "processing"
    )
    # One payment twice in a batch: the second was decided on the version the first moves on.
    twice = await apply_many(
        conn,
        [AnswerWrite(_succeeded(third), 0, "tp"), AnswerWrite(_succeeded(third), 0, "tp")],
    )
    assert twice == [Applied.APPLIED, Applied.STALE]
    assert await _count(conn, "payment_events", "pay_3") == 1


class _CountingStatements:
    """A real connection that counts the statements the batch sends through it."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self.sent = 0

    async def fetch(self, *args: Any) -> list[asyncpg.Record]:
        self.sent += 1
        rows: list[asyncpg.Record] = await self._conn.fetch(*args)
        return rows


async def test_a_change_stale_by_an_earlier_one_of_its_batch_costs_no_statement(
    conn: asyncpg.Connection,
) -> None:
    payment = _payment(1)
    await record_many(conn, [_new(payment)])
    counting = _CountingStatements(conn)
    moved = replace(_succeeded(payment).payment, version=1)
    results = await apply_many(
        cast(asyncpg.Connection, counting),
        [
            AnswerWrite(_succeeded(payment), 0, "tp"),
            AnswerWrite(_succeeded(payment), 0, "tp"),  # decided on the version the first moves
            AnswerWrite(Change(replace(moved, channel_transaction_id="t2")), 1, "tp"),
        ],
    )
    assert results == [Applied.APPLIED, Applied.STALE, Applied.APPLIED]
    assert counting.sent == 2
    assert await conn.fetchval("SELECT version FROM payments WHERE payment_id = 'pay_1'") == 2


@pytest.fixture
async def pool(url: str, conn: asyncpg.Connection) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the test's database, with its merchants (conn) in place."""
    created = await asyncpg.create_pool(
        url, min_size=1, max_size=4, server_settings={"search_path": "gateway"}
    )
    try:
        yield created
    finally:
        await created.close()


async def test_writes_arriving_while_one_is_in_flight_share_the_next_statement(
    pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    writes = CoalescedPaymentWrites(pool)
    payments = [_payment(n) for n in range(1, 6)]
    first = asyncio.create_task(writes.record(_new(payments[0])))
    for _ in range(3):  # its statement leaves on the loop's next turn, alone
        await asyncio.sleep(0)
    recorded = [
        await first,
        *await asyncio.gather(*(writes.record(_new(p)) for p in payments[1:])),
    ]
    # Recorded: the first alone, the four that came while it was in flight in one transaction.
    assert await conn.fetchval("SELECT count(DISTINCT xmin::text) FROM payments") == 2
    # Submitted in the same turn: one statement, as callers woken by one answer are.
    applied = await asyncio.gather(
        *(writes.apply(AnswerWrite(_succeeded(p), 0, "tp")) for p in payments)
    )
    assert all(r.created for r in recorded)
    assert applied == [Applied.APPLIED] * 5
    # Each as this process wrote it, at the version it moved on to.
    latest = writes.latest("pay_3")
    assert latest is not None
    assert (latest.state, latest.version) == (PaymentState.SUCCEEDED, 1)
    # Answered: the five in one transaction.
    assert await conn.fetchval("SELECT count(DISTINCT xmin::text) FROM payments") == 1
    assert await conn.fetchval("SELECT count(DISTINCT xmin::text) FROM payment_events") == 1


async def test_only_the_newest_writes_are_kept_and_only_those_applied(pool: asyncpg.Pool) -> None:
    writes = CoalescedPaymentWrites(pool, latest_kept=2)
    payments = [_payment(n) for n in range(1, 4)]
    for p in payments:
        await writes.record(_new(p))
    for p in payments:
        assert await writes.apply(AnswerWrite(_succeeded(p), 0, "tp")) is Applied.APPLIED
    stale = await writes.apply(
        AnswerWrite(Change(replace(payments[2], state=PaymentState.FAILED)), 0, "tp")
    )
    assert stale is Applied.STALE
    assert writes.latest("pay_1") is None  # the oldest, pushed out
    assert [writes.latest(f"pay_{n}") is not None for n in (2, 3)] == [True, True]
    newest = writes.latest("pay_3")
    assert newest is not None and newest.state is PaymentState.SUCCEEDED


class _CountingPool:
    """A real pool that counts the connections its statements take."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.taken = 0

    def acquire(self) -> Any:
        self.taken += 1
        return self._pool.acquire()


async def test_a_write_from_the_version_of_one_in_line_waits_and_is_stale_without_a_statement(
    pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    counting = _CountingPool(pool)
    writes = CoalescedPaymentWrites(counting)
    payment = _payment(1)
    await writes.record(_new(payment))
    before = counting.taken
    note = NotificationRecord("banksim", "n-1", "succeeded")
    charge_answer = AnswerWrite(Change(replace(payment, channel_transaction_id="t1")), 0, "tp")
    notified = AnswerWrite(_succeeded(payment), 0, "tp", note)
    fates = await asyncio.gather(writes.apply(charge_answer), writes.apply(notified))
    assert list(fates) == [Applied.APPLIED, Applied.STALE]
    assert counting.taken - before == 1
    # Decided again on what the charge's answer left, the notification applies.
    moved = writes.latest(payment.payment_id)
    assert moved is not None and moved.version == 1
    assert await writes.apply(AnswerWrite(_succeeded(moved), 1, "tp", note)) is Applied.APPLIED
    assert await conn.fetchval("SELECT state FROM payments WHERE payment_id = 'pay_1'") == (
        "succeeded"
    )


RECORD_MANY = "%WITH ORDINALITY%INSERT INTO payments%"
APPLY_MANY = "%UPDATE payments p SET%"


async def _prepared(conn: asyncpg.Connection, statement_like: str) -> asyncpg.Record:
    """A connection's prepared statement: its name, parameter count and plans made so far."""
    return await conn.fetchrow(
        "SELECT name, cardinality(parameter_types) AS parameters, generic_plans, custom_plans"
        " FROM pg_prepared_statements WHERE statement LIKE $1"
        " AND statement NOT LIKE '%pg_prepared_statements%'",  # this query's own
        statement_like,
    )


async def _generic_plan(conn: asyncpg.Connection, statement_like: str) -> str:
    """The plan a connection planning once holds for one of its prepared statements."""
    statement = await _prepared(conn, statement_like)
    nulls = ", ".join(["NULL"] * statement["parameters"])
    explained = await conn.fetch(f'EXPLAIN EXECUTE "{statement["name"]}"({nulls})')
    return "\n".join(row[0] for row in explained)


async def test_the_writes_pool_plans_the_batch_statement_once(
    url: str, conn: asyncpg.Connection
) -> None:
    # Batches of every size from 1 to 8, as load makes them: on a default connection Postgres
    # plans the statement again whenever a custom plan looks cheaper than the generic one.
    batches = [[_new(_payment(100 * size + n)) for n in range(size)] for size in range(1, 9)]
    for batch in batches[:4]:
        await record_many(conn, batch)
    assert (await _prepared(conn, RECORD_MANY))["custom_plans"] > 0
    pool = await create_pool(url, schema="gateway", service="gateway", size=1, generic_plans=True)
    try:
        async with pool.acquire() as writes:
            for batch in batches[4:]:
                assert all(r.created for r in await record_many(writes, batch))
            plans = await _prepared(writes, RECORD_MANY)
    finally:
        await pool.close()
    assert (plans["generic_plans"], plans["custom_plans"]) == (4, 0)


async def test_the_batch_record_probes_the_paid_orders_index_however_small_the_table(
    url: str, conn: asyncpg.Connection
) -> None:
    # A few hundred succeeded payments, analyzed: the size at which a plan that hashed every
    # succeeded payment looked cheaper than probing the index for each payment of the batch.
    await record_many(conn, [_new(_payment(n)) for n in range(1, 301)])
    await conn.execute("UPDATE payments SET state = 'succeeded'")
    await conn.execute("ANALYZE payments")
    pool = await create_pool(url, schema="gateway", service="gateway", size=1, generic_plans=True)
    try:
        async with pool.acquire() as writes:
            await record_many(writes, [_new(_payment(1000))])
            plan = await _generic_plan(writes, RECORD_MANY)
    finally:
        await pool.close()
    assert "Seq Scan on payments" not in plan
    assert "one_success_per_business_order on payments" in plan


async def test_the_batch_answer_probes_the_notifications_index_for_each_answer(
    url: str, conn: asyncpg.Connection
) -> None:
    # A thousand notifications, analyzed: a plan made then once hashed them all at each call.
    await record_many(conn, [_new(_payment(n)) for n in range(1, 1001)])
    await conn.execute(
        "INSERT INTO channel_notifications (channel, notification_id, payment_id, outcome,"
        " received_at) SELECT 'alipaysim', 'n-' || payment_id, payment_id, 'succeeded', $1"
        " FROM payments",
        NOW,
    )
    await conn.execute("ANALYZE channel_notifications")
    pool = await create_pool(url, schema="gateway", service="gateway", size=1, generic_plans=True)
    try:
        async with pool.acquire() as writes:
            payment = _payment(5000)
            await record_many(writes, [_new(payment)])
            note = NotificationRecord("alipaysim", "n-new", "succeeded")
            await apply_many(writes, [AnswerWrite(_succeeded(payment), 0, "tp", note)])
            plan = await _generic_plan(writes, APPLY_MANY)
    finally:
        await pool.close()
    assert "Seq Scan on channel_notifications" not in plan
    assert "channel_notifications_pkey on channel_notifications" in plan

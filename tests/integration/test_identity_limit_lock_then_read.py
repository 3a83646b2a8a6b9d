"""A payer's use is read only once their lock is held: an authorization that waited for the
lock sees what its holder reserved and committed meanwhile, and never passes a limit on it."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from identity.adapters.limit_store import LimitStore
from identity.domain.limits import LimitPolicy, Reservation, use_reads
from paysuite.identity.v1 import identity_service_pb2 as pb
from paysuite.identity.v1 import identity_service_pb2_grpc as pb_grpc
from paysuite.runtime.dsn import plain_postgres_url
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect
from tests.integration.kyc_support import fresh_phone

DAILY_ONE_FACTOR = 100_000  # fen: a payment confirmed with one factor, per day


async def _identity_connection(suite_db: str) -> asyncpg.Connection:
    return await asyncpg.connect(
        plain_postgres_url(suite_db), server_settings={"search_path": "identity"}
    )


@pytest.fixture
async def holder(suite_db: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of identity's schema that takes a payer's lock as the service does."""
    conn = await _identity_connection(suite_db)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def second_holder(suite_db: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await _identity_connection(suite_db)
    try:
        yield conn
    finally:
        await conn.close()


async def _waiting_for(db: asyncpg.Connection, holder: asyncpg.Connection) -> None:
    """Returns once some transaction waits for an advisory lock the holder holds."""
    async with asyncio.timeout(10):
        while not await db.fetchval(
            "SELECT count(*) FROM pg_locks w JOIN pg_locks h"
            " ON (h.database, h.classid, h.objid, h.objsubid)"
            " = (w.database, w.classid, w.objid, w.objsubid)"
            " WHERE w.locktype = 'advisory' AND NOT w.granted"
            " AND h.locktype = 'advisory' AND h.granted AND h.pid = $1",
            holder.get_server_pid(),
        ):
            await asyncio.sleep(0.01)


async def _register(identity: pb_grpc.IdentityServiceAsyncStub) -> str:
    registered = await identity.RegisterUser(
        pb.RegisterUserRequest(request_id=f"reg-{secrets.token_hex(6)}", phone=fresh_phone())
    )
    return registered.user.user_id


def _ask(user_id: str, amount: int, payment_id: str = "") -> pb.AuthorizePaymentRequest:
    return pb.AuthorizePaymentRequest(
        payment_id=payment_id or f"pay_{secrets.token_hex(8)}",
        user_id=user_id,
        amount=Money(currency_code="CNY", minor_units=amount),
        funding=pb.FUNDING_CARD,
    )


async def test_an_authorization_waiting_for_the_lock_sees_what_its_holder_committed(
    identity_addr: str, db: asyncpg.Connection, holder: asyncpg.Connection
) -> None:
    identity = pb_grpc.IdentityServiceStub(connect(identity_addr))
    user = await _register(identity)
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    held = Reservation(
        f"pay_{secrets.token_hex(8)}", user, None, 80_000, "CNY", False, False, now.date()
    )
    store = LimitStore(holder)
    async with holder.transaction():
        payers, _, _ = await store.lock_and_read([user], [], use_reads(LimitPolicy(), now.date()))
        assert user in payers
        # Asked while the payer is locked: its statement starts, then waits for the lock.
        asked = asyncio.ensure_future(
            identity.BatchAuthorizePayments(
                pb.BatchAuthorizePaymentsRequest(
                    requests=[
                        _ask(user, 30_000),
                        # The holder's payment asked again: found reserved, not reserved twice.
                        _ask(user, held.amount, payment_id=held.payment_id),
                    ]
                )
            )
        )
        await _waiting_for(db, holder)
        await store.reserve([held], now)
    answer = await asked
    # 80,000 committed by the holder + 30,000 would pass the day's 100,000.
    assert [(r.authorized, r.exceeded_limit) for r in answer.responses] == [
        (False, "DAILY_AUTH"),
        (True, ""),
    ]
    used = await db.fetchval(
        "SELECT sum(amount) FROM identity.limit_totals WHERE owner = $1", f"user:{user}"
    )
    assert used == held.amount <= DAILY_ONE_FACTOR


async def test_a_payer_real_named_while_waiting_is_decided_under_the_persons_lock(
    identity_addr: str,
    db: asyncpg.Connection,
    holder: asyncpg.Connection,
    second_holder: asyncpg.Connection,
) -> None:
    """A payer locked as a lone account becomes an account of a person while its payment waits
    for that lock: the payment is decided only once the person is locked too, on the use the
    person's other account committed meanwhile."""
    identity = pb_grpc.IdentityServiceStub(connect(identity_addr))
    payer, other = await _register(identity), await _register(identity)
    person = f"cus_{secrets.token_hex(8)}"
    await db.execute(
        "INSERT INTO identity.customers VALUES ($1, $2, 'k1', '\\x00', '\\x00', '*', '*', false,"
        " now())",
        person,
        secrets.token_hex(16),
    )
    # The other account already the person's (as real-naming links it; with one account per
    # person off, a person may have several).
    await db.execute("UPDATE identity.users SET customer_id = $1 WHERE user_id = $2", person, other)
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    reads = use_reads(LimitPolicy(), now.date())
    held = Reservation(
        f"pay_{secrets.token_hex(8)}", other, person, 80_000, "CNY", False, False, now.date()
    )
    account, persons = LimitStore(holder), LimitStore(second_holder)
    account_held, person_held = holder.transaction(), second_holder.transaction()
    await account_held.start()
    await account.lock_and_read([payer], [], reads)  # the payer's lone account
    await person_held.start()
    await persons.lock_and_read([other], [], reads)  # the person, by its other account
    asked = asyncio.ensure_future(
        identity.BatchAuthorizePayments(
            pb.BatchAuthorizePaymentsRequest(requests=[_ask(payer, 30_000)])
        )
    )
    await _waiting_for(db, holder)
    await db.execute("UPDATE identity.users SET customer_id = $1 WHERE user_id = $2", person, payer)
    await account_held.commit()  # the account's lock given up, the person's still held
    await _waiting_for(db, second_holder)
    assert not asked.done()
    await persons.reserve([held], now)
    await person_held.commit()
    answer = await asked
    # The person's 80,000 + 30,000 would pass the person's 100,000 a day.
    assert [(r.authorized, r.exceeded_limit) for r in answer.responses] == [(False, "DAILY_AUTH")]
    used = await db.fetchval(
        "SELECT amount FROM identity.limit_totals WHERE owner = $1 AND day = $2",
        f"person:{person}",
        now.date(),
    )
    assert used == held.amount


async def test_the_lock_and_read_looks_payers_up_by_index_whatever_the_tables_size(
    identity_addr: str, holder: asyncpg.Connection
) -> None:
    # Its plan is made once per session: one made on small tables scanned them whole on every
    # call after, however they grew.
    identity = pb_grpc.IdentityServiceStub(connect(identity_addr))
    user = await _register(identity)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    async with holder.transaction():
        payers, _, _ = await LimitStore(holder).lock_and_read(
            [user], [f"pay_{secrets.token_hex(8)}"], use_reads(LimitPolicy(), today)
        )
        assert user in payers
        scanned = await holder.fetch(
            "SELECT relname, seq_scan, idx_scan FROM pg_stat_xact_user_tables"
            " WHERE schemaname = 'identity'"
            " AND relname IN ('users', 'cards', 'limit_usages', 'limit_totals')"
        )
    assert {r["relname"]: r["seq_scan"] for r in scanned} == dict.fromkeys(
        ("users", "cards", "limit_usages", "limit_totals"), 0
    )
    assert all(r["idx_scan"] > 0 for r in scanned if r["relname"] == "users")

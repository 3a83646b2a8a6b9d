"""A batch's reservations checked against what was read without locks: written only if, once
the payers' locks are held, each payer is under the lock it was read with and each owner's use
is what was read; otherwise nothing is written and the batch is decided again under the locks
(test_identity_limit_lock_then_read shows the service doing so)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from identity.adapters.limit_store import LimitStore
from identity.domain.limits import LimitPolicy, Reservation, use_reads
from identity.service_layer.deps import IdentityDeps
from identity.service_layer.limits import Authorize, Reserve, authorize_many
from paysuite.identity.v1 import identity_service_pb2 as pb
from paysuite.identity.v1 import identity_service_pb2_grpc as pb_grpc
from paysuite.money import Money
from paysuite.runtime.database import PoolSession, PoolUnitOfWork, close_pool, create_pool
from paysuite.runtime.dsn import plain_postgres_url
from tests.helpers import connect
from tests.integration.kyc_support import fresh_phone

NOW = datetime.now(ZoneInfo("Asia/Shanghai"))
READS = use_reads(LimitPolicy(), NOW.date())


@pytest.fixture
async def store(suite_db: str) -> AsyncIterator[LimitStore]:
    conn = await asyncpg.connect(
        plain_postgres_url(suite_db), server_settings={"search_path": "identity"}
    )
    try:
        yield LimitStore(conn)
    finally:
        await conn.close()


async def _registered(identity_addr: str) -> str:
    identity = pb_grpc.IdentityServiceStub(connect(identity_addr))
    registered = await identity.RegisterUser(
        pb.RegisterUserRequest(request_id=f"reg-{secrets.token_hex(6)}", phone=fresh_phone())
    )
    return registered.user.user_id


@pytest.fixture
async def payer(identity_addr: str) -> str:
    return await _registered(identity_addr)


def _reservation(user_id: str, amount: int, customer_id: str | None = None) -> Reservation:
    payment_id = f"pay_{secrets.token_hex(8)}"
    return Reservation(payment_id, user_id, customer_id, amount, "CNY", False, False, NOW.date())


async def _used(db: asyncpg.Connection, owner: str) -> int:
    return int(
        await db.fetchval(
            "SELECT coalesce(sum(amount), 0) FROM identity.limit_totals WHERE owner = $1", owner
        )
    )


async def test_nothing_moved_so_the_reservations_and_their_use_are_written(
    store: LimitStore, db: asyncpg.Connection, payer: str
) -> None:
    seen = await store.read([payer], [], READS)
    assert payer in seen.payers and seen.lock_keys == {payer: f"user:{payer}"}
    assert f"user:{payer}" in {owner for owner, _ in seen.owners}
    first, second = _reservation(payer, 10_000), _reservation(payer, 5_000)
    assert await store.reserve_if_unchanged(seen, [first, second], NOW)
    assert await _used(db, f"user:{payer}") == 15_000
    assert (
        await db.fetchval(
            "SELECT count(*) FROM identity.limit_usages WHERE payment_id = ANY($1)",
            [first.payment_id, second.payment_id],
        )
        == 2
    )


async def test_use_reserved_since_the_read_writes_nothing(
    store: LimitStore, db: asyncpg.Connection, payer: str
) -> None:
    seen = await store.read([payer], [], READS)
    other = LimitStore(db)
    async with db.transaction():
        await db.execute("SET LOCAL search_path = identity")
        await other.reserve([_reservation(payer, 80_000)], NOW)
    late = _reservation(payer, 30_000)
    assert not await store.reserve_if_unchanged(seen, [late], NOW)
    assert await _used(db, f"user:{payer}") == 80_000
    assert not await db.fetchval(
        "SELECT count(*) FROM identity.limit_usages WHERE payment_id = $1", late.payment_id
    )
    # Read again, it goes through.
    again = await store.read([payer], [], READS)
    assert await store.reserve_if_unchanged(again, [late], NOW)
    assert await _used(db, f"user:{payer}") == 110_000


async def test_a_payer_real_named_since_the_read_writes_nothing(
    store: LimitStore, db: asyncpg.Connection, payer: str
) -> None:
    seen = await store.read([payer], [], READS)
    person = f"cus_{secrets.token_hex(8)}"
    await db.execute(
        "INSERT INTO identity.customers VALUES ($1, $2, 'k1', '\\x00', '\\x00', '*', '*', false,"
        " now())",
        person,
        secrets.token_hex(16),
    )
    await db.execute("UPDATE identity.users SET customer_id = $1 WHERE user_id = $2", person, payer)
    assert not await store.reserve_if_unchanged(seen, [_reservation(payer, 1_000)], NOW)
    assert await _used(db, f"user:{payer}") == 0
    assert await _used(db, f"person:{person}") == 0


async def test_a_payment_reserved_since_the_read_writes_nothing(
    store: LimitStore, db: asyncpg.Connection, payer: str, identity_addr: str
) -> None:
    seen = await store.read([payer], [], READS)
    taken = _reservation(payer, 2_000)
    # The same payment id reserved for someone else: the payer's use is unchanged, only the
    # payment collides.
    someone = await _registered(identity_addr)
    async with db.transaction():
        await db.execute("SET LOCAL search_path = identity")
        collides = replace(_reservation(someone, 1), payment_id=taken.payment_id)
        await LimitStore(db).reserve([collides], NOW)
    alongside = _reservation(payer, 3_000)
    assert not await store.reserve_if_unchanged(seen, [alongside, taken], NOW)
    assert await _used(db, f"user:{payer}") == 0


class _Counted:
    """Unit-of-work factory of the service over a real pool, counting the units opened."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self.opened = 0

    def __call__(self) -> PoolUnitOfWork[LimitStore]:
        self.opened += 1
        return PoolUnitOfWork(self._pool, LimitStore)


@pytest.fixture
async def pool(suite_db: str) -> AsyncIterator[Any]:
    created = await create_pool(suite_db, schema="identity", service="identity", size=2)
    try:
        yield created
    finally:
        await close_pool(created)


def _deps(pool: Any, locked: _Counted) -> IdentityDeps:
    # Only the payment path's parts: authorizing reads no PII and verifies no card.
    unused: Any = None
    return IdentityDeps(
        uow=unused,
        limit_units=locked,
        limit_reads=lambda: PoolSession(pool, LimitStore),
        vault=unused,
        verifier=unused,
        clock=lambda: NOW,
    )


def _ask(user_id: str, fen: int) -> Authorize:
    return Authorize(Reserve(f"pay_{secrets.token_hex(8)}", user_id, Money("CNY", fen), False))


async def test_a_batch_is_reserved_in_two_statements_unless_its_use_moved(
    pool: Any, db: asyncpg.Connection, payer: str
) -> None:
    locked = _Counted(pool)
    deps = _deps(pool, locked)
    # The payer's use read, decided on with the batch's own reservations, is still the use.
    answers = await authorize_many(deps, [_ask(payer, 30_000), _ask(payer, 30_000)])
    assert [a.authorized for a in answers] == [True, True]
    assert locked.opened == 0
    assert await _used(db, f"user:{payer}") == 60_000
    # A third on top of the day's 60,000 passes the 100,000 a day: refused, and nothing moved.
    assert [a.authorized for a in await authorize_many(deps, [_ask(payer, 50_000)])] == [False]
    assert locked.opened == 0

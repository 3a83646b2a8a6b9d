"""Mutating RPCs are idempotent per caller: a repeated request id gets the first answer, a reuse
with other content REQUEST_ID_REUSED, and one caller's ids never collide with another's."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import grpc
import pytest

from devstack.pki import DevCA
from gateway.settings import GatewaySettings
from paysuite.errors import RequestIdReused
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.identity.v1 import identity_service_pb2 as pb
from paysuite.identity.v1 import identity_service_pb2_grpc as pb_grpc
from paysuite.runtime.database import create_pool
from paysuite.runtime.grpc_errors import error_reason, field_violations
from paysuite.runtime.identities import operator
from paysuite.runtime.request_ids import RequestIdStore, RequestInProgress
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect


@asynccontextmanager
async def _as_operator(
    address: str, test_ca: DevCA, name: str
) -> AsyncIterator[pb_grpc.IdentityServiceAsyncStub]:
    test_ca.ensure([operator(name)])
    async with test_ca.channel(address, operator(name)) as channel:
        yield pb_grpc.IdentityServiceStub(channel)


@pytest.fixture
async def alice(
    identity_addr: str, test_ca: DevCA
) -> AsyncIterator[pb_grpc.IdentityServiceAsyncStub]:
    async with _as_operator(identity_addr, test_ca, "alice") as stub:
        yield stub


@pytest.fixture
async def bob(
    identity_addr: str, test_ca: DevCA
) -> AsyncIterator[pb_grpc.IdentityServiceAsyncStub]:
    async with _as_operator(identity_addr, test_ca, "bob") as stub:
        yield stub


async def _refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def _events(db: asyncpg.Connection, user_id: str) -> int:
    return int(
        await db.fetchval("SELECT count(*) FROM identity.user_events WHERE user_id = $1", user_id)
    )


async def test_a_repeated_freeze_gets_the_first_answer_and_a_reuse_is_refused(
    alice: pb_grpc.IdentityServiceAsyncStub, payer: str, db: asyncpg.Connection
) -> None:
    request_id = f"freeze-{secrets.token_hex(6)}"
    freeze = pb.FreezeUserRequest(
        request_id=request_id, user_id=payer, frozen=True, reason="fraud report"
    )
    first = await alice.FreezeUser(freeze)
    events = await _events(db, payer)
    assert await alice.FreezeUser(freeze) == first
    assert await _events(db, payer) == events  # the repeat wrote nothing

    thaw = pb.FreezeUserRequest(request_id=request_id, user_id=payer, frozen=False, reason="ok")
    refused = await _refused(alice.FreezeUser(thaw))
    assert refused.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_reason(refused) == ErrorReason.ERROR_REASON_REQUEST_ID_REUSED
    assert await _events(db, payer) == events
    assert (await alice.GetUser(pb.GetUserRequest(user_id=payer))).user.state == first.user.state


async def test_one_callers_request_id_never_collides_with_anothers(
    alice: pb_grpc.IdentityServiceAsyncStub,
    bob: pb_grpc.IdentityServiceAsyncStub,
    payer: str,
    db: asyncpg.Connection,
) -> None:
    request_id = f"shared-{secrets.token_hex(6)}"
    frozen = await alice.FreezeUser(
        pb.FreezeUserRequest(request_id=request_id, user_id=payer, frozen=True, reason="review")
    )
    thawed = await bob.FreezeUser(
        pb.FreezeUserRequest(request_id=request_id, user_id=payer, frozen=False, reason="cleared")
    )
    assert frozen.user.state != thawed.user.state
    callers = await db.fetch(
        "SELECT caller FROM identity.request_ids WHERE request_id = $1 ORDER BY caller",
        request_id,
    )
    assert [r["caller"] for r in callers] == ["operator/alice", "operator/bob"]


async def test_a_call_without_a_request_id_is_refused_and_writes_nothing(
    alice: pb_grpc.IdentityServiceAsyncStub, payer: str, db: asyncpg.Connection
) -> None:
    events = await _events(db, payer)
    refused = await _refused(
        alice.FreezeUser(pb.FreezeUserRequest(user_id=payer, frozen=True, reason="no id"))
    )
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(refused)] == ["request_id"]
    assert await _events(db, payer) == events


async def test_a_failed_call_keeps_no_answer_so_its_retry_runs(
    alice: pb_grpc.IdentityServiceAsyncStub, db: asyncpg.Connection
) -> None:
    request_id = f"missing-{secrets.token_hex(6)}"
    unknown = pb.FreezeUserRequest(
        request_id=request_id, user_id="UNOSUCHUSER", frozen=True, reason="none"
    )
    for _ in range(2):
        assert (await _refused(alice.FreezeUser(unknown))).code() == grpc.StatusCode.NOT_FOUND
    kept = await db.fetchval(
        "SELECT count(*) FROM identity.request_ids WHERE request_id = $1", request_id
    )
    assert kept == 0


async def test_reserve_limit_compares_the_whole_request(
    identity_addr: str, payer: str, db: asyncpg.Connection
) -> None:
    identity = pb_grpc.IdentityServiceStub(connect(identity_addr))
    reserve = pb.ReserveLimitRequest(
        payment_id=f"rid-{secrets.token_hex(6)}",
        user_id=payer,
        amount=Money(currency_code="CNY", minor_units=1),
        funding=pb.FUNDING_CARD,
        auth_factors=2,
    )
    first = await identity.ReserveLimit(reserve)
    assert await identity.ReserveLimit(reserve) == first
    other = pb.ReserveLimitRequest()
    other.CopyFrom(reserve)
    other.auth_factors = 3  # same user, amount and currency: still other content
    refused = await _refused(identity.ReserveLimit(other))
    assert error_reason(refused) == ErrorReason.ERROR_REASON_PAYMENT_ID_REUSED
    release = pb.ReleaseLimitRequest(request_id=uuid.uuid4().hex, payment_id=reserve.payment_id)
    await identity.ReleaseLimit(release)
    assert await identity.ReleaseLimit(release) == pb.ReleaseLimitResponse()
    state = await db.fetchval(
        "SELECT state FROM identity.limit_usages WHERE payment_id = $1", reserve.payment_id
    )
    assert state == "released"


async def test_closing_an_unknown_payment_keeps_no_request_id(
    gateway_stub: gpb_grpc.GatewayServiceAsyncStub, db: asyncpg.Connection
) -> None:
    request_id = uuid.uuid4().hex
    close = gpb.ClosePaymentRequest(request_id=request_id, payment_id="PNOSUCHPAYMENT")
    assert (await _refused(gateway_stub.ClosePayment(close))).code() == grpc.StatusCode.NOT_FOUND
    kept = await db.fetchval(
        "SELECT count(*) FROM gateway.request_ids WHERE request_id = $1", request_id
    )
    assert kept == 0


async def test_a_copy_arriving_while_the_first_is_answered_is_told_to_retry(
    gateway_addr: str,
) -> None:
    pool = await create_pool(GatewaySettings().dsn, schema="gateway", service="test", size=1)
    key = ("operator/alice", "/test/Method", uuid.uuid4().hex)
    try:
        busy = RequestIdStore(pool)
        assert await busy.claim(key, b"digest") is None  # the first call, not answered yet
        with pytest.raises(RequestInProgress):
            await busy.claim(key, b"digest")
        with pytest.raises(RequestIdReused):
            await busy.claim(key, b"other digest")
        # A claim its process left behind is taken over once stale; then answered once.
        assert await RequestIdStore(pool, stale_after=0).claim(key, b"digest") is None
        await busy.answer(key, b"the first answer")
        assert await busy.claim(key, b"digest") == b"the first answer"
    finally:
        await pool.close()

"""IdentityService against real Postgres: registration, idempotency, masking, PII at rest."""

from __future__ import annotations

import secrets

import asyncpg
import grpc
import pytest

from identity.domain.pii import id_number_valid
from paysuite.identity.v1 import identity_service_pb2 as pb
from paysuite.identity.v1 import identity_service_pb2_grpc as pb_grpc
from paysuite.runtime.grpc_errors import error_reason
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect


def fresh_id_number() -> str:
    """A valid GB 11643 number nobody registered yet (random sequence digits)."""
    while True:
        body = f"110105198001{secrets.randbelow(28) + 1:02d}{secrets.randbelow(1000):03d}"
        for check in "0123456789X":
            if id_number_valid(body + check):
                return body + check


@pytest.fixture
async def identity(identity_addr: str) -> pb_grpc.IdentityServiceAsyncStub:
    return pb_grpc.IdentityServiceStub(connect(identity_addr))


def registration(id_number: str, **overrides: str) -> pb.RegisterUserRequest:
    fields = {
        "request_id": f"req-{secrets.token_hex(6)}",
        "name": "李四",
        "id_number": id_number,
        "phone": f"139{secrets.randbelow(10**8):08d}",
    }
    fields.update(overrides)
    return pb.RegisterUserRequest(**fields)


async def test_register_answers_masked_and_stores_no_plaintext(
    identity: pb_grpc.IdentityServiceAsyncStub, db: asyncpg.Connection
) -> None:
    id_number = fresh_id_number()
    request = registration(id_number)
    user = (await identity.RegisterUser(request)).user
    assert user.masked_id_number == id_number[:4] + "*" * 10 + id_number[-4:]
    assert user.masked_phone == request.phone[:3] + "****" + request.phone[-4:]
    assert user.masked_name == "*四"
    assert not user.real_name_verified
    row = await db.fetchrow("SELECT * FROM identity.users WHERE user_id = $1", user.user_id)
    stored = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row.values())
    for secret in (id_number, request.phone, "李四"):
        assert secret.encode() not in stored


async def test_same_request_replays_and_reuse_is_refused(
    identity: pb_grpc.IdentityServiceAsyncStub,
) -> None:
    request = registration(fresh_id_number())
    first = (await identity.RegisterUser(request)).user
    again = (await identity.RegisterUser(request)).user
    assert again.user_id == first.user_id
    reused = pb.RegisterUserRequest()
    reused.CopyFrom(request)
    reused.phone = "13700000000"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await identity.RegisterUser(reused)
    assert caught.value.code() is grpc.StatusCode.ALREADY_EXISTS
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_REQUEST_ID_REUSED


async def test_a_phone_registers_one_user(identity: pb_grpc.IdentityServiceAsyncStub) -> None:
    first = registration(fresh_id_number())
    await identity.RegisterUser(first)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await identity.RegisterUser(registration(fresh_id_number(), phone=first.phone))
    assert caught.value.code() is grpc.StatusCode.ALREADY_EXISTS
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_PHONE_ALREADY_REGISTERED
    assert first.phone not in (caught.value.details() or "")


async def test_unverified_user_is_not_eligible(identity: pb_grpc.IdentityServiceAsyncStub) -> None:
    user = (await identity.RegisterUser(registration(fresh_id_number()))).user
    answer = await identity.CheckPaymentEligibility(
        pb.CheckPaymentEligibilityRequest(
            user_id=user.user_id, amount=Money(currency_code="CNY", minor_units=100)
        )
    )
    assert not answer.eligible
    assert answer.reason == pb.INELIGIBILITY_REASON_REAL_NAME_NOT_VERIFIED


async def test_unknown_user(identity: pb_grpc.IdentityServiceAsyncStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await identity.GetUser(pb.GetUserRequest(user_id="U-nobody"))
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_USER_NOT_FOUND

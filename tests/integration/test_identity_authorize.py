"""Authorizing payments against a payer's limits: one at a time or in batches, in order,
idempotent by payment id, never past a limit under concurrency."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
import grpc
import pytest

from paysuite.identity.v1 import identity_service_pb2 as pb
from paysuite.identity.v1 import identity_service_pb2_grpc as pb_grpc
from paysuite.runtime.grpc_errors import field_violations
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect
from tests.integration.kyc_support import fresh_phone
from tests.integration.test_identity_kyc import _real_named

DAILY_ONE_FACTOR = 100_000  # fen: 1,000 yuan a day for a payment confirmed with one factor


@pytest.fixture
async def identity(identity_addr: str) -> pb_grpc.IdentityServiceAsyncStub:
    return pb_grpc.IdentityServiceStub(connect(identity_addr))


@pytest.fixture
async def user(identity: pb_grpc.IdentityServiceAsyncStub) -> str:
    registered = await identity.RegisterUser(
        pb.RegisterUserRequest(request_id=f"reg-{secrets.token_hex(6)}", phone=fresh_phone())
    )
    return registered.user.user_id


def ask(user_id: str, amount: int, payment_id: str | None = None) -> pb.AuthorizePaymentRequest:
    """A card-funded payment (daily limits only) not charged to a bound card."""
    return pb.AuthorizePaymentRequest(
        payment_id=payment_id or f"pay_{secrets.token_hex(8)}",
        user_id=user_id,
        amount=Money(currency_code="CNY", minor_units=amount),
        funding=pb.FUNDING_CARD,
    )


def outcomes(answer: pb.BatchAuthorizePaymentsResponse) -> list[str]:
    return [
        "AUTHORIZED" if r.authorized else pb.IneligibilityReason.Name(r.refusal)
        for r in answer.responses
    ]


async def used_today(db: asyncpg.Connection, user_id: str) -> int:
    used: int = await db.fetchval(
        "SELECT coalesce(sum(amount), 0) FROM identity.limit_totals WHERE owner = $1",
        f"user:{user_id}",
    )
    return used


async def test_a_batch_is_decided_in_order_and_each_payment_on_its_own(
    identity: pb_grpc.IdentityServiceAsyncStub, user: str, db: asyncpg.Connection
) -> None:
    first, over, stranger, last = (
        ask(user, 60_000),
        ask(user, 50_000),  # 60,000 + 50,000 would pass the day's 100,000
        ask(f"U{secrets.randbelow(10**8):08d}", 100),
        ask(user, 30_000),
    )
    batch = pb.BatchAuthorizePaymentsRequest(requests=[first, over, stranger, last])
    expected = [
        "AUTHORIZED",
        "INELIGIBILITY_REASON_LIMIT_EXCEEDED",
        "INELIGIBILITY_REASON_USER_NOT_FOUND",
        "AUTHORIZED",
    ]
    answer = await identity.BatchAuthorizePayments(batch)
    assert outcomes(answer) == expected
    assert answer.responses[1].exceeded_limit == "DAILY_AUTH"
    assert await used_today(db, user) == 90_000
    # Asked again: the same answers, nothing reserved twice.
    assert outcomes(await identity.BatchAuthorizePayments(batch)) == expected
    assert await used_today(db, user) == 90_000
    reused = ask(user, 1, payment_id=first.payment_id)
    again = await identity.BatchAuthorizePayments(
        pb.BatchAuthorizePaymentsRequest(requests=[reused])
    )
    assert outcomes(again) == ["INELIGIBILITY_REASON_PAYMENT_ID_REUSED"]

    await identity.SettleLimits(
        pb.SettleLimitsRequest(
            settlements=[
                pb.LimitSettlement(payment_id=first.payment_id, commit=True),
                pb.LimitSettlement(payment_id=last.payment_id, commit=False),
            ]
        )
    )
    assert await used_today(db, user) == 60_000  # the released one gave its use back
    states = dict(
        await db.fetch(
            "SELECT payment_id, state FROM identity.limit_usages WHERE payment_id = ANY($1)",
            [first.payment_id, over.payment_id, last.payment_id],
        )
    )
    assert states == {first.payment_id: "committed", last.payment_id: "released"}


async def test_concurrent_authorizations_never_pass_a_limit(
    identity: pb_grpc.IdentityServiceAsyncStub, user: str, db: asyncpg.Connection
) -> None:
    singles = [identity.AuthorizePayment(ask(user, 20_000)) for _ in range(4)]
    batches = [
        identity.BatchAuthorizePayments(
            pb.BatchAuthorizePaymentsRequest(requests=[ask(user, 20_000), ask(user, 20_000)])
        )
        for _ in range(3)
    ]
    alone, together = await asyncio.gather(asyncio.gather(*singles), asyncio.gather(*batches))
    authorized = sum(a.authorized for a in alone) + sum(
        r.authorized for a in together for r in a.responses
    )
    assert authorized == DAILY_ONE_FACTOR // 20_000
    assert await used_today(db, user) == DAILY_ONE_FACTOR


async def test_a_bad_batch_is_refused_whole_and_writes_nothing(
    identity: pb_grpc.IdentityServiceAsyncStub, user: str, db: asyncpg.Connection
) -> None:
    repeated = ask(user, 100)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await identity.BatchAuthorizePayments(
            pb.BatchAuthorizePaymentsRequest(requests=[ask(user, 100), repeated, repeated])
        )
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in field_violations(caught.value)] == ["requests[2].payment_id"]
    with pytest.raises(grpc.aio.AioRpcError) as empty:
        await identity.BatchAuthorizePayments(pb.BatchAuthorizePaymentsRequest())
    assert empty.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert await used_today(db, user) == 0


async def test_a_withdrawal_to_ones_own_card_counts_against_the_day_not_the_tier(
    identity: pb_grpc.IdentityServiceAsyncStub,
    gateway_addr: str,  # verifies the card's four elements at the bank
    bank_url: str,
    db: asyncpg.Connection,
) -> None:
    user, _ = await _real_named(identity, bank_url)
    withdrawal = pb.AuthorizePaymentRequest(
        payment_id=f"po_{secrets.token_hex(8)}",
        user_id=user,
        amount=Money(currency_code="CNY", minor_units=5_000),
        funding=pb.FUNDING_BALANCE,
        card_required=True,
        own_card_transfer=True,
    )
    answer = await identity.AuthorizePayment(withdrawal)
    assert answer.authorized and answer.instrument.channel_agreement_no.startswith("AGR")
    totals = await db.fetchrow(
        "SELECT amount, tier_amount FROM identity.limit_totals WHERE owner = $1",
        f"user:{user}",
    )
    assert (totals["amount"], totals["tier_amount"]) == (5_000, 0)
    withdrawal.card_required = False
    for call in (
        identity.AuthorizePayment(withdrawal),
        identity.BatchAuthorizePayments(pb.BatchAuthorizePaymentsRequest(requests=[withdrawal])),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert [field for field, _ in field_violations(caught.value)][-1].endswith(
            "own_card_transfer"
        )

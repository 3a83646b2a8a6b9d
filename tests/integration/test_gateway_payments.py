"""GatewayService in process with real identity, ledger, bank simulator and Postgres."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import asyncpg
import grpc
import pytest

from devstack import demo
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.runtime.grpc_errors import error_reason
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect, eventually, outbox_drained

DialFaults = Callable[..., Awaitable[None]]
MERCHANT_ACCOUNT = f"merchant.{demo.MERCHANT_ID}.payable.CNY"


@pytest.fixture
async def gateway(gateway_addr: str) -> pb_grpc.GatewayServiceAsyncStub:
    return pb_grpc.GatewayServiceStub(connect(gateway_addr))


@pytest.fixture
async def ledger(ledger_addr: str) -> lpb_grpc.LedgerServiceAsyncStub:
    return lpb_grpc.LedgerServiceStub(connect(ledger_addr))


@pytest.fixture
async def bank_faults(bank_url: str) -> AsyncIterator[DialFaults]:
    """Lets a test dial the bank's faults; resets them afterwards."""
    async with aiohttp.ClientSession() as session:

        async def dial(**faults: float) -> None:
            async with session.post(f"{bank_url}/_admin/faults", json=faults) as response:
                assert response.status == 200

        yield dial
        await dial(decline_rate=0, error_rate=0, timeout_rate=0, latency_ms=0)


def payment_request(amount: int, order: str | None = None) -> pb.CreatePaymentRequest:
    return pb.CreatePaymentRequest(
        request_id=f"req-{secrets.token_hex(8)}",
        merchant_id=demo.MERCHANT_ID,
        merchant_order_no=order or f"ORD-{secrets.token_hex(6)}",
        amount=Money(currency_code="CNY", minor_units=amount),
        method=pb.PAYMENT_METHOD_BANK_CARD,
        payer_user_id=demo.USER_ID,
    )


async def _balance(ledger: lpb_grpc.LedgerServiceAsyncStub) -> int:
    account = (await ledger.GetAccount(lpb.GetAccountRequest(account_id=MERCHANT_ACCOUNT))).account
    return account.balance.minor_units


async def test_payment_succeeds_and_credits_the_merchant_once(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    ledger: lpb_grpc.LedgerServiceAsyncStub,
    db: asyncpg.Connection,
) -> None:
    before = await _balance(ledger)
    request = payment_request(1234)
    payment = (await gateway.CreatePayment(request)).payment
    assert payment.state == pb.Payment.STATE_SUCCEEDED
    assert len(payment.trace_id) == 32 and payment.card_id.startswith("card_")
    replay = (await gateway.CreatePayment(request)).payment
    assert replay.payment_id == payment.payment_id
    assert await eventually(lambda: _balance(ledger), before + 1234) == before + 1234
    fetched = await gateway.GetPayment(pb.GetPaymentRequest(payment_id=payment.payment_id))
    assert fetched.payment.state == pb.Payment.STATE_SUCCEEDED
    assert fetched.payment.trace_id == payment.trace_id
    assert await outbox_drained(db)  # everything it wrote to the outbox was delivered


async def test_request_id_reuse_with_other_payload_is_refused(
    gateway: pb_grpc.GatewayServiceAsyncStub,
) -> None:
    request = payment_request(100)
    await gateway.CreatePayment(request)
    request.amount.minor_units = 101
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await gateway.CreatePayment(request)
    assert caught.value.code() is grpc.StatusCode.ALREADY_EXISTS
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_REQUEST_ID_REUSED


async def test_paid_order_cannot_be_paid_again(gateway: pb_grpc.GatewayServiceAsyncStub) -> None:
    first = payment_request(200)
    assert (await gateway.CreatePayment(first)).payment.state == pb.Payment.STATE_SUCCEEDED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await gateway.CreatePayment(payment_request(200, order=first.merchant_order_no))
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_ORDER_ALREADY_PAID


async def test_declined_payment_fails_and_posts_nothing(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    ledger: lpb_grpc.LedgerServiceAsyncStub,
    bank_faults: DialFaults,
) -> None:
    await bank_faults(decline_rate=1)
    before = await _balance(ledger)
    payment = (await gateway.CreatePayment(payment_request(300))).payment
    assert payment.state == pb.Payment.STATE_FAILED
    assert payment.failure_reason
    assert await _balance(ledger) == before


async def test_channel_error_leaves_payment_unknown_not_failed(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    ledger: lpb_grpc.LedgerServiceAsyncStub,
    bank_faults: DialFaults,
) -> None:
    await bank_faults(error_rate=1)
    before = await _balance(ledger)
    payment = (await gateway.CreatePayment(payment_request(400))).payment
    assert payment.state == pb.Payment.STATE_UNKNOWN
    assert await _balance(ledger) == before


async def test_unknown_merchant(gateway: pb_grpc.GatewayServiceAsyncStub) -> None:
    request = payment_request(100)
    request.merchant_id = "M999999"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await gateway.CreatePayment(request)
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_MERCHANT_NOT_FOUND


async def test_channel_transactions_page_through_every_record(
    gateway: pb_grpc.GatewayServiceAsyncStub,
) -> None:
    created = {
        (await gateway.CreatePayment(payment_request(50 + i))).payment.payment_id for i in range(5)
    }
    some = await gateway.GetPayment(pb.GetPaymentRequest(payment_id=next(iter(created))))
    day = some.payment.create_time.ToDatetime()
    from datetime import UTC
    from zoneinfo import ZoneInfo

    local = day.replace(tzinfo=UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    from google.type.date_pb2 import Date

    seen: list[str] = []
    token = ""
    while True:
        page = await gateway.ListChannelTransactions(
            pb.ListChannelTransactionsRequest(
                channel="banksim",
                accounting_date=Date(year=local.year, month=local.month, day=local.day),
                page_size=2,
                page_token=token,
            )
        )
        assert len(page.transactions) <= 2
        seen += [t.payment_id for t in page.transactions]
        token = page.next_page_token
        if not token:
            break
    assert created <= set(seen)
    assert len(seen) == len(set(seen))


async def test_payments_reserve_commit_and_release_the_payers_limits(
    gateway: pb_grpc.GatewayServiceAsyncStub, db: asyncpg.Connection, bank_faults: DialFaults
) -> None:
    paid = (await gateway.CreatePayment(payment_request(500))).payment
    assert paid.state == pb.Payment.STATE_SUCCEEDED
    await bank_faults(decline_rate=1)
    declined = (await gateway.CreatePayment(payment_request(600))).payment
    assert (declined.state, declined.failure_reason) == (pb.Payment.STATE_FAILED, "CARD_DECLINED")

    async def states() -> dict[str, str]:
        found = await db.fetch(
            "SELECT payment_id, state FROM identity.limit_usages WHERE payment_id = ANY($1)",
            [paid.payment_id, declined.payment_id],
        )
        return dict(found)

    settled = {paid.payment_id: "committed", declined.payment_id: "released"}
    assert await eventually(states, settled) == settled


async def test_a_payment_over_the_daily_limit_fails_before_the_bank_is_asked(
    gateway: pb_grpc.GatewayServiceAsyncStub, ledger: lpb_grpc.LedgerServiceAsyncStub
) -> None:
    before = await _balance(ledger)
    request = payment_request(500_001)  # above 5,000 yuan a day even with two factors
    request.auth_factors = 2
    payment = (await gateway.CreatePayment(request)).payment
    assert payment.state == pb.Payment.STATE_FAILED
    assert payment.failure_reason == "PAYER_LIMIT_EXCEEDED"
    assert not payment.channel_transaction_id
    assert await _balance(ledger) == before


async def test_a_payment_by_an_unknown_payer_fails_with_identity_s_reason(
    gateway: pb_grpc.GatewayServiceAsyncStub,
) -> None:
    """Identity refuses the payer by its ErrorInfo reason USER_NOT_FOUND, which the gateway
    turns into the payment's refusal (not into identity being unavailable)."""
    request = payment_request(100)
    request.payer_user_id = f"U9{secrets.randbelow(10**8):08d}"
    payment = (await gateway.CreatePayment(request)).payment
    assert (payment.state, payment.failure_reason) == (
        pb.Payment.STATE_FAILED,
        "PAYER_USER_NOT_FOUND",
    )


async def test_the_channel_fee_is_booked_as_an_expense_the_channel_keeps(
    gateway: pb_grpc.GatewayServiceAsyncStub, ledger: lpb_grpc.LedgerServiceAsyncStub
) -> None:
    async def balance(account_id: str) -> int:
        answer = await ledger.GetAccount(lpb.GetAccountRequest(account_id=account_id))
        return answer.account.balance.minor_units

    receivable, expense = "channel.banksim.receivable.CNY", "platform.channel_fee_expense.CNY"

    async def books() -> tuple[int, int, int]:
        return (await balance(receivable), await balance(expense), await _balance(ledger))

    before = await books()
    payment = (await gateway.CreatePayment(payment_request(10_000))).payment
    assert payment.state == pb.Payment.STATE_SUCCEEDED
    fee = 60  # the bank simulator charges 60 bps: 0.6% of 100.00 yuan
    booked = (before[0] + 10_000 - fee, before[1] + fee, before[2] + 10_000)
    assert await eventually(books, booked) == booked

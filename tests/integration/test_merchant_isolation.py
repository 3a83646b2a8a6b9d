"""A merchant calls the gateway for its own merchant id only: another merchant's payments and
refunds answer NOT_FOUND, as if they did not exist; onboarding gives a merchant its identity."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator

import asyncpg
import grpc
import pytest
from typer.testing import CliRunner, Result

from devstack import demo, seed
from devstack.pki import DevCA
from payctl.main import app
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.runtime.grpc_errors import error_reason
from paysuite.runtime.identities import merchant
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from paysuite.type.v1.money_pb2 import Money


def _card_payment(merchant_id: str = demo.MERCHANT_ID) -> pb.CreatePaymentRequest:
    return pb.CreatePaymentRequest(
        request_id=f"iso-{secrets.token_hex(8)}",
        merchant_id=merchant_id,
        merchant_order_no=f"ISO-{secrets.token_hex(6)}",
        amount=Money(currency_code="CNY", minor_units=300),
        method=pb.PAYMENT_METHOD_BANK_CARD,
        payer_user_id=demo.USER_ID,
    )


@pytest.fixture
async def other_merchant(gateway_addr: str, ledger_addr: str, test_ca: DevCA) -> str:
    """A second registered merchant with a client certificate of its own."""
    merchant_id = f"M{secrets.token_hex(4)}"
    await seed.seed_ledger(ledger_addr, merchant_id)
    await seed.seed_merchant(gateway_addr, merchant_id)
    test_ca.ensure([merchant(merchant_id)])
    return merchant_id


@pytest.fixture
async def as_demo(
    gateway_addr: str, test_ca: DevCA
) -> AsyncIterator[pb_grpc.GatewayServiceAsyncStub]:
    async with test_ca.channel(gateway_addr, merchant(demo.MERCHANT_ID)) as channel:
        yield pb_grpc.GatewayServiceStub(channel)


@pytest.fixture
async def as_other(
    gateway_addr: str, test_ca: DevCA, other_merchant: str
) -> AsyncIterator[pb_grpc.GatewayServiceAsyncStub]:
    async with test_ca.channel(gateway_addr, merchant(other_merchant)) as channel:
        yield pb_grpc.GatewayServiceStub(channel)


async def _code(call: object) -> tuple[grpc.StatusCode, int]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value.code(), error_reason(caught.value)


async def test_another_merchants_payment_is_not_found_and_untouched(
    as_demo: pb_grpc.GatewayServiceAsyncStub,
    as_other: pb_grpc.GatewayServiceAsyncStub,
    db: asyncpg.Connection,
) -> None:
    paid = (await as_demo.CreatePayment(_card_payment())).payment
    assert paid.state == pb.Payment.STATE_SUCCEEDED
    refund = (
        await as_demo.RefundPayment(
            pb.RefundPaymentRequest(
                request_id=f"iso-r-{secrets.token_hex(6)}",
                payment_id=paid.payment_id,
                amount=Money(currency_code="CNY", minor_units=100),
                reason="changed mind",
            )
        )
    ).refund
    refunds_before = await db.fetchval("SELECT count(*) FROM gateway.refunds")
    not_found = (grpc.StatusCode.NOT_FOUND, ErrorReason.ERROR_REASON_PAYMENT_NOT_FOUND)
    payment_id = paid.payment_id
    assert await _code(as_other.GetPayment(pb.GetPaymentRequest(payment_id=payment_id))) == (
        not_found
    )
    assert await _code(as_other.QueryPayment(pb.QueryPaymentRequest(payment_id=payment_id))) == (
        not_found
    )
    assert await _code(
        as_other.ClosePayment(
            pb.ClosePaymentRequest(request_id=uuid.uuid4().hex, payment_id=payment_id)
        )
    ) == (not_found)
    other_refund = pb.RefundPaymentRequest(
        request_id=f"iso-r-{secrets.token_hex(6)}",
        payment_id=payment_id,
        amount=Money(currency_code="CNY", minor_units=100),
        reason="not mine",
    )
    assert await _code(as_other.RefundPayment(other_refund)) == not_found
    assert await _code(as_other.GetRefund(pb.GetRefundRequest(refund_id=refund.refund_id))) == (
        grpc.StatusCode.NOT_FOUND,
        ErrorReason.ERROR_REASON_REFUND_NOT_FOUND,
    )
    assert await db.fetchval("SELECT count(*) FROM gateway.refunds") == refunds_before
    # Its owner still sees it.
    got = await as_demo.GetPayment(pb.GetPaymentRequest(payment_id=payment_id))
    assert got.payment.state == pb.Payment.STATE_SUCCEEDED


async def test_a_merchant_may_not_act_for_another_merchant_id(
    as_other: pb_grpc.GatewayServiceAsyncStub, db: asyncpg.Connection
) -> None:
    denied = (grpc.StatusCode.PERMISSION_DENIED, ErrorReason.ERROR_REASON_CALLER_NOT_ALLOWED)
    payments_before = await db.fetchval("SELECT count(*) FROM gateway.payments")
    assert await _code(as_other.CreatePayment(_card_payment(demo.MERCHANT_ID))) == denied
    assert await db.fetchval("SELECT count(*) FROM gateway.payments") == payments_before
    listing = pb.ListPaymentsRequest(merchant_id=demo.MERCHANT_ID)
    assert await _code(as_other.ListPayments(listing)) == denied
    watch = as_other.WatchPaymentEvents(pb.WatchPaymentEventsRequest(merchant_id=demo.MERCHANT_ID))
    assert await _code(watch.read()) == denied


async def test_merchants_request_ids_never_collide(
    as_demo: pb_grpc.GatewayServiceAsyncStub,
    as_other: pb_grpc.GatewayServiceAsyncStub,
    other_merchant: str,
) -> None:
    ours = _card_payment()
    theirs = _card_payment(other_merchant)
    theirs.request_id = ours.request_id  # the same id, other content, another merchant
    paid = (await as_demo.CreatePayment(ours)).payment
    other = (await as_other.CreatePayment(theirs)).payment
    assert other.payment_id != paid.payment_id
    assert other.merchant_id == other_merchant
    assert (await as_demo.CreatePayment(ours)).payment.payment_id == paid.payment_id
    refund_id = f"iso-r-{secrets.token_hex(6)}"
    refunds = [
        await stub.RefundPayment(
            pb.RefundPaymentRequest(
                request_id=refund_id,
                payment_id=payment.payment_id,
                amount=Money(currency_code="CNY", minor_units=100),
                reason="changed mind",
            )
        )
        for stub, payment in ((as_demo, paid), (as_other, other))
    ]
    assert [r.refund.payment_id for r in refunds] == [paid.payment_id, other.payment_id]
    reused = (grpc.StatusCode.ALREADY_EXISTS, ErrorReason.ERROR_REASON_REQUEST_ID_REUSED)
    ours.amount.minor_units += 1  # a reuse of the merchant's own id is still refused
    assert await _code(as_demo.CreatePayment(ours)) == reused


async def test_a_merchant_lists_its_own_payments(
    as_other: pb_grpc.GatewayServiceAsyncStub, other_merchant: str
) -> None:
    paid = (await as_other.CreatePayment(_card_payment(other_merchant))).payment
    listed = await as_other.ListPayments(pb.ListPaymentsRequest(merchant_id=other_merchant))
    assert [p.payment_id for p in listed.payments] == [paid.payment_id]


async def _payctl(*args: str) -> Result:
    """payctl in a thread of its own (it runs its own event loop), against the session's CA."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


async def test_payctl_onboards_a_merchant_that_then_calls_as_itself(
    gateway_addr: str, ledger_addr: str, test_ca: DevCA
) -> None:
    merchant_id = f"M{secrets.token_hex(4)}"
    await seed.seed_ledger(ledger_addr, merchant_id)
    created = await _payctl(
        "merchant", "create", merchant_id, "--name", "Noodle Bar", "--fee-bps", "55",
        "--gateway", gateway_addr, "--json",
    )  # fmt: skip
    assert created.exit_code == 0, created.stderr
    answer = json.loads(created.stdout)
    assert (answer["merchant_id"], answer["fee_rate_bps"]) == (merchant_id, 55)
    assert answer["certificate"] == str(test_ca.cert_file(merchant(merchant_id)))
    as_merchant = ("--as", f"merchant-{merchant_id}")
    paid = await _payctl(
        *as_merchant, "pay", "--merchant", merchant_id, "--user", demo.USER_ID,
        "--amount", "1.00", "--gateway", gateway_addr, "--json",
    )  # fmt: skip
    assert paid.exit_code == 0, paid.stderr
    assert json.loads(paid.stdout)["state"] == "STATE_SUCCEEDED"
    # Onboarding is the operator's: the merchant may not read merchants.
    own = await _payctl(*as_merchant, "merchant", "get", merchant_id, "--gateway", gateway_addr)
    assert own.exit_code == 1 and "CALLER_NOT_ALLOWED" in own.stderr
    # Suspended, it takes no payments.
    suspended = await _payctl(
        "merchant", "update", merchant_id, "--state", "suspended", "--gateway", gateway_addr
    )
    assert suspended.exit_code == 0, suspended.stderr
    refused = await _payctl(
        *as_merchant, "pay", "--merchant", merchant_id, "--user", demo.USER_ID,
        "--amount", "1.00", "--gateway", gateway_addr,
    )  # fmt: skip
    assert refused.exit_code == 1 and "MERCHANT_NOT_FOUND" in refused.stderr

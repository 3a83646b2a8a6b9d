"""Platform coupons on real services: a coupon payment is charged the amount less the coupon at
the bank simulator, its capture books the coupon to marketing cost, a partial and a full refund
give the payer back exactly what they paid (the rest back to marketing cost) and the bank only
the payer's share, and the card channel's own bill reconciles clean against it. A coupon that
is not less than the amount in its currency is refused and nothing written; a request id
reused with another coupon is refused."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime

import asyncpg
import grpc
import pytest

from devstack import demo
from paysuite import accounts
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from paysuite.runtime.grpc_errors import error_reason, field_violations
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect, outbox_drained
from tests.integration.payout_support import bank_admin, card_payer
from tests.integration.test_gateway_wallets import assert_ledger, refund_request
from tests.integration.test_recon_matching import _run
from tests.integration.test_recon_wallets import SHANGHAI, _found

AMOUNT, COUPON = 10_000, 1_500
CHARGED = AMOUNT - COUPON
MARKETING = accounts.marketing_cost("CNY")
RECEIVABLE = accounts.channel_receivable("banksim", "CNY")


def _request(
    payer: str,
    amount: Money,
    coupon: Money | None,
    purpose: gpb.PaymentPurpose.ValueType = gpb.PAYMENT_PURPOSE_UNSPECIFIED,
) -> gpb.CreatePaymentRequest:
    request = gpb.CreatePaymentRequest(
        request_id=f"cpn-{secrets.token_hex(8)}",
        merchant_id=demo.MERCHANT_ID,
        merchant_order_no=f"CPN-{secrets.token_hex(6)}",
        amount=amount,
        method=gpb.PAYMENT_METHOD_BANK_CARD,
        payer_user_id=payer,
        purpose=purpose,
    )
    if coupon is not None:
        request.platform_coupon.CopyFrom(coupon)
    return request


def _cny(minor_units: int) -> Money:
    return Money(currency_code="CNY", minor_units=minor_units)


async def _moved(ledger: lpb_grpc.LedgerServiceAsyncStub, transfer_id: str) -> Counter[str]:
    """Each account's debits less credits in the transfer."""
    answer = await ledger.GetTransfer(lpb.GetTransferRequest(transfer_id=transfer_id))
    moved: Counter[str] = Counter()
    for posting in answer.transfer.postings:
        moved[posting.debit_account_id] += posting.amount.minor_units
        moved[posting.credit_account_id] -= posting.amount.minor_units
    return moved


@pytest.fixture
async def recon(recon_addr: str) -> AsyncIterator[rpb_grpc.ReconServiceAsyncStub]:
    async with connect(recon_addr) as conn:
        yield rpb_grpc.ReconServiceStub(conn)


@pytest.mark.parametrize(
    ("coupon", "purpose", "field"),
    [
        (Money(currency_code="USD", minor_units=100), 0, "platform_coupon.currency_code"),
        (_cny(AMOUNT), 0, "platform_coupon.minor_units"),
        (_cny(AMOUNT + 1), 0, "platform_coupon.minor_units"),
        (_cny(0), 0, "platform_coupon.minor_units"),
        (_cny(-5), 0, "platform_coupon.minor_units"),
        (_cny(100), gpb.PAYMENT_PURPOSE_TOP_UP, "platform_coupon"),
    ],
)
async def test_a_coupon_not_less_than_the_amount_in_its_currency_is_refused(
    gateway_stub: gpb_grpc.GatewayServiceAsyncStub,
    db: asyncpg.Connection,
    coupon: Money,
    purpose: gpb.PaymentPurpose.ValueType,
    field: str,
) -> None:
    request = _request("U-nobody", _cny(AMOUNT), coupon, purpose=purpose)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await gateway_stub.CreatePayment(request)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(refused.value)] == [field]
    written = await db.fetchval(
        "SELECT count(*) FROM gateway.payments WHERE merchant_order_no = $1",
        request.merchant_order_no,
    )
    assert written == 0


async def test_a_coupon_payment_charges_the_rest_and_refunds_split_it(
    gateway_stub: gpb_grpc.GatewayServiceAsyncStub,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    recon: rpb_grpc.ReconServiceAsyncStub,
    identity_addr: str,
    bank_url: str,
    db: asyncpg.Connection,
) -> None:
    payer = await card_payer(identity_addr, bank_url)
    request = _request(payer, _cny(AMOUNT), _cny(COUPON))
    payment = (await gateway_stub.CreatePayment(request)).payment
    assert payment.state == gpb.Payment.STATE_SUCCEEDED, payment.failure_reason
    assert (payment.amount.minor_units, payment.platform_coupon.minor_units) == (AMOUNT, COUPON)
    assert payment.channel == "banksim"
    fee = payment.merchant_fee.minor_units

    # The bank charged the payer what they pay: the amount less the coupon.
    transactions = await bank_admin(bank_url, "GET", "/_admin/transactions")
    [charged] = [t for t in transactions if t["out_trade_no"] == payment.payment_id]
    assert charged["amount"] == CHARGED

    # The same request id with another coupon is another payment: refused.
    reused = _request(payer, _cny(AMOUNT), _cny(COUPON - 1))
    reused.request_id, reused.merchant_order_no = request.request_id, request.merchant_order_no
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await gateway_stub.CreatePayment(reused)
    assert error_reason(refused.value) == ErrorReason.ERROR_REASON_REQUEST_ID_REUSED

    partial = (await gateway_stub.RefundPayment(refund_request(payment.payment_id, 2_500))).refund
    assert partial.state == gpb.Refund.STATE_SUCCEEDED
    assert partial.platform_coupon.minor_units == 375  # 15% of 2,500 back to marketing cost
    rest = (await gateway_stub.RefundPayment(refund_request(payment.payment_id, 7_500))).refund
    assert rest.state == gpb.Refund.STATE_SUCCEEDED
    assert partial.platform_coupon.minor_units + rest.platform_coupon.minor_units == COUPON

    await assert_ledger(
        db,
        payment.payment_id,
        [
            f"{payment.payment_id}:capture",
            f"{partial.refund_id}:refund",
            f"{rest.refund_id}:refund",
        ],
    )
    payable = accounts.merchant_payable(demo.MERCHANT_ID, "CNY")
    capture = await _moved(ledger_stub, f"{payment.payment_id}:capture")
    assert capture[MARKETING] == COUPON
    assert capture[payable] == -(AMOUNT - fee)  # the merchant is owed the whole order
    # The receivable: what the bank charged, less its fee.
    assert capture[RECEIVABLE] == CHARGED - capture[accounts.channel_fee_expense("CNY")]
    first = await _moved(ledger_stub, f"{partial.refund_id}:refund")
    second = await _moved(ledger_stub, f"{rest.refund_id}:refund")
    assert (first[MARKETING], first[RECEIVABLE]) == (-375, -(2_500 - 375))
    assert second[MARKETING] == -(COUPON - 375)
    # Together the refunds gave the payer through the channel exactly what they paid.
    assert first[RECEIVABLE] + second[RECEIVABLE] == -CHARGED
    assert all(sum(t.values()) == 0 for t in (capture, first, second))  # each balanced
    assert first[payable] + second[payable] == AMOUNT - fee  # the merchant gives it all back

    # The bank's own bill of the day has the charge and both refunds at the payer's amounts:
    # they match ours, nothing of this payment differs.
    assert await outbox_drained(db)
    day = datetime.now(SHANGHAI).date()
    await _run(recon, "banksim", day)
    found = await _found(recon, "banksim", day)
    mine = {payment.payment_id, partial.refund_id, rest.refund_id}
    assert {i: d.outcome for i, d in found.items() if i in mine} == {}


async def test_a_refund_that_is_all_coupon_never_reaches_the_channel(
    gateway_stub: gpb_grpc.GatewayServiceAsyncStub,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    recon: rpb_grpc.ReconServiceAsyncStub,
    identity_addr: str,
    bank_url: str,
    db: asyncpg.Connection,
) -> None:
    payer = await card_payer(identity_addr, bank_url)
    # 0.10 of which the coupon pays 0.09: the payer paid 0.01.
    payment = (await gateway_stub.CreatePayment(_request(payer, _cny(10), _cny(9)))).payment
    assert payment.state == gpb.Payment.STATE_SUCCEEDED, payment.failure_reason
    # A refund of 0.01 gives the payer 0.001, rounded down to nothing: all of it is coupon.
    coupon_only = (await gateway_stub.RefundPayment(refund_request(payment.payment_id, 1))).refund
    assert coupon_only.state == gpb.Refund.STATE_SUCCEEDED
    assert (coupon_only.platform_coupon.minor_units, coupon_only.channel_refund_id) == (1, "")
    rest = (await gateway_stub.RefundPayment(refund_request(payment.payment_id, 9))).refund
    assert rest.state == gpb.Refund.STATE_SUCCEEDED
    assert rest.platform_coupon.minor_units == 8  # the payer gets back their 0.01
    assert rest.channel_refund_id

    await assert_ledger(
        db,
        payment.payment_id,
        [
            f"{payment.payment_id}:capture",
            f"{coupon_only.refund_id}:refund",
            f"{rest.refund_id}:refund",
        ],
    )
    only = await _moved(ledger_stub, f"{coupon_only.refund_id}:refund")
    assert (only[MARKETING], only[RECEIVABLE]) == (-1, 0)
    assert (await _moved(ledger_stub, f"{rest.refund_id}:refund"))[RECEIVABLE] == -1
    # The bank's bill has the charge and the one refund it made; nothing of ours differs.
    assert await outbox_drained(db)
    day = datetime.now(SHANGHAI).date()
    await _run(recon, "banksim", day)
    found = await _found(recon, "banksim", day)
    mine = {payment.payment_id, coupon_only.refund_id, rest.refund_id}
    assert {i: d.outcome for i, d in found.items() if i in mine} == {}

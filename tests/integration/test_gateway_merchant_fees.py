"""The platform's fee: kept of each captured purchase at the merchant's rate as fee income,
given back pro rata by refunds so that a full refund returns all of it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from devstack import seed
from devstack.pki import DevCA
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.runtime.identities import merchant
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import eventually
from tests.integration.test_gateway_wallets import refund_request

FEE_BPS = 60  # 0.6%


@pytest.fixture
async def fee_merchant(gateway_addr: str, ledger_addr: str) -> str:
    merchant_id = f"M{secrets.randbelow(10**6):06d}F"
    await seed.seed_ledger(ledger_addr, merchant_id)
    await seed.seed_merchant(gateway_addr, merchant_id, fee_bps=FEE_BPS)
    return merchant_id


@pytest.fixture
async def as_fee_merchant(
    gateway_addr: str, fee_merchant: str, test_ca: DevCA
) -> AsyncIterator[pb_grpc.GatewayServiceAsyncStub]:
    """The gateway as the fee merchant calls it (its payments and refunds are its own)."""
    test_ca.ensure([merchant(fee_merchant)])
    async with test_ca.channel(gateway_addr, merchant(fee_merchant)) as channel:
        yield pb_grpc.GatewayServiceStub(channel)


async def test_the_fee_is_kept_on_capture_and_given_back_pro_rata_by_refunds(
    as_fee_merchant: pb_grpc.GatewayServiceAsyncStub,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    fee_merchant: str,
    payer: str,
) -> None:
    gateway_stub = as_fee_merchant
    accounts = {
        "merchant": f"merchant.{fee_merchant}.payable.CNY",
        "fee_income": "platform.fee_income.CNY",
    }

    async def books() -> dict[str, int]:
        return {
            name: (
                await ledger_stub.GetAccount(lpb.GetAccountRequest(account_id=account_id))
            ).account.balance.minor_units
            for name, account_id in accounts.items()
        }

    start = await books()
    payment = (
        await gateway_stub.CreatePayment(
            pb.CreatePaymentRequest(
                request_id=f"fee-{secrets.token_hex(8)}",
                merchant_id=fee_merchant,
                merchant_order_no=f"F-{secrets.token_hex(6)}",
                amount=Money(currency_code="CNY", minor_units=10_000),
                method=pb.PAYMENT_METHOD_WECHAT_PAY,
                payer_user_id=payer,
            )
        )
    ).payment
    assert payment.state == pb.Payment.STATE_SUCCEEDED
    assert payment.merchant_fee.minor_units == 60
    captured = {"merchant": start["merchant"] + 9_940, "fee_income": start["fee_income"] + 60}
    after_capture = await eventually(books, captured)
    assert after_capture == captured

    # 33.33 yuan gives back 19 fen of the fee (0.6% of it, rounded down), 66.67 the other 41.
    first = await gateway_stub.RefundPayment(refund_request(payment.payment_id, 3_333))
    assert first.refund.state == pb.Refund.STATE_SUCCEEDED
    refunded_first = {
        "merchant": after_capture["merchant"] - 3_314,
        "fee_income": after_capture["fee_income"] - 19,
    }
    assert await eventually(books, refunded_first) == refunded_first
    rest = await gateway_stub.RefundPayment(refund_request(payment.payment_id, 6_667))
    assert rest.refund.state == pb.Refund.STATE_SUCCEEDED
    assert await eventually(books, start) == start

"""Merchant onboarding over the gateway's API: register, read, change fee rate and state."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable

import asyncpg
import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from devstack import seed
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.runtime.grpc_errors import error_reason, field_violations
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from tests.integration.test_gateway_wallets import pay_request, settled
from tests.integration.wallet_client import WalletClient


def _merchant(fee_rate_bps: int = 0, settlement_account_id: str = "") -> pb.Merchant:
    return pb.Merchant(
        merchant_id=f"M{secrets.token_hex(4)}",
        name="Tea House",
        fee_rate_bps=fee_rate_bps,
        settlement_account_id=settlement_account_id,
    )


async def _refused(call: Awaitable[object]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


async def _pay(
    gateway: pb_grpc.GatewayServiceAsyncStub, merchant_id: str, payer: str
) -> pb.Payment:
    request = pay_request(pb.PAYMENT_METHOD_WECHAT_PAY, 10_000, payer)
    request.merchant_id = merchant_id
    return (await gateway.CreatePayment(request)).payment


async def test_a_merchant_is_registered_once_and_read_back(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub,
) -> None:
    wanted = _merchant(fee_rate_bps=60, settlement_account_id="merchant.settle.1")
    registered = (
        await gateway_stub.RegisterMerchant(pb.RegisterMerchantRequest(merchant=wanted))
    ).merchant
    assert (registered.merchant_id, registered.name, registered.fee_rate_bps) == (
        wanted.merchant_id,
        "Tea House",
        60,
    )
    assert registered.settlement_account_id == "merchant.settle.1"
    assert registered.state == pb.MERCHANT_STATE_ACTIVE
    assert registered.create_time == registered.update_time
    got = await gateway_stub.GetMerchant(pb.GetMerchantRequest(merchant_id=wanted.merchant_id))
    assert got.merchant == registered
    again = await gateway_stub.RegisterMerchant(pb.RegisterMerchantRequest(merchant=wanted))
    assert again.merchant == registered  # a retried registration

    other = pb.Merchant(merchant_id=wanted.merchant_id, name="Another Shop")
    refused = await _refused(
        gateway_stub.RegisterMerchant(pb.RegisterMerchantRequest(merchant=other))
    )
    assert refused.code() is grpc.StatusCode.ALREADY_EXISTS
    assert error_reason(refused) == ErrorReason.ERROR_REASON_MERCHANT_EXISTS


async def test_bad_registrations_write_nothing(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub, db: asyncpg.Connection
) -> None:
    before = await db.fetchval("SELECT count(*) FROM gateway.merchants")
    bad = pb.Merchant(merchant_id="M 1", name=" ", fee_rate_bps=10_001, settlement_account_id="a b")
    refused = await _refused(
        gateway_stub.RegisterMerchant(pb.RegisterMerchantRequest(merchant=bad))
    )
    assert refused.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert {field for field, _ in field_violations(refused)} == {
        "merchant.merchant_id",
        "merchant.name",
        "merchant.fee_rate_bps",
        "merchant.settlement_account_id",
    }
    assert await db.fetchval("SELECT count(*) FROM gateway.merchants") == before


async def test_unknown_merchants_are_not_found(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub,
) -> None:
    missing = f"M{secrets.token_hex(4)}"
    for call in (
        gateway_stub.GetMerchant(pb.GetMerchantRequest(merchant_id=missing)),
        gateway_stub.UpdateMerchant(
            pb.UpdateMerchantRequest(
                merchant=pb.Merchant(merchant_id=missing, fee_rate_bps=10),
                update_mask=FieldMask(paths=["fee_rate_bps"]),
            )
        ),
    ):
        refused = await _refused(call)
        assert refused.code() is grpc.StatusCode.NOT_FOUND
        assert error_reason(refused) == ErrorReason.ERROR_REASON_MERCHANT_NOT_FOUND


async def test_a_new_fee_rate_applies_to_the_next_payments(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub, ledger_addr: str, payer: str
) -> None:
    wanted = _merchant(fee_rate_bps=60)
    await seed.seed_ledger(ledger_addr, wanted.merchant_id)
    await gateway_stub.RegisterMerchant(pb.RegisterMerchantRequest(merchant=wanted))
    before = await _pay(gateway_stub, wanted.merchant_id, payer)
    assert (before.state, before.merchant_fee.minor_units) == (pb.Payment.STATE_SUCCEEDED, 60)

    change = pb.Merchant(merchant_id=wanted.merchant_id, name="ignored", fee_rate_bps=125)
    updated = (
        await gateway_stub.UpdateMerchant(
            pb.UpdateMerchantRequest(merchant=change, update_mask=FieldMask(paths=["fee_rate_bps"]))
        )
    ).merchant
    assert (updated.name, updated.fee_rate_bps) == ("Tea House", 125)
    assert updated.update_time.ToDatetime() > updated.create_time.ToDatetime()
    after = await _pay(gateway_stub, wanted.merchant_id, payer)
    assert (after.state, after.merchant_fee.minor_units) == (pb.Payment.STATE_SUCCEEDED, 125)


async def test_the_fee_holds_when_the_wallets_notification_settles_the_payment(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub,
    ledger_addr: str,
    payer: str,
    alipay: WalletClient,
    db: asyncpg.Connection,
) -> None:
    wanted = _merchant(fee_rate_bps=60)
    await seed.seed_ledger(ledger_addr, wanted.merchant_id)
    await gateway_stub.RegisterMerchant(pb.RegisterMerchantRequest(merchant=wanted))
    # The buyer confirms later: the success comes by notification, to a payment read back.
    await alipay.set_faults(accepted_rate=1, decide_ms=100)
    request = pay_request(pb.PAYMENT_METHOD_ALIPAY, 10_000, payer)
    request.merchant_id = wanted.merchant_id
    try:
        payment = (await gateway_stub.CreatePayment(request)).payment
        assert payment.state == pb.Payment.STATE_UNKNOWN
        paid = await settled(gateway_stub, payment.payment_id)
    finally:
        await alipay.reset_faults()
    assert (paid.state, paid.merchant_fee.minor_units) == (pb.Payment.STATE_SUCCEEDED, 60)
    stored = "SELECT merchant_fee FROM gateway.payments WHERE payment_id = $1"
    assert await db.fetchval(stored, payment.payment_id) == 60


async def test_a_suspended_merchant_takes_no_payments_until_it_is_active_again(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub, ledger_addr: str, payer: str
) -> None:
    wanted = _merchant()
    await seed.seed_ledger(ledger_addr, wanted.merchant_id)
    await gateway_stub.RegisterMerchant(pb.RegisterMerchantRequest(merchant=wanted))

    async def set_state(state: pb.MerchantState.ValueType) -> pb.Merchant:
        merchant = pb.Merchant(merchant_id=wanted.merchant_id, state=state)
        answer = await gateway_stub.UpdateMerchant(pb.UpdateMerchantRequest(merchant=merchant))
        return answer.merchant

    assert (await set_state(pb.MERCHANT_STATE_SUSPENDED)).state == pb.MERCHANT_STATE_SUSPENDED
    refused = await _refused(_pay(gateway_stub, wanted.merchant_id, payer))
    assert error_reason(refused) == ErrorReason.ERROR_REASON_MERCHANT_NOT_FOUND
    assert (await set_state(pb.MERCHANT_STATE_ACTIVE)).state == pb.MERCHANT_STATE_ACTIVE
    assert (await _pay(gateway_stub, wanted.merchant_id, payer)).state == pb.Payment.STATE_SUCCEEDED


async def test_a_bad_update_changes_nothing(gateway_stub: pb_grpc.GatewayServiceAsyncStub) -> None:
    wanted = _merchant(fee_rate_bps=60)
    registered = (
        await gateway_stub.RegisterMerchant(pb.RegisterMerchantRequest(merchant=wanted))
    ).merchant
    bad = pb.Merchant(merchant_id=wanted.merchant_id, name="New Name", fee_rate_bps=-5)
    refused = await _refused(
        gateway_stub.UpdateMerchant(
            pb.UpdateMerchantRequest(
                merchant=bad, update_mask=FieldMask(paths=["name", "fee_rate_bps", "create_time"])
            )
        )
    )
    assert refused.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert {field for field, _ in field_violations(refused)} == {
        "update_mask",
        "merchant.fee_rate_bps",
    }
    got = await gateway_stub.GetMerchant(pb.GetMerchantRequest(merchant_id=wanted.merchant_id))
    assert got.merchant == registered

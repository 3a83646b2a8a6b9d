"""The platform wallet: topped up by card or an external wallet, spent on merchants from its
balance (never below zero), refunded back into it; every move booked once in the ledger."""

from __future__ import annotations

import secrets
from dataclasses import replace

import grpc
import pytest

from devstack import demo
from gateway.adapters.channels.balance import BalanceChannel
from gateway.adapters.ledger_client import GrpcLedger
from gateway.domain.ports import ChannelCharge, ChannelOutcome, LedgerPosting, LedgerTransfer
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.identity.v1 import identity_service_pb2_grpc as idpb_grpc
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.money import Money as MoneyValue
from paysuite.runtime.grpc_errors import error_reason, field_violations
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect, eventually
from tests.integration.test_gateway_wallets import refund_request
from tests.integration.test_identity_kyc import _real_named

MERCHANT_PAYABLE = f"merchant.{demo.MERCHANT_ID}.payable.CNY"
CLEARING = "channel.balance.receivable.CNY"


def request(
    user: str, amount: int, method: int, purpose: int = pb.PAYMENT_PURPOSE_PURCHASE
) -> pb.CreatePaymentRequest:
    return pb.CreatePaymentRequest(
        request_id=f"breq-{secrets.token_hex(8)}",
        merchant_id=demo.MERCHANT_ID,
        merchant_order_no=f"B-{secrets.token_hex(6)}",
        amount=Money(currency_code="CNY", minor_units=amount),
        method=method,  # type: ignore[arg-type]
        payer_user_id=user,
        purpose=purpose,  # type: ignore[arg-type]
    )


class Books:
    """Balances of the accounts a wallet payment touches, read from the ledger."""

    def __init__(self, ledger: lpb_grpc.LedgerServiceAsyncStub, user: str) -> None:
        self._ledger = ledger
        self.accounts = {
            "wallet": f"user.{user}.wallet.CNY",
            "merchant": MERCHANT_PAYABLE,
            "clearing": CLEARING,
        }

    async def read(self) -> dict[str, int]:
        balances = {}
        for name, account_id in self.accounts.items():
            try:
                answer = await self._ledger.GetAccount(lpb.GetAccountRequest(account_id=account_id))
            except grpc.aio.AioRpcError as exc:
                assert exc.code() is grpc.StatusCode.NOT_FOUND
                balances[name] = 0
                continue
            balances[name] = answer.account.balance.minor_units
        return balances

    async def moved(self, before: dict[str, int], expected: dict[str, int]) -> dict[str, int]:
        """How far each balance moved from before, once it moved as expected (captures and
        refunds reach the ledger through the gateway's outbox, just after the answer)."""

        async def delta() -> dict[str, int]:
            after = await self.read()
            return {name: after[name] - before[name] for name in after}

        return await eventually(delta, expected)


async def test_top_up_by_card_then_spend_the_balance_and_refund_into_it(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub, ledger_stub: lpb_grpc.LedgerServiceAsyncStub
) -> None:
    books = Books(ledger_stub, demo.USER_ID)
    start = await books.read()
    top_up = (
        await gateway_stub.CreatePayment(
            request(demo.USER_ID, 5_000, pb.PAYMENT_METHOD_BANK_CARD, pb.PAYMENT_PURPOSE_TOP_UP)
        )
    ).payment
    assert (top_up.state, top_up.channel, top_up.purpose) == (
        pb.Payment.STATE_SUCCEEDED,
        "banksim",
        pb.PAYMENT_PURPOSE_TOP_UP,
    )
    # The money is the user's, not the merchant's.
    moved = {"wallet": 5_000, "merchant": 0, "clearing": 0}
    assert await books.moved(start, moved) == moved

    before = await books.read()
    spent = (
        await gateway_stub.CreatePayment(
            request(demo.USER_ID, 3_000, pb.PAYMENT_METHOD_WALLET_BALANCE)
        )
    ).payment
    assert (spent.state, spent.channel) == (pb.Payment.STATE_SUCCEEDED, "balance")
    moved = {"wallet": -3_000, "merchant": 3_000, "clearing": 0}
    assert await books.moved(before, moved) == moved

    before = await books.read()
    too_much = before["wallet"] + 1
    refused = (
        await gateway_stub.CreatePayment(
            request(demo.USER_ID, too_much, pb.PAYMENT_METHOD_WALLET_BALANCE)
        )
    ).payment
    assert (refused.state, refused.failure_reason) == (
        pb.Payment.STATE_FAILED,
        "INSUFFICIENT_BALANCE",
    )
    moved = {"wallet": 0, "merchant": 0, "clearing": 0}
    assert await books.moved(before, moved) == moved

    refund = await gateway_stub.RefundPayment(refund_request(spent.payment_id, 1_000))
    assert refund.refund.state == pb.Refund.STATE_SUCCEEDED
    moved = {"wallet": 1_000, "merchant": -1_000, "clearing": 0}
    assert await books.moved(before, moved) == moved

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await gateway_stub.RefundPayment(refund_request(top_up.payment_id, 1_000))
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_TOP_UP_NOT_REFUNDABLE


async def test_a_user_tops_up_by_external_wallet_and_pays_from_the_balance(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    identity_addr: str,
    bank_url: str,
) -> None:
    async with connect(identity_addr) as channel:
        user, _ = await _real_named(idpb_grpc.IdentityServiceStub(channel), bank_url)
    books = Books(ledger_stub, user)
    no_wallet = (
        await gateway_stub.CreatePayment(request(user, 100, pb.PAYMENT_METHOD_WALLET_BALANCE))
    ).payment
    assert (no_wallet.state, no_wallet.failure_reason) == (
        pb.Payment.STATE_FAILED,
        "WALLET_NOT_FOUND",
    )

    start = await books.read()
    top_up = (
        await gateway_stub.CreatePayment(
            request(user, 800, pb.PAYMENT_METHOD_ALIPAY, pb.PAYMENT_PURPOSE_TOP_UP)
        )
    ).payment
    assert top_up.state == pb.Payment.STATE_SUCCEEDED
    paid = (
        await gateway_stub.CreatePayment(request(user, 800, pb.PAYMENT_METHOD_WALLET_BALANCE))
    ).payment
    assert paid.state == pb.Payment.STATE_SUCCEEDED
    moved = {"wallet": 0, "merchant": 800, "clearing": 0}
    assert await books.moved(start, moved) == moved
    again = (
        await gateway_stub.CreatePayment(request(user, 1, pb.PAYMENT_METHOD_WALLET_BALANCE))
    ).payment
    assert again.failure_reason == "INSUFFICIENT_BALANCE"


async def test_a_user_without_real_name_may_top_up_but_not_spend_the_balance(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub, payer: str
) -> None:
    top_up = (
        await gateway_stub.CreatePayment(
            request(payer, 300, pb.PAYMENT_METHOD_WECHAT_PAY, pb.PAYMENT_PURPOSE_TOP_UP)
        )
    ).payment
    assert top_up.state == pb.Payment.STATE_SUCCEEDED
    spend = (
        await gateway_stub.CreatePayment(request(payer, 100, pb.PAYMENT_METHOD_WALLET_BALANCE))
    ).payment
    assert (spend.state, spend.failure_reason) == (pb.Payment.STATE_FAILED, "PAYER_LIMIT_EXCEEDED")


async def test_a_wallet_is_not_topped_up_from_itself(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await gateway_stub.CreatePayment(
            request(demo.USER_ID, 100, pb.PAYMENT_METHOD_WALLET_BALANCE, pb.PAYMENT_PURPOSE_TOP_UP)
        )
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in field_violations(caught.value)] == ["purpose"]


async def test_the_balance_channel_answers_from_the_ledger_idempotently(
    ledger_addr: str, ledger_stub: lpb_grpc.LedgerServiceAsyncStub
) -> None:
    async with connect(ledger_addr) as channel:
        balance = BalanceChannel(channel)
        wallet_ledger = GrpcLedger(channel)
        user = f"U{secrets.randbelow(10**8):08d}"
        await wallet_ledger.open_wallet(user, "CNY")
        await wallet_ledger.open_wallet(user, "CNY")  # opening twice changes nothing
        payment_id = f"pay_{secrets.token_hex(8)}"
        charge = ChannelCharge(payment_id, MoneyValue("CNY", 500), "", "", user)

        refused = await balance.charge(charge)
        assert (refused.outcome, refused.error_code) == (
            ChannelOutcome.FAILED,
            "INSUFFICIENT_BALANCE",
        )
        # A failed transfer id keeps its failure: a retry or a query says the same.
        assert (await balance.charge(charge)).error_code == "INSUFFICIENT_BALANCE"
        assert (await balance.query(payment_id)).error_code == "INSUFFICIENT_BALANCE"
        assert (await balance.query(f"pay_{secrets.token_hex(8)}")).error_code == (
            "ORDER_NOT_EXIST"
        )
        refused_refund = await balance.refund("rfd_x", payment_id, MoneyValue("CNY", 500))
        assert refused_refund.error_code == "PAYMENT_NOT_DEBITED"

        funding = f"fund_{secrets.token_hex(6)}"
        wallet = f"user.{user}.wallet.CNY"
        transfer = LedgerTransfer(
            funding, [LedgerPosting(CLEARING, wallet, MoneyValue("CNY", 700))], "test funding", {}
        )
        assert await wallet_ledger.post([transfer]) == {funding: "POSTED"}
        paid_charge = replace(charge, payment_id=f"pay_{secrets.token_hex(8)}")
        for _ in range(2):  # the same transfer id: debited once
            paid = await balance.charge(paid_charge)
            assert paid.outcome is ChannelOutcome.SUCCEEDED
        refund_id = f"rfd_{secrets.token_hex(6)}"
        for _ in range(2):
            back = await balance.refund(refund_id, paid_charge.payment_id, MoneyValue("CNY", 200))
            assert back.outcome is ChannelOutcome.SUCCEEDED
        account = await ledger_stub.GetAccount(lpb.GetAccountRequest(account_id=wallet))
        assert account.account.balance.minor_units == 700 - 500 + 200

"""Merchant settlement payouts (代付) through the in-process gateway, ledger and bank simulator:
paid from the merchant's payable to its bank account, refused, returned, listed."""

from __future__ import annotations

import secrets

import asyncpg
import grpc
import pytest

from devstack import seed
from paysuite import accounts
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.gateway.v1 import payouts_pb2 as ppb
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.runtime.grpc_errors import error_reason, field_violations
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from tests.helpers import connect, eventually
from tests.integration.conftest import Replica
from tests.integration.payout_support import (  # noqa: F401 (calm_bank: a fixture)
    account,
    bank_admin,
    bank_payouts,
    calm_bank,
    cny,
    ledger_transfers,
)

ACCOUNT = ppb.PayeeAccount(account_no="6222020200112345", account_name="Demo Shop Ltd")
CLOSED = ppb.PayeeAccount(account_no="6222020200110000", account_name="Gone Ltd")
PAID = {":hold": "pending_posted", ":payout": "posted", ":payout-fee": "posted"}
VOIDED = {":hold": "voided", ":void": "voided"}
OWED = 50_000


@pytest.fixture
async def merchant(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    ledger_addr: str,
) -> str:
    """A merchant of its own, owed OWED (as if its payments had been captured)."""
    merchant_id = f"M{secrets.randbelow(10**8):08d}"
    await gateway_stub.RegisterMerchant(
        pb.RegisterMerchantRequest(merchant=pb.Merchant(merchant_id=merchant_id, name="Shop"))
    )
    await seed.seed_ledger(ledger_addr, merchant_id)
    owed = lpb.TransferSpec(
        transfer_id=f"owed-{merchant_id}",
        description="captured payments",
        postings=[
            lpb.Posting(
                debit_account_id=accounts.channel_receivable("banksim", "CNY"),
                credit_account_id=payable(merchant_id),
                amount=cny(OWED),
            )
        ],
    )
    await ledger_stub.CreateTransfers(lpb.CreateTransfersRequest(transfers=[owed]))
    return merchant_id


def payable(merchant_id: str) -> str:
    return accounts.merchant_payable(merchant_id, "CNY")


def payout_request(
    merchant_id: str, amount: int, payee: ppb.PayeeAccount = ACCOUNT
) -> ppb.CreatePayoutRequest:
    return ppb.CreatePayoutRequest(
        request_id=f"po-{secrets.token_hex(8)}",
        merchant_id=merchant_id,
        amount=cny(amount),
        payee_account=payee,
        remark="settlement 2026-12-06",
    )


async def test_a_settlement_is_paid_to_the_merchants_account_from_its_payable(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    bank_url: str,
    merchant: str,
    db: asyncpg.Connection,
) -> None:
    ask = payout_request(merchant, 30_000)
    payout = (await gateway_stub.CreatePayout(ask)).payout
    assert (payout.state, payout.purpose, payout.merchant_id, payout.payee) == (
        ppb.Payout.STATE_SUCCEEDED,
        ppb.PAYOUT_PURPOSE_SETTLEMENT,
        merchant,
        "****2345",
    )
    [paid] = await bank_payouts(bank_url, payout.payout_id)
    assert (paid["code"], paid["amount"], paid["payee"]) == ("SUCCESS", 30_000, "account ****2345")
    assert await ledger_transfers(db, payout.payout_id, PAID) == PAID
    assert await account(ledger_stub, payable(merchant)) == (OWED - 30_000, OWED - 30_000)
    again = (await gateway_stub.CreatePayout(ask)).payout
    assert again == payout
    assert len(await bank_payouts(bank_url, payout.payout_id)) == 1
    stored = await db.fetchval(
        "SELECT count(*) FROM gateway.payouts WHERE payee LIKE '%6222020200112345%'"
    )
    assert stored == 0  # the account number is kept masked only


async def test_a_closed_account_fails_the_payout_and_the_payable_stays(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    merchant: str,
    db: asyncpg.Connection,
) -> None:
    failed = (await gateway_stub.CreatePayout(payout_request(merchant, 10_000, CLOSED))).payout
    assert (failed.state, failed.failure_reason) == (ppb.Payout.STATE_FAILED, "ACCOUNT_CLOSED")
    assert await ledger_transfers(db, failed.payout_id, VOIDED) == VOIDED
    assert await account(ledger_stub, payable(merchant)) == (OWED, OWED)


async def test_a_returned_settlement_is_owed_to_the_merchant_again(
    replica: Replica,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    bank_url: str,
    merchant: str,
    db: asyncpg.Connection,
) -> None:
    async with (
        replica(payout_returns_check_seconds=0.2) as address,
        connect(address) as channel,
    ):
        gateway = pb_grpc.GatewayServiceStub(channel)
        paid = (await gateway.CreatePayout(payout_request(merchant, OWED))).payout
        await ledger_transfers(db, paid.payout_id, PAID)
        assert await account(ledger_stub, payable(merchant)) == (0, 0)
        await bank_admin(
            bank_url,
            "POST",
            f"/_admin/payouts/{paid.payout_id}/return",
            {"reason": "ACCOUNT_FROZEN"},
        )

        async def returned() -> list[str]:
            found = await gateway.ListPayouts(
                ppb.ListPayoutsRequest(merchant_id=merchant, state=ppb.Payout.STATE_RETURNED)
            )
            return [p.return_reason for p in found.payouts]

        assert await eventually(returned, ["ACCOUNT_FROZEN"]) == ["ACCOUNT_FROZEN"]
        back = {**PAID, ":return": "posted"}
        assert await ledger_transfers(db, paid.payout_id, back) == back
        assert await account(ledger_stub, payable(merchant)) == (OWED, OWED)


async def test_payouts_are_listed_newest_first_a_page_at_a_time(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub, merchant: str
) -> None:
    made = [
        (await gateway_stub.CreatePayout(payout_request(merchant, amount, payee))).payout
        for amount, payee in ((100, ACCOUNT), (200, CLOSED), (300, ACCOUNT))
    ]
    first = await gateway_stub.ListPayouts(
        ppb.ListPayoutsRequest(merchant_id=merchant, page_size=2)
    )
    assert [p.payout_id for p in first.payouts] == [made[2].payout_id, made[1].payout_id]
    rest = await gateway_stub.ListPayouts(
        ppb.ListPayoutsRequest(merchant_id=merchant, page_size=2, page_token=first.next_page_token)
    )
    assert [p.payout_id for p in rest.payouts] == [made[0].payout_id]
    assert rest.next_page_token == ""
    failed = await gateway_stub.ListPayouts(
        ppb.ListPayoutsRequest(merchant_id=merchant, state=ppb.Payout.STATE_FAILED)
    )
    assert [p.payout_id for p in failed.payouts] == [made[1].payout_id]
    settlements = await gateway_stub.ListPayouts(
        ppb.ListPayoutsRequest(purpose=ppb.PAYOUT_PURPOSE_SETTLEMENT, page_size=500)
    )
    assert {p.payout_id for p in made} <= {p.payout_id for p in settlements.payouts}
    with pytest.raises(grpc.aio.AioRpcError) as other_filters:
        await gateway_stub.ListPayouts(
            ppb.ListPayoutsRequest(
                merchant_id=merchant,
                page_size=2,
                page_token=first.next_page_token,
                state=ppb.Payout.STATE_SUCCEEDED,
            )
        )
    assert [f for f, _ in field_violations(other_filters.value)] == ["page_token"]
    with pytest.raises(grpc.aio.AioRpcError) as mixed:
        await gateway_stub.ListPayouts(
            ppb.ListPayoutsRequest(
                merchant_id=merchant, user_id="U1", purpose=ppb.PAYOUT_PURPOSE_WITHDRAWAL
            )
        )
    assert [f for f, _ in field_violations(mixed.value)] == ["user_id", "purpose"]


async def test_payout_requests_are_checked(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub, merchant: str, db: asyncpg.Connection
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await gateway_stub.CreatePayout(
            ppb.CreatePayoutRequest(
                request_id="r-1",
                merchant_id=merchant,
                amount=cny(0),
                payee_account=ppb.PayeeAccount(account_no="12ab", account_name=" "),
            )
        )
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(caught.value)] == [
        "amount.minor_units",
        "payee_account.account_no",
        "payee_account.account_name",
    ]
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await gateway_stub.CreatePayout(payout_request("M_NOBODY", 100))
    assert error_reason(unknown.value) == ErrorReason.ERROR_REASON_MERCHANT_NOT_FOUND
    assert (
        await db.fetchval("SELECT count(*) FROM gateway.payouts WHERE owner_id = 'M_NOBODY'") == 0
    )
    settlement = (await gateway_stub.CreatePayout(payout_request(merchant, 100))).payout
    with pytest.raises(grpc.aio.AioRpcError) as not_a_withdrawal:
        await gateway_stub.GetWithdrawal(
            ppb.GetWithdrawalRequest(withdrawal_id=settlement.payout_id)
        )
    assert error_reason(not_a_withdrawal.value) == ErrorReason.ERROR_REASON_PAYOUT_NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await gateway_stub.GetPayout(ppb.GetPayoutRequest(payout_id="po_nothing"))
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND

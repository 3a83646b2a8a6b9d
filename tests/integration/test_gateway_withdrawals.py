"""Wallet withdrawals (提现) through the in-process gateway, identity, ledger and bank simulator,
with each of the bank's payout faults dialled: nothing lost, nothing paid twice."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import grpc
import pytest

from paysuite import accounts
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.gateway.v1 import payouts_pb2 as ppb
from paysuite.identity.v1 import identity_service_pb2 as idpb
from paysuite.identity.v1 import identity_service_pb2_grpc as idpb_grpc
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.runtime.grpc_errors import error_reason, field_violations
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from tests.helpers import connect, eventually
from tests.integration.conftest import Replica
from tests.integration.payout_support import (  # noqa: F401 (calm_bank: a fixture)
    CALM,
    account,
    bank_admin,
    bank_payouts,
    calm_bank,
    ledger_transfers,
    limit_state,
    nudge,
    settled,
    user_with_money,
    withdrawal_request,
)

FEE = 100  # the bank simulator's flat fee per payout
PAID = {":hold": "pending_posted", ":payout": "posted", ":payout-fee": "posted"}
VOIDED = {":hold": "voided", ":void": "voided"}


@pytest.fixture
async def user(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub, identity_addr: str, bank_url: str
) -> str:
    return await user_with_money(gateway_stub, identity_addr, bank_url, 10_000)


def wallet(user: str) -> str:
    return accounts.user_wallet(user, "CNY")


async def faults(bank_url: str, **dialled: Any) -> None:
    await bank_admin(bank_url, "POST", "/_admin/faults", dialled)


async def test_a_withdrawal_pays_the_bound_card_and_debits_the_wallet_once(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    bank_url: str,
    user: str,
    db: asyncpg.Connection,
) -> None:
    payouts_before = await account(ledger_stub, "channel.banksim.payouts.CNY")
    ask = withdrawal_request(user, 3_000)
    withdrawal = (await gateway_stub.CreateWithdrawal(ask)).withdrawal
    assert (withdrawal.state, withdrawal.user_id, withdrawal.amount.minor_units) == (
        ppb.Payout.STATE_SUCCEEDED,
        user,
        3_000,
    )
    assert withdrawal.card_id.startswith("card_") and len(withdrawal.trace_id) == 32
    [paid] = await bank_payouts(bank_url, withdrawal.withdrawal_id)
    assert (paid["code"], paid["amount"], paid["fee"]) == ("SUCCESS", 3_000, FEE)
    assert paid["payee"].startswith("agreement ****")

    assert await ledger_transfers(db, withdrawal.withdrawal_id, PAID) == PAID
    assert await account(ledger_stub, wallet(user)) == (7_000, 7_000)
    moved = await account(ledger_stub, "channel.banksim.payouts.CNY")
    assert moved[0] - payouts_before[0] == 3_000 + FEE
    assert await eventually(lambda: limit_state(db, withdrawal.withdrawal_id), "committed")

    # The same request again (a retry): the same withdrawal, nothing paid or debited again.
    again = (await gateway_stub.CreateWithdrawal(ask)).withdrawal
    assert (again.withdrawal_id, again.state) == (withdrawal.withdrawal_id, withdrawal.state)
    assert len(await bank_payouts(bank_url, withdrawal.withdrawal_id)) == 1
    assert await account(ledger_stub, wallet(user)) == (7_000, 7_000)

    got = await gateway_stub.GetWithdrawal(
        ppb.GetWithdrawalRequest(withdrawal_id=withdrawal.withdrawal_id)
    )
    assert got.withdrawal == withdrawal
    payout = (
        await gateway_stub.GetPayout(ppb.GetPayoutRequest(payout_id=withdrawal.withdrawal_id))
    ).payout
    assert (payout.purpose, payout.user_id, payout.channel) == (
        ppb.PAYOUT_PURPOSE_WITHDRAWAL,
        user,
        "banksim",
    )
    assert (payout.channel_transaction_id, payout.channel_fee.minor_units) == (
        paid["payout_no"],
        FEE,
    )
    listed = await gateway_stub.ListPayouts(ppb.ListPayoutsRequest(user_id=user))
    assert [p.payout_id for p in listed.payouts] == [withdrawal.withdrawal_id]


async def test_more_than_the_wallet_holds_is_refused_before_the_bank(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    bank_url: str,
    user: str,
    db: asyncpg.Connection,
) -> None:
    refused = (await gateway_stub.CreateWithdrawal(withdrawal_request(user, 10_001))).withdrawal
    assert (refused.state, refused.failure_reason) == (
        ppb.Payout.STATE_FAILED,
        "INSUFFICIENT_BALANCE",
    )
    assert await bank_payouts(bank_url, refused.withdrawal_id) == []
    assert await eventually(lambda: limit_state(db, refused.withdrawal_id), "released")
    assert await ledger_transfers(db, refused.withdrawal_id, {":hold": "failed"}) == {
        ":hold": "failed"
    }
    assert await account(ledger_stub, wallet(user)) == (10_000, 10_000)


async def test_a_user_without_a_bound_card_is_refused_by_identity(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub, payer: str, db: asyncpg.Connection
) -> None:
    refused = (await gateway_stub.CreateWithdrawal(withdrawal_request(payer, 100))).withdrawal
    assert refused.state == ppb.Payout.STATE_FAILED
    assert refused.failure_reason.startswith("PAYER_")
    assert await limit_state(db, refused.withdrawal_id) == ""
    assert await ledger_transfers(db, refused.withdrawal_id, {}) == {}


async def test_a_payout_the_bank_declines_voids_the_hold(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    bank_url: str,
    user: str,
    db: asyncpg.Connection,
) -> None:
    await faults(bank_url, payout_decline_rate=1)
    declined = (await gateway_stub.CreateWithdrawal(withdrawal_request(user, 4_000))).withdrawal
    assert (declined.state, declined.failure_reason) == (
        ppb.Payout.STATE_FAILED,
        "ACCOUNT_ABNORMAL",
    )
    [refused] = await bank_payouts(bank_url, declined.withdrawal_id)
    assert refused["code"] == "FAIL"
    assert await ledger_transfers(db, declined.withdrawal_id, VOIDED) == VOIDED
    assert await account(ledger_stub, wallet(user)) == (10_000, 10_000)
    assert await eventually(lambda: limit_state(db, declined.withdrawal_id), "released")


@pytest.mark.parametrize(
    "dial",
    [
        pytest.param({"payout_timeout_rate": 1, "timeout_sleep_ms": 3_000}, id="timed-out"),
        pytest.param({"payout_processing_rate": 1, "payout_processing_ms": 1_000}, id="processing"),
    ],
)
async def test_a_payout_without_a_definite_answer_is_held_until_the_janitor_finds_it_paid(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    bank_url: str,
    user: str,
    db: asyncpg.Connection,
    dial: dict[str, int],
) -> None:
    await faults(bank_url, **dial)
    pending = (await gateway_stub.CreateWithdrawal(withdrawal_request(user, 2_500))).withdrawal
    assert pending.state == ppb.Payout.STATE_UNKNOWN
    # Held, not debited: the money is neither spendable nor gone until the bank says.
    assert await account(ledger_stub, wallet(user)) == (10_000, 7_500)
    assert await limit_state(db, pending.withdrawal_id) == "reserved"
    await faults(bank_url, **CALM)
    await nudge(db, pending.withdrawal_id)
    paid = await settled(gateway_stub, pending.withdrawal_id)
    assert paid.state == ppb.Payout.STATE_SUCCEEDED
    assert len(await bank_payouts(bank_url, pending.withdrawal_id)) == 1
    assert await ledger_transfers(db, pending.withdrawal_id, PAID) == PAID
    assert await account(ledger_stub, wallet(user)) == (7_500, 7_500)
    assert await eventually(lambda: limit_state(db, pending.withdrawal_id), "committed")


async def test_a_payout_the_bank_never_got_fails_once_it_cannot_arrive_any_more(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    bank_url: str,
    user: str,
    db: asyncpg.Connection,
) -> None:
    await faults(bank_url, error_rate=1)  # 503 before the bank reads the request
    lost = (await gateway_stub.CreateWithdrawal(withdrawal_request(user, 600))).withdrawal
    assert lost.state == ppb.Payout.STATE_UNKNOWN
    await faults(bank_url, error_rate=0)
    # "No such payout" proves nothing while the instruction may still arrive: asked again later.
    await nudge(db, lost.withdrawal_id)
    await asyncio.sleep(1.5)
    assert (
        await gateway_stub.GetPayout(ppb.GetPayoutRequest(payout_id=lost.withdrawal_id))
    ).payout.state == ppb.Payout.STATE_UNKNOWN
    await db.execute(
        "UPDATE gateway.payouts SET created_at = created_at - interval '2 minutes', "
        "next_query_at = now() WHERE payout_id = $1",
        lost.withdrawal_id,
    )
    failed = await settled(gateway_stub, lost.withdrawal_id)
    assert (failed.state, failed.failure_reason) == (ppb.Payout.STATE_FAILED, "ORDER_NOT_EXIST")
    assert await bank_payouts(bank_url, lost.withdrawal_id) == []
    assert await ledger_transfers(db, lost.withdrawal_id, VOIDED) == VOIDED
    assert await account(ledger_stub, wallet(user)) == (10_000, 10_000)


async def _used(identity_addr: str, user: str) -> dict[str, int]:
    """What each of the user's limit windows has used, by kind."""
    async with connect(identity_addr) as channel:
        found = await idpb_grpc.IdentityServiceStub(channel).GetLimits(
            idpb.GetLimitsRequest(user_id=user)
        )
    return {w.kind: w.used.minor_units for w in found.limits}


async def test_a_returned_payout_puts_the_money_back_in_the_wallet(
    replica: Replica,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    bank_url: str,
    identity_addr: str,
    user: str,
    db: asyncpg.Connection,
) -> None:
    before = await _used(identity_addr, user)
    async with (
        replica(payout_returns_check_seconds=0.2) as address,
        connect(address) as channel,
    ):
        gateway = pb_grpc.GatewayServiceStub(channel)
        paid = (await gateway.CreateWithdrawal(withdrawal_request(user, 5_000))).withdrawal
        assert paid.state == ppb.Payout.STATE_SUCCEEDED
        await ledger_transfers(db, paid.withdrawal_id, PAID)
        assert await eventually(lambda: limit_state(db, paid.withdrawal_id), "committed")
        assert await _used(identity_addr, user) != before  # the withdrawal used its limits
        assert await account(ledger_stub, wallet(user)) == (5_000, 5_000)
        await bank_admin(bank_url, "POST", f"/_admin/payouts/{paid.withdrawal_id}/return", {})

        async def state() -> ppb.Payout.State.ValueType:
            got = await gateway.GetWithdrawal(
                ppb.GetWithdrawalRequest(withdrawal_id=paid.withdrawal_id)
            )
            return got.withdrawal.state

        assert await eventually(state, ppb.Payout.STATE_RETURNED) == ppb.Payout.STATE_RETURNED
        back = {**PAID, ":return": "posted"}
        assert await ledger_transfers(db, paid.withdrawal_id, back) == back
        assert await account(ledger_stub, wallet(user)) == (10_000, 10_000)
        # The money never left the user: the daily limits it used are given back.
        assert await eventually(lambda: limit_state(db, paid.withdrawal_id), "returned")
        assert await _used(identity_addr, user) == before
        payout = (
            await gateway.GetPayout(ppb.GetPayoutRequest(payout_id=paid.withdrawal_id))
        ).payout
        assert payout.return_reason == "ACCOUNT_CLOSED" and payout.return_time.seconds
        returned = await gateway.ListPayouts(
            ppb.ListPayoutsRequest(user_id=user, state=ppb.Payout.STATE_RETURNED)
        )
        assert [p.payout_id for p in returned.payouts] == [paid.withdrawal_id]

        # The return dial: paid, then back a little later, by itself.
        await faults(bank_url, payout_return_rate=1, payout_return_after_ms=300)
        dialled = (await gateway.CreateWithdrawal(withdrawal_request(user, 1_000))).withdrawal
        assert dialled.state == ppb.Payout.STATE_SUCCEEDED

        async def dialled_state() -> ppb.Payout.State.ValueType:
            got = await gateway.GetWithdrawal(
                ppb.GetWithdrawalRequest(withdrawal_id=dialled.withdrawal_id)
            )
            return got.withdrawal.state

        assert await eventually(dialled_state, ppb.Payout.STATE_RETURNED, 10) == (
            ppb.Payout.STATE_RETURNED
        )
        await ledger_transfers(db, dialled.withdrawal_id, back)
        assert await account(ledger_stub, wallet(user)) == (10_000, 10_000)
        assert await eventually(lambda: limit_state(db, dialled.withdrawal_id), "returned")
        assert await _used(identity_addr, user) == before


async def test_withdrawal_requests_are_checked(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub, user: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await gateway_stub.CreateWithdrawal(
            ppb.CreateWithdrawalRequest(request_id="", user_id=user, auth_factors=9)
        )
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(caught.value)] == [
        "request_id",
        "amount",
        "auth_factors",
    ]
    ask = withdrawal_request(user, 100)
    await gateway_stub.CreateWithdrawal(ask)
    ask.amount.minor_units = 101
    with pytest.raises(grpc.aio.AioRpcError) as reused:
        await gateway_stub.CreateWithdrawal(ask)
    assert error_reason(reused.value) == ErrorReason.ERROR_REASON_REQUEST_ID_REUSED
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await gateway_stub.GetWithdrawal(ppb.GetWithdrawalRequest(withdrawal_id="po_nothing"))
    assert error_reason(missing.value) == ErrorReason.ERROR_REASON_PAYOUT_NOT_FOUND

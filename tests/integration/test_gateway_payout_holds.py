"""A payout's hold on the account it is paid from, through the in-process gateway, ledger and
bank simulator: never more than the merchant has (its payable itself may run below zero), and
a void the outbox sends before its hold reached the ledger keeps the hold from landing later."""

from __future__ import annotations

import asyncio
import json
import secrets

import asyncpg

from paysuite import accounts
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.gateway.v1 import payouts_pb2 as ppb
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from tests.integration import test_gateway_payouts
from tests.integration.payout_support import (  # noqa: F401 (calm_bank: a fixture)
    account,
    bank_payouts,
    calm_bank,
    cny,
    ledger_transfers,
)
from tests.integration.test_gateway_payouts import OWED, VOIDED, payable, payout_request

# A merchant of its own, owed OWED: the payouts tests' fixture.
merchant = test_gateway_payouts.merchant

CLAIMED = {":hold": "voided", ":void": "failed", ":void:claimed": "voided"}


async def test_a_payout_bigger_than_the_payable_is_refused_and_the_bank_never_asked(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    bank_url: str,
    merchant: str,
    db: asyncpg.Connection,
) -> None:
    refused = (await gateway_stub.CreatePayout(payout_request(merchant, OWED + 1))).payout
    assert (refused.state, refused.failure_reason) == (
        ppb.Payout.STATE_FAILED,
        "INSUFFICIENT_BALANCE",
    )
    assert await ledger_transfers(db, refused.payout_id, VOIDED) == VOIDED
    assert await bank_payouts(bank_url, refused.payout_id) == []
    assert await account(ledger_stub, payable(merchant)) == (OWED, OWED)
    paid = (await gateway_stub.CreatePayout(payout_request(merchant, OWED))).payout
    assert paid.state == ppb.Payout.STATE_SUCCEEDED  # all of it, to the last fen, is payable


async def test_payouts_asked_together_never_take_the_payable_below_zero(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    merchant: str,
) -> None:
    share = OWED * 3 // 5  # two of them are more than is owed
    answers = await asyncio.gather(
        *(gateway_stub.CreatePayout(payout_request(merchant, share)) for _ in range(4))
    )
    paid = [a.payout for a in answers if a.payout.state == ppb.Payout.STATE_SUCCEEDED]
    assert len(paid) <= 1
    assert {
        a.payout.failure_reason for a in answers if a.payout.state != ppb.Payout.STATE_SUCCEEDED
    } == {"INSUFFICIENT_BALANCE"}

    async def left() -> tuple[int, int]:
        return await account(ledger_stub, payable(merchant))

    expected = OWED - share * len(paid)
    async with asyncio.timeout(10):  # the refused ones' holds are voided by the outbox
        while await left() != (expected, expected):
            await asyncio.sleep(0.05)


async def test_a_void_sent_before_its_hold_keeps_the_late_hold_from_landing(
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    merchant: str,
    db: asyncpg.Connection,
) -> None:
    """A payout's hold timed out on its way to the ledger, so the payout failed and its void
    went into the outbox; the relay sends the void before the hold arrives."""
    payout_id = f"po_late_{secrets.token_hex(6)}"
    hold_id = f"{payout_id}:hold"
    postings = [[payable(merchant), accounts.channel_payouts("banksim", "CNY"), "CNY", 20_000]]
    metadata = {"payout_id": payout_id, "purpose": "settlement"}
    hold = {"description": "payout hold", "metadata": metadata, "postings": postings}
    await db.execute(
        "INSERT INTO gateway.outbox (kind, idempotency_key, payload, traceparent, attempts,"
        " last_error, created_at, next_attempt_at)"
        " VALUES ('ledger_void_pending', $1, $2::jsonb, '', 0, '', now(), now())",
        f"{payout_id}:void",
        json.dumps({"pending_transfer_id": hold_id, "hold": hold}),
    )
    # The first void found no hold (the ledger keeps that answer): the relay made the hold
    # and voided it by a transfer of its own.
    assert await ledger_transfers(db, payout_id, CLAIMED) == CLAIMED
    late = lpb.TransferSpec(
        transfer_id=hold_id,
        description="payout hold",
        metadata=metadata,
        pending=True,
        postings=[
            lpb.Posting(
                debit_account_id=payable(merchant),
                credit_account_id=accounts.channel_payouts("banksim", "CNY"),
                amount=cny(20_000),
            )
        ],
    )
    [result] = (
        await ledger_stub.CreateTransfers(lpb.CreateTransfersRequest(transfers=[late]))
    ).results
    assert result.result != lpb.CREATE_TRANSFER_RESULT_PENDING  # no second hold under the id
    assert await ledger_transfers(db, payout_id, CLAIMED) == CLAIMED
    assert await account(ledger_stub, payable(merchant)) == (OWED, OWED)

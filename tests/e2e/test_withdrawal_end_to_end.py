"""A wallet withdrawal through real processes and payctl: the demo user tops up by card,
withdraws to the bound card, the bank shows the payout, the wallet is debited once."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import asyncpg

from devstack import demo
from devstack.stack import Stack
from paysuite.runtime.dsn import plain_postgres_url
from tests.e2e.payctl_run import MERCHANT, payctl


async def _wallet(stack: Stack) -> int:
    answer = await asyncio.to_thread(payctl, stack, "balance", "--user", demo.USER_ID)
    balance: int = answer["minor_units"]
    return balance


async def _bank_payouts(stack: Stack) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(stack.config.bank_url + "/_admin/payouts") as response,
    ):
        assert response.status == 200
        found: list[dict[str, Any]] = await response.json()
        return found


async def test_a_user_tops_up_and_withdraws_to_the_bound_card(stack: Stack) -> None:
    top_up = await asyncio.to_thread(
        payctl,
        stack,
        "pay",
        "--merchant",
        demo.MERCHANT_ID,
        "--user",
        demo.USER_ID,
        "--amount",
        "50.00",
        "--top-up",
        as_=MERCHANT,
    )
    assert top_up["state"] == "STATE_SUCCEEDED"
    before = await _wallet(stack)
    assert before >= 5_000

    withdrawal = await asyncio.to_thread(
        payctl, stack, "withdraw", "--user", demo.USER_ID, "--amount", "20.00"
    )
    assert withdrawal["state"] == "STATE_SUCCEEDED", withdrawal
    withdrawal_id = withdrawal["withdrawal_id"]

    [paid] = [p for p in await _bank_payouts(stack) if p["out_payout_no"] == withdrawal_id]
    assert (paid["code"], paid["amount"]) == ("SUCCESS", 2_000)

    conn = await asyncpg.connect(plain_postgres_url(stack.config.database_url))
    try:
        # The hold is posted through the outbox moments after the answer.
        async with asyncio.timeout(15):
            while (
                await conn.fetchval(
                    "SELECT state FROM ledger.transfers WHERE transfer_id = $1",
                    f"{withdrawal_id}:hold",
                )
                != "pending_posted"
            ):
                await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)  # and nothing more arrives
        transfers = await conn.fetch(
            "SELECT transfer_id, state FROM ledger.transfers WHERE transfer_id LIKE $1 "
            "ORDER BY transfer_id",
            f"{withdrawal_id}:%",
        )
    finally:
        await conn.close()
    assert [(t["transfer_id"].removeprefix(withdrawal_id), t["state"]) for t in transfers] == [
        (":hold", "pending_posted"),
        (":payout", "posted"),
        (":payout-fee", "posted"),
    ]
    assert await _wallet(stack) == before - 2_000

    listed = await asyncio.to_thread(payctl, stack, "payouts", "--user", demo.USER_ID)
    [shown] = [p for p in listed["payouts"] if p["payout_id"] == withdrawal_id]
    assert (shown["state"], shown["purpose"]) == ("STATE_SUCCEEDED", "PAYOUT_PURPOSE_WITHDRAWAL")

"""Shared by the payout tests: the bank's payout side, a user with money to withdraw, the books."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest

from devstack import demo
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.gateway.v1 import payouts_pb2 as ppb
from paysuite.identity.v1 import identity_service_pb2_grpc as idpb_grpc
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect
from tests.integration.test_identity_kyc import _real_named

CALM = {
    "payout_decline_rate": 0,
    "payout_timeout_rate": 0,
    "payout_processing_rate": 0,
    "payout_return_rate": 0,
    "timeout_sleep_ms": 30_000,
    "error_rate": 0,
}
OPEN = (ppb.Payout.STATE_PROCESSING, ppb.Payout.STATE_UNKNOWN)


@pytest.fixture(autouse=True)
async def calm_bank(bank_url: str) -> AsyncIterator[None]:
    """Import it into a test module to turn the bank's payout faults off after each test."""
    yield
    await bank_admin(bank_url, "POST", "/_admin/faults", CALM)


def cny(minor_units: int) -> Money:
    return Money(currency_code="CNY", minor_units=minor_units)


async def bank_admin(bank_url: str, method: str, path: str, payload: Any = None) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, bank_url + path, json=payload) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


async def bank_payouts(bank_url: str, payout_id: str) -> list[dict[str, Any]]:
    """What the bank paid (or refused) under this payout id: one item at most."""
    found: list[dict[str, Any]] = await bank_admin(bank_url, "GET", "/_admin/payouts")
    return [p for p in found if p["out_payout_no"] == payout_id]


async def card_payer(identity_addr: str, bank_url: str) -> str:
    """A fresh real-named user with a bound card: a payer whose limits no other test spends."""
    async with connect(identity_addr) as channel:
        user, _ = await _real_named(idpb_grpc.IdentityServiceStub(channel), bank_url)
    return user


async def user_with_money(
    gateway: pb_grpc.GatewayServiceAsyncStub, identity_addr: str, bank_url: str, amount: int
) -> str:
    """A fresh real-named user with a bound card, their wallet topped up by card."""
    user = await card_payer(identity_addr, bank_url)
    top_up = await gateway.CreatePayment(
        pb.CreatePaymentRequest(
            request_id=f"top-{secrets.token_hex(8)}",
            merchant_id=demo.MERCHANT_ID,
            merchant_order_no=f"TOP-{secrets.token_hex(6)}",
            amount=cny(amount),
            method=pb.PAYMENT_METHOD_BANK_CARD,
            payer_user_id=user,
            purpose=pb.PAYMENT_PURPOSE_TOP_UP,
        )
    )
    assert top_up.payment.state == pb.Payment.STATE_SUCCEEDED
    return user


def withdrawal_request(user: str, amount: int, **fields: Any) -> ppb.CreateWithdrawalRequest:
    return ppb.CreateWithdrawalRequest(
        request_id=f"wd-{secrets.token_hex(8)}", user_id=user, amount=cny(amount), **fields
    )


async def account(ledger: lpb_grpc.LedgerServiceAsyncStub, account_id: str) -> tuple[int, int]:
    """(balance, available balance) of an account; a hold lowers only the second."""
    found = (await ledger.GetAccount(lpb.GetAccountRequest(account_id=account_id))).account
    return found.balance.minor_units, found.available_balance.minor_units


async def settled(
    gateway: pb_grpc.GatewayServiceAsyncStub, payout_id: str, timeout: float = 20.0
) -> ppb.Payout:
    """The payout once the bank has answered it definitely."""
    async with asyncio.timeout(timeout):
        while True:
            payout = (await gateway.GetPayout(ppb.GetPayoutRequest(payout_id=payout_id))).payout
            if payout.state not in OPEN:
                return payout
            await asyncio.sleep(0.1)


async def ledger_transfers(
    db: asyncpg.Connection, payout_id: str, expected: dict[str, str], timeout: float = 10.0
) -> dict[str, str]:
    """The payout's ledger transfers and their states, once they are as expected (the outbox
    delivers them just after the answer), and nothing more arrives."""
    sql = "SELECT transfer_id, state FROM ledger.transfers WHERE transfer_id LIKE $1"

    async def read() -> dict[str, str]:
        rows = await db.fetch(sql, f"{payout_id}:%")
        return {r["transfer_id"].removeprefix(payout_id): r["state"] for r in rows}

    async with asyncio.timeout(timeout):
        while await read() != expected:
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    return await read()


async def limit_state(db: asyncpg.Connection, payout_id: str) -> str:
    """The payout's limit reservation in identity: reserved, committed, released, returned; ""
    if none."""
    state: str | None = await db.fetchval(
        "SELECT state FROM identity.limit_usages WHERE payment_id = $1", payout_id
    )
    return state or ""


async def nudge(db: asyncpg.Connection, payout_id: str) -> None:
    """Brings the payout's next query forward to now (instead of waiting 5 s)."""
    await db.execute(
        "UPDATE gateway.payouts SET next_query_at = now() WHERE payout_id = $1", payout_id
    )

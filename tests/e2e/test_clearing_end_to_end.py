"""Clearing and settlement on the real suite: a day of card and wallet payments and refunds for
the demo merchant, the ledger's day cut and closed, every channel's day reconciled (what other
tests left open accepted by a write-off), then `payctl settle run`: the bank simulator paid the
demo merchant exactly its payments - refunds - fees of the day, and its payable is zero. The
demo merchant is settled D+0, so the platform advanced the payout of its own funds; once every
channel's money of the day is paid into the reserve account, `payctl recon reserve` repays the
advance, once.

It cuts the shared suite's ledger day, so it runs last (before the ledger's own day-cut test,
which cuts whatever day is current then)."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from devstack import demo
from devstack.stack import Stack
from paysuite import accounts
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.type.v1.money_pb2 import Money
from tests.e2e.payctl_run import payctl

CHANNELS = ("banksim", "alipaysim", "wechatsim")
METHODS = (gpb.PAYMENT_METHOD_BANK_CARD, gpb.PAYMENT_METHOD_ALIPAY, gpb.PAYMENT_METHOD_WECHAT_PAY)


def _iso(value: dict[str, int]) -> str:
    return f"{value['year']:04d}-{value['month']:02d}-{value['day']:02d}"


async def _day_of_payments(
    gateway: gpb_grpc.GatewayServiceAsyncStub, refunded_ones: slice = slice(2)
) -> tuple[int, int, set[str]]:
    """Card and wallet payments for the demo merchant and a refund of two (those of
    refunded_ones: the first two unless told, a card's and an Alipay one's); (paid, refunded,
    the ids of the payments and refunds)."""
    paid, refunded, refund_ids = [], 0, set()
    for n, method in enumerate(METHODS * 2):
        answer = await gateway.CreatePayment(
            gpb.CreatePaymentRequest(
                request_id=f"e2e-st-{secrets.token_hex(8)}",
                merchant_id=demo.MERCHANT_ID,
                merchant_order_no=f"E2E-ST-{secrets.token_hex(6)}",
                amount=Money(currency_code="CNY", minor_units=3_000 + n),
                method=method,
                payer_user_id=demo.USER_ID,
            )
        )
        assert answer.payment.state == gpb.Payment.STATE_SUCCEEDED
        paid.append(answer.payment)
    for payment in paid[refunded_ones]:
        refund = await gateway.RefundPayment(
            gpb.RefundPaymentRequest(
                request_id=f"e2e-sr-{secrets.token_hex(6)}",
                payment_id=payment.payment_id,
                amount=Money(currency_code="CNY", minor_units=1_000),
                reason="customer asked",
            )
        )
        assert refund.refund.state == gpb.Refund.STATE_SUCCEEDED
        refunded += 1_000
        refund_ids.add(refund.refund.refund_id)
    ids = {p.payment_id for p in paid} | refund_ids
    return sum(p.amount.minor_units for p in paid), refunded, ids


async def _balance(ledger: lpb_grpc.LedgerServiceAsyncStub, account_id: str) -> int:
    answer = await ledger.GetAccount(lpb.GetAccountRequest(account_id=account_id))
    return answer.account.balance.minor_units


async def _settled(ledger: lpb_grpc.LedgerServiceAsyncStub, account_id: str) -> int:
    """The account's balance once the outbox stops moving it (postings follow answers)."""
    last = await _balance(ledger, account_id)
    async with asyncio.timeout(30):
        while True:
            await asyncio.sleep(1)
            now = await _balance(ledger, account_id)
            if now == last:
                return now
            last = now


def _cut_and_close(stack: Stack, day: str) -> None:
    """Cuts the ledger's day when it is still the business date, and closes it."""
    current = payctl(stack, "ledger", "business-date")
    if _iso(current["business_date"]) == day:
        payctl(stack, "ledger", "day-cut", "--expect", day)
    report = payctl(stack, "ledger", "day-end", day)
    assert report["balanced"] is True


def _reconcile_and_accept(stack: Stack, day: str) -> set[str]:
    """Reconciles each channel's day; what is left open (other tests' planted faults) is
    accepted by a write-off, as an operator would after review; the ids written off."""
    written_off: set[str] = set()
    recon = ("--recon", stack.config.addr("recon"))
    for channel in CHANNELS:
        run = payctl(stack, "recon", "run", "--channel", channel, "--date", day, *recon)
        assert run["state"] == "completed", run["failure"]
        listed = payctl(
            stack, "recon", "list", "--channel", channel, "--date", day, "--open", *recon
        )
        for found in listed["discrepancies"]:
            written_off.add(found["transaction_id"])
            payctl(
                stack,
                "recon",
                "resolve",
                found["discrepancy_id"],
                "--action",
                "write-off",
                "--reason",
                "accepted for clearing",
                "--approver",
                "e2e-ops",
                *recon,
            )
    return written_off


async def _bank_payout(stack: Stack, payout_id: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{stack.config.bank_url}/_admin/payouts") as response,
    ):
        assert response.status == 200
        found = [p for p in await response.json() if p["out_payout_no"] == payout_id]
    assert len(found) == 1, found
    payout: dict[str, Any] = found[0]
    return payout


@pytest.mark.moves_business_date
async def test_a_day_is_cleared_and_the_demo_merchant_paid_its_net_through_the_bank(
    stack: Stack,
) -> None:
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    day = today.isoformat()
    payable = accounts.merchant_payable(demo.MERCHANT_ID, "CNY")
    async with (
        stack.channel("gateway", f"merchant-{demo.MERCHANT_ID}") as gateway_channel,
        stack.channel("ledger") as ledger_channel,
    ):
        gateway = gpb_grpc.GatewayServiceStub(gateway_channel)
        ledger = lpb_grpc.LedgerServiceStub(ledger_channel)
        paid, refunded, ids = await _day_of_payments(gateway)
        owed = await _settled(ledger, payable)
        _cut_and_close(stack, day)
        # Every bill lists this test's payments and refunds (the card refund on the bank's).
        assert not _reconcile_and_accept(stack, day) & ids
        recon = ("--recon", stack.config.addr("recon"))
        # As on `make run`: the seed settles the demo merchant D+0 to its bank account, so the
        # run pays it today, whatever the weekday, with no settings to make first.
        settings = payctl(stack, "settle", "settings", demo.MERCHANT_ID, *recon)
        assert settings["advance"] is True and settings["account_no"].endswith("2345")
        batch = payctl(stack, "settle", "run", "--date", day, *recon)
        [line] = [m for m in batch["merchants"] if m["merchant_id"] == demo.MERCHANT_ID]
        assert line["payments_minor_units"] >= paid and line["refunds_minor_units"] >= refunded
        net = line["net_minor_units"]
        assert net == (
            line["payments_minor_units"]
            - line["refunds_minor_units"]
            - line["fees_minor_units"]
            + line["adjustments_minor_units"]
        )
        assert net == owed  # everything the day put on the payable, and nothing else
        assert line["payout_state"] == "SUCCEEDED"
        [payout] = [p for p in batch["payouts"] if p["merchant_id"] == demo.MERCHANT_ID]
        bank = await _bank_payout(stack, payout["payout_id"])
        assert (bank["code"], bank["amount"]) == ("SUCCESS", net)
        assert await _balance(ledger, payable) == 0
        settling = accounts.merchant_settling(demo.MERCHANT_ID, "CNY")
        assert await _settled(ledger, settling) == 0
        again = payctl(stack, "settle", "run", "--date", day, *recon)
        assert [p["payout_id"] for p in again["payouts"]] == [
            p["payout_id"] for p in batch["payouts"]
        ]
        await _bank_payout(stack, payout["payout_id"])  # still the one payout
        statement = payctl_text(stack, batch["batch_id"], recon)
        assert payout["payout_id"] in statement
        await _advance_repaid_once(stack, ledger, payout, day)
    assert date.fromisoformat(batch["trade_date"]) == today


async def _pay_in(stack: Stack, channel: str, day: str) -> None:
    """The channel's takings of the day paid into the reserve account now: the bank's own as
    acquirer, a wallet's by the wallet."""
    if channel == "banksim":
        url, payload = f"{stack.config.bank_url}/_admin/reserve/settlements", {"business_date": day}
    else:
        url, payload = f"{stack.config.simulator_url(channel)}/_admin/settlements/{day}", None
    async with aiohttp.ClientSession() as session, session.post(url, json=payload) as response:
        assert response.status == 201, await response.text()


async def _moved(ledger: lpb_grpc.LedgerServiceAsyncStub, transfer_id: str) -> list[Any]:
    """The transfer's postings as (debit, credit, amount)."""
    answer = await ledger.GetTransfer(lpb.GetTransferRequest(transfer_id=transfer_id))
    return [
        (p.debit_account_id, p.credit_account_id, p.amount.minor_units)
        for p in answer.transfer.postings
    ]


async def _advance_repaid_once(
    stack: Stack, ledger: lpb_grpc.LedgerServiceAsyncStub, payout: dict[str, Any], day: str
) -> None:
    """The channels' money of the day arrives; the reserve run repays the D+0 advance, once."""
    advance, own = accounts.settlement_advance("CNY"), accounts.own_funds("CNY")
    key = f"settle:{demo.MERCHANT_ID}:CNY:{payout['settlement_date']}"
    amount = payout["amount_minor_units"]
    assert await _moved(ledger, f"{key}:advance") == [(advance, own, amount)]
    advanced = await _balance(ledger, advance)
    for channel in CHANNELS:
        await _pay_in(stack, channel, day)
    recon = ("--recon", stack.config.addr("recon"))
    reserve = payctl(stack, "recon", "reserve", "--date", day, *recon)
    again = payctl(stack, "recon", "reserve", "--date", day, *recon)
    assert reserve["arrivals"] >= len(CHANNELS) and reserve["balanced"]
    [(debit, credit, repaid)] = await _moved(ledger, f"{key}:repay")
    assert (debit, credit) == (own, advance)
    if reserve["clean"]:  # every channel's money of the day arrived: the whole advance
        assert repaid == amount
    else:
        # On the shared suite an earlier test had the bank settle this day already, before
        # this test's payments: the channels still owe those, and that much stays advanced.
        assert 0 < repaid <= amount
    assert await _balance(ledger, advance) == advanced - repaid
    assert again["posted"] == 0
    assert await _balance(ledger, advance) == advanced - repaid


def payctl_text(stack: Stack, batch_id: str, recon: tuple[str, str]) -> str:
    """The batch's statement as payctl prints it (CSV, no --json)."""
    done = subprocess.run(
        [sys.executable, "-m", "payctl", "settle", "statement", batch_id, *recon],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout

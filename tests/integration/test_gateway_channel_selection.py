"""Channel selection over two real bank simulators: volume split by rules read from a file that
can change under a running gateway, failover when a bank cannot be reached, and a bank that
keeps failing moved to the back; every decision recorded on the payment's attempts."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import grpc
import pytest
from aiohttp import web
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from channelsim.amounts import fee_for
from channelsim.app import create_app
from channelsim.settings import ChannelSimSettings
from devstack import demo
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.type.v1.money_pb2 import Money as MoneyPb
from tests.helpers import connect, eventually
from tests.integration.conftest import Replica, bank_channel, free_port
from tests.integration.test_gateway_egress import charges_at_bank
from tests.integration.test_gateway_wallets import limit_state

UNION_SECRET = "paysuite-test-union-secret"
FEE_BPS = {"banksim": ChannelSimSettings.model_fields["fee_bps"].default, "unionsim": 30}


@pytest.fixture(scope="module")
async def union_url(suite_db: str) -> AsyncIterator[str]:
    """A second bank channel: the bank simulator under another name, secret and fee."""
    settings = ChannelSimSettings(
        secret=SecretStr(UNION_SECRET),
        port=free_port(),
        channel="unionsim",
        fee_bps=FEE_BPS["unionsim"],
    )
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.port).start()
    try:
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def with_union(
    replica: Replica, union_at: str, rules: Path, **fields: Any
) -> AsyncIterator[pb_grpc.GatewayServiceAsyncStub]:
    """A client of a replica with a second bank channel, unionsim at union_at, routed by the
    rules file."""
    union = bank_channel(union_at, UNION_SECRET, **fields)
    async with (
        replica(extra_channels={"unionsim": union}, channel_rules_file=rules) as addr,
        connect(addr) as channel,
    ):
        yield pb_grpc.GatewayServiceStub(channel)


def write_rules(path: Path, split: dict[str, int], min_samples: int = 20) -> None:
    rule = {"name": "cards", "methods": ["bank_card"], "split": split}
    document = {"rules": [rule], "success_rate": {"min_samples": min_samples}}
    path.write_text(json.dumps(document))


def card_payment(amount: int = 100) -> pb.CreatePaymentRequest:
    return pb.CreatePaymentRequest(
        request_id=f"req-{secrets.token_hex(8)}",
        merchant_id=demo.MERCHANT_ID,
        merchant_order_no=f"ORD-{secrets.token_hex(6)}",
        amount=MoneyPb(currency_code="CNY", minor_units=amount),
        method=pb.PAYMENT_METHOD_BANK_CARD,
        payer_user_id=demo.USER_ID,
    )


async def receivable(ledger: lpb_grpc.LedgerServiceAsyncStub, channel: str) -> int:
    account_id = f"channel.{channel}.receivable.CNY"
    for _ in range(50):  # the gateway opens a new channel's account as it starts
        try:
            answer = await ledger.GetAccount(lpb.GetAccountRequest(account_id=account_id))
        except grpc.aio.AioRpcError as exc:
            if exc.code() is not grpc.StatusCode.NOT_FOUND:
                raise
            await asyncio.sleep(0.1)
            continue
        return answer.account.balance.minor_units
    raise AssertionError(f"no account {account_id}")


def attempt_spans(exporter: InMemorySpanExporter, payment_id: str) -> list[dict[str, Any]]:
    provider = trace.get_tracer_provider()
    if isinstance(provider, SdkTracerProvider):
        provider.force_flush()
    return [
        dict(s.attributes or {})
        for s in exporter.get_finished_spans()
        if s.name == "gateway.channel_attempt"
        and (s.attributes or {}).get("paysuite.payment.id") == payment_id
    ]


async def test_a_split_shares_card_payments_between_banks_and_follows_the_file(
    replica: Replica,
    union_url: str,
    bank_url: str,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    spans: InMemorySpanExporter,
    tmp_path: Path,
) -> None:
    rules = tmp_path / "channel-rules.json"
    write_rules(rules, {"banksim": 1, "unionsim": 1})
    async with (
        with_union(replica, union_url, rules) as gateway,
        aiohttp.ClientSession() as http,
    ):
        before = {c: await receivable(ledger_stub, c) for c in ("banksim", "unionsim")}
        paid = [(await gateway.CreatePayment(card_payment())).payment for _ in range(24)]
        assert {p.state for p in paid} == {pb.Payment.STATE_SUCCEEDED}
        by_channel = Counter(p.channel for p in paid)
        assert set(by_channel) == {"banksim", "unionsim"}  # all on one: p = 2^-23

        for payment in paid:
            answer = await gateway.GetPayment(pb.GetPaymentRequest(payment_id=payment.payment_id))
            [attempt] = answer.attempts
            assert (attempt.attempt_no, attempt.channel, attempt.rule) == (
                1,
                payment.channel,
                "cards",
            )
            assert attempt.outcome == pb.ChannelAttempt.OUTCOME_SUCCEEDED
            assert f"{payment.channel} by share 1/2" in attempt.reason
            url = bank_url if payment.channel == "banksim" else union_url
            other = union_url if payment.channel == "banksim" else bank_url
            assert await charges_at_bank(http, url, payment.payment_id) == 1
            assert await charges_at_bank(http, other, payment.payment_id) == 0
            [span] = attempt_spans(spans, payment.payment_id)
            assert span["paysuite.channel"] == payment.channel
            assert span["paysuite.channel_selection.reason"] == attempt.reason
            assert span["paysuite.attempt.outcome"] == "succeeded"

        # Each bank's receivable grew by its own payments less its own fee: each capture was
        # booked once, to the bank that took it.
        after = {c: await receivable(ledger_stub, c) for c in ("banksim", "unionsim")}
        assert {c: after[c] - before[c] for c in after} == {
            c: (100 - fee_for(100, FEE_BPS[c])) * by_channel[c] for c in after
        }

        write_rules(rules, {"unionsim": 1})
        await asyncio.sleep(1.1)  # the file is looked at once a second at most
        moved = (await gateway.CreatePayment(card_payment())).payment
        assert (moved.state, moved.channel) == (pb.Payment.STATE_SUCCEEDED, "unionsim")


async def test_an_unreachable_bank_is_failed_over_then_tried_last(
    replica: Replica,
    bank_url: str,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    tmp_path: Path,
) -> None:
    rules = tmp_path / "channel-rules.json"
    # unionsim takes all but one in a million, until it is seen failing.
    write_rules(rules, {"unionsim": 1_000_000, "banksim": 1}, min_samples=3)
    nowhere = f"http://127.0.0.1:{free_port()}"
    async with (
        with_union(replica, nowhere, rules) as gateway,
        aiohttp.ClientSession() as http,
    ):
        before = await receivable(ledger_stub, "banksim")
        for _ in range(3):
            payment = (await gateway.CreatePayment(card_payment())).payment
            assert (payment.state, payment.channel) == (pb.Payment.STATE_SUCCEEDED, "banksim")
            answer = await gateway.GetPayment(pb.GetPaymentRequest(payment_id=payment.payment_id))
            first, second = answer.attempts
            assert (first.channel, first.outcome, first.error_code) == (
                "unionsim",
                pb.ChannelAttempt.OUTCOME_NOT_SENT,
                "CHANNEL_UNREACHABLE",
            )
            assert (second.attempt_no, second.channel, second.outcome) == (
                2,
                "banksim",
                pb.ChannelAttempt.OUTCOME_SUCCEEDED,
            )
            assert second.reason.startswith("failover: unionsim CHANNEL_UNREACHABLE")
            assert await charges_at_bank(http, bank_url, payment.payment_id) == 1
        fee = fee_for(100, FEE_BPS["banksim"])
        expected = before + 3 * (100 - fee)
        assert await eventually(lambda: receivable(ledger_stub, "banksim"), expected) == expected

        # Three attempts without a success: unionsim goes to the back of the line.
        payment = (await gateway.CreatePayment(card_payment())).payment
        answer = await gateway.GetPayment(pb.GetPaymentRequest(payment_id=payment.payment_id))
        [only] = answer.attempts
        assert (only.channel, only.outcome) == ("banksim", pb.ChannelAttempt.OUTCOME_SUCCEEDED)
        assert "demoted unionsim: success 0/3" in only.reason


async def test_when_no_bank_can_be_reached_the_payment_fails_and_nothing_is_held(
    replica: Replica,
    tmp_path: Path,
    db: asyncpg.Connection,
) -> None:
    rules = tmp_path / "channel-rules.json"
    write_rules(rules, {"unionsim": 1})
    nowhere = f"http://127.0.0.1:{free_port()}"
    async with with_union(replica, nowhere, rules) as gateway:
        payment = (await gateway.CreatePayment(card_payment())).payment
        assert (payment.state, payment.failure_reason) == (
            pb.Payment.STATE_FAILED,
            "CHANNEL_UNREACHABLE",
        )
        answer = await gateway.GetPayment(pb.GetPaymentRequest(payment_id=payment.payment_id))
        assert [(a.channel, a.outcome) for a in answer.attempts] == [
            ("unionsim", pb.ChannelAttempt.OUTCOME_NOT_SENT)
        ]
        await limit_state(db, payment.payment_id, "released")


async def test_a_channels_daily_limit_holds_under_concurrency_and_failures_give_it_back(
    replica: Replica, bank_url: str, tmp_path: Path
) -> None:
    rules = tmp_path / "channel-rules.json"
    write_rules(rules, {"cappedbank": 1_000_000, "banksim": 1})
    # A second contract at the same bank, allowed 10.00 yuan a day; the rest goes to banksim.
    capped = bank_channel(bank_url, daily_limit=1_000)
    async with (
        replica(extra_channels={"cappedbank": capped}, channel_rules_file=rules) as addr,
        connect(addr) as channel,
        aiohttp.ClientSession() as http,
    ):
        gateway = pb_grpc.GatewayServiceStub(channel)

        async def pay(amount: int) -> pb.Payment:
            return (await gateway.CreatePayment(card_payment(amount))).payment

        together = await asyncio.gather(*(pay(300) for _ in range(8)))
        assert {p.state for p in together} == {pb.Payment.STATE_SUCCEEDED}
        assert Counter(p.channel for p in together) == {"cappedbank": 3, "banksim": 5}
        spilled = next(p for p in together if p.channel == "banksim")
        answer = await gateway.GetPayment(pb.GetPaymentRequest(payment_id=spilled.payment_id))
        [attempt] = answer.attempts
        assert "skipped cappedbank: CHANNEL_DAILY_LIMIT; took banksim" in attempt.reason

        # A declined charge took nothing from the day's volume: 900 + 100 still fits after it.
        async with http.post(f"{bank_url}/_admin/faults", json={"decline_rate": 1}):
            pass
        try:
            declined = await pay(100)
        finally:
            async with http.post(f"{bank_url}/_admin/faults", json={"decline_rate": 0}):
                pass
        assert (declined.state, declined.channel) == (pb.Payment.STATE_FAILED, "cappedbank")
        assert (await pay(100)).channel == "cappedbank"
        assert (await pay(1)).channel == "banksim"  # the day is full at exactly 10.00


async def test_a_decline_the_channel_guarantees_charged_nothing_goes_to_the_next_channel(
    replica: Replica, union_url: str, bank_url: str, tmp_path: Path
) -> None:
    rules = tmp_path / "channel-rules.json"
    write_rules(rules, {"unionsim": 1_000_000, "banksim": 1})
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{union_url}/_admin/faults", json={"decline_rate": 1}):
            pass
        try:
            async with with_union(
                replica, union_url, rules, retry_elsewhere_on={"CARD_DECLINED"}
            ) as gateway:
                paid = (await gateway.CreatePayment(card_payment())).payment
                assert (paid.state, paid.channel) == (pb.Payment.STATE_SUCCEEDED, "banksim")
                answer = await gateway.GetPayment(pb.GetPaymentRequest(payment_id=paid.payment_id))
                assert [(a.channel, a.outcome, a.error_code) for a in answer.attempts] == [
                    ("unionsim", pb.ChannelAttempt.OUTCOME_FAILED, "CARD_DECLINED"),
                    ("banksim", pb.ChannelAttempt.OUTCOME_SUCCEEDED, ""),
                ]
                assert await charges_at_bank(http, bank_url, paid.payment_id) == 1
            # Where the code is not one to retry on, the decline is the payment's answer.
            async with with_union(replica, union_url, rules) as gateway:
                declined = (await gateway.CreatePayment(card_payment())).payment
                assert (declined.state, declined.failure_reason) == (
                    pb.Payment.STATE_FAILED,
                    "CARD_DECLINED",
                )
        finally:
            async with http.post(f"{union_url}/_admin/faults", json={"decline_rate": 0}):
                pass

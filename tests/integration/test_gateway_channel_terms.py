"""A channel's terms: in its day-cut charges are refused before anyone is asked, refunds sent
and unknown payments queried afterwards; a charge above its single-charge limit is refused
the same way."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import pytest

from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from tests.helpers import connect
from tests.integration.conftest import Replica, bank_channel
from tests.integration.test_gateway_channel_selection import card_payment
from tests.integration.test_gateway_wallets import create, refund_request, settled_refunds
from tests.integration.wallet_client import WalletClient


@pytest.fixture
async def open_gateway(gateway_addr: str) -> AsyncIterator[pb_grpc.GatewayServiceAsyncStub]:
    async with connect(gateway_addr) as channel:
        yield pb_grpc.GatewayServiceStub(channel)


@pytest.fixture
async def restricted_gateway(replica: Replica) -> AsyncIterator[pb_grpc.GatewayServiceAsyncStub]:
    """A second gateway replica: Alipay in its day-cut right now, WeChat Pay capped at 5.00."""
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    window = f"{now - timedelta(minutes=2):%H:%M}-{now + timedelta(minutes=10):%H:%M}"
    changes = {"alipaysim": {"closed_windows": window}, "wechatsim": {"max_amount": 500}}
    async with (
        replica(channel_changes=changes) as addr,
        connect(addr) as channel,
    ):
        yield pb_grpc.GatewayServiceStub(channel)


async def assert_nobody_asked(
    wallet: WalletClient, db: asyncpg.Connection, payment_id: str
) -> None:
    """Neither the wallet nor identity (no limit reserved) heard of the payment."""
    with pytest.raises(ValueError):
        await wallet.transaction(payment_id)
    reserved = await db.fetchval(
        "SELECT count(*) FROM identity.limit_usages WHERE payment_id = $1", payment_id
    )
    assert reserved == 0


async def test_a_charge_in_the_day_cut_fails_before_the_channel_or_limits_are_asked(
    restricted_gateway: pb_grpc.GatewayServiceAsyncStub,
    alipay: WalletClient,
    payer: str,
    db: asyncpg.Connection,
) -> None:
    refused = await create(restricted_gateway, pb.PAYMENT_METHOD_ALIPAY, 300, payer)
    assert (refused.state, refused.failure_reason) == (pb.Payment.STATE_FAILED, "CHANNEL_CLOSED")
    await assert_nobody_asked(alipay, db, refused.payment_id)
    # The other channels keep taking payments.
    paid = await create(restricted_gateway, pb.PAYMENT_METHOD_WECHAT_PAY, 300, payer)
    assert paid.state == pb.Payment.STATE_SUCCEEDED


async def test_a_charge_above_the_channels_limit_fails_before_anyone_is_asked(
    restricted_gateway: pb_grpc.GatewayServiceAsyncStub,
    wechat: WalletClient,
    payer: str,
    db: asyncpg.Connection,
) -> None:
    at_limit = await create(restricted_gateway, pb.PAYMENT_METHOD_WECHAT_PAY, 500, payer)
    assert at_limit.state == pb.Payment.STATE_SUCCEEDED
    over = await create(restricted_gateway, pb.PAYMENT_METHOD_WECHAT_PAY, 501, payer)
    assert (over.state, over.failure_reason) == (pb.Payment.STATE_FAILED, "CHANNEL_AMOUNT_LIMIT")
    await assert_nobody_asked(wechat, db, over.payment_id)


async def test_a_refund_in_the_day_cut_is_accepted_and_sent_once_the_channel_is_open(
    restricted_gateway: pb_grpc.GatewayServiceAsyncStub,
    open_gateway: pb_grpc.GatewayServiceAsyncStub,
    alipay: WalletClient,
    payer: str,
    db: asyncpg.Connection,
) -> None:
    payment = await create(open_gateway, pb.PAYMENT_METHOD_ALIPAY, 520, payer)
    assert payment.state == pb.Payment.STATE_SUCCEEDED
    answer = await restricted_gateway.RefundPayment(refund_request(payment.payment_id, 520))
    assert answer.refund.state == pb.Refund.STATE_PROCESSING
    assert (await alipay.transaction(payment.payment_id))["refunded"] == 0

    # The replica outside the day-cut (standing in for the clock moving on) sends it.
    await db.execute(
        "UPDATE gateway.refunds SET updated_at = now() - interval '1 minute' WHERE refund_id = $1",
        answer.refund.refund_id,
    )
    [refund] = await settled_refunds(db, payment.payment_id)
    assert refund["refund_id"] == answer.refund.refund_id
    assert (await alipay.transaction(payment.payment_id))["refunded"] == 520


async def test_the_janitor_waits_for_a_closed_channel_to_open_before_asking_it(
    replica: Replica, bank_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    rules = tmp_path / "channel-rules.json"
    rules.write_text(json.dumps({"rules": [{"name": "night", "split": {"nightbank": 1}}]}))

    def night_gateway(windows: str) -> AbstractAsyncContextManager[str]:
        """A replica with a second bank channel, nightbank, that takes every card payment."""
        nightbank = bank_channel(bank_url, closed_windows=windows)
        return replica(extra_channels={"nightbank": nightbank}, channel_rules_file=rules)

    async with aiohttp.ClientSession() as http:
        faults = f"{bank_url}/_admin/faults"
        async with (
            http.post(faults, json={"timeout_rate": 1, "timeout_sleep_ms": 2500}),
            night_gateway("") as addr,
            connect(addr) as channel,
        ):
            gateway = pb_grpc.GatewayServiceStub(channel)
            payment = (await gateway.CreatePayment(card_payment(700))).payment
        assert (payment.state, payment.channel) == (pb.Payment.STATE_UNKNOWN, "nightbank")
        async with http.post(faults, json={"timeout_rate": 0}):
            pass

    sql = "SELECT next_query_at, query_attempts, state FROM gateway.payments WHERE payment_id = $1"
    await db.execute(
        "UPDATE gateway.payments SET next_query_at = now() WHERE payment_id = $1",
        payment.payment_id,
    )
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    reopening = (now + timedelta(minutes=10)).replace(second=0, microsecond=0)
    async with night_gateway(f"{now - timedelta(minutes=2):%H:%M}-{reopening:%H:%M}"):
        async with asyncio.timeout(10):
            # Past the janitor's 30 s claim, which comes first: the deferral follows it.
            while (row := await db.fetchrow(sql, payment.payment_id))["next_query_at"] < (
                now + timedelta(minutes=1)
            ):
                await asyncio.sleep(0.05)
    # Deferred to the reopening, the query not counted, the bank not asked: still unknown.
    assert (row["next_query_at"], row["query_attempts"], row["state"]) == (
        reopening,
        0,
        "unknown",
    )

    async with night_gateway("") as addr, connect(addr) as channel:
        gateway = pb_grpc.GatewayServiceStub(channel)
        query = pb.QueryPaymentRequest(payment_id=payment.payment_id)
        assert (await gateway.QueryPayment(query)).payment.state == pb.Payment.STATE_SUCCEEDED

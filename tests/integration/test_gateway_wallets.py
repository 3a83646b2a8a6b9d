"""Wallet payments through the in-process gateway: accepted, notified, queried, refunded."""

from __future__ import annotations

import asyncio
import io
import secrets
import time
import uuid
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import grpc
import pytest
from google.type.date_pb2 import Date

from devstack import demo
from paysuite.dev_secrets import DEV_ALIPAY_SECRET
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.http_signing import new_nonce, sign
from paysuite.runtime.grpc_errors import error_reason
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect
from tests.integration.wallet_client import MERCHANT, WalletClient

METHODS = {"alipay": pb.PAYMENT_METHOD_ALIPAY, "wechat": pb.PAYMENT_METHOD_WECHAT_PAY}


@pytest.fixture
async def gateway(gateway_addr: str) -> AsyncIterator[pb_grpc.GatewayServiceAsyncStub]:
    async with connect(gateway_addr) as channel:
        yield pb_grpc.GatewayServiceStub(channel)


@pytest.fixture(autouse=True)
async def calm_wallets(alipay: WalletClient, wechat: WalletClient) -> AsyncIterator[None]:
    yield
    await alipay.reset_faults()
    await wechat.reset_faults()


def pay_request(method: int, amount: int, user: str) -> pb.CreatePaymentRequest:
    return pb.CreatePaymentRequest(
        request_id=f"wreq-{secrets.token_hex(8)}",
        merchant_id=demo.MERCHANT_ID,
        merchant_order_no=f"W-{secrets.token_hex(6)}",
        amount=Money(currency_code="CNY", minor_units=amount),
        method=method,  # type: ignore[arg-type]
        payer_user_id=user,
        description="wallet test",
    )


def refund_request(payment_id: str, minor_units: int) -> pb.RefundPaymentRequest:
    return pb.RefundPaymentRequest(
        request_id=f"wrf-{secrets.token_hex(6)}",
        payment_id=payment_id,
        amount=Money(currency_code="CNY", minor_units=minor_units),
        reason="return",
    )


async def create(
    gateway: pb_grpc.GatewayServiceAsyncStub, method: int, amount: int, user: str
) -> pb.Payment:
    return (await gateway.CreatePayment(pay_request(method, amount, user))).payment


async def settled(
    gateway: pb_grpc.GatewayServiceAsyncStub, payment_id: str, timeout: float = 5.0
) -> pb.Payment:
    """The payment once final (succeeded, failed, closed or duplicate)."""
    final = (
        pb.Payment.STATE_SUCCEEDED,
        pb.Payment.STATE_FAILED,
        pb.Payment.STATE_CLOSED,
        pb.Payment.STATE_DUPLICATE,
    )
    async with asyncio.timeout(timeout):
        while True:
            answer = await gateway.GetPayment(pb.GetPaymentRequest(payment_id=payment_id))
            if answer.payment.state in final:
                return answer.payment
            await asyncio.sleep(0.05)


async def assert_ledger(db: asyncpg.Connection, payment_id: str, expected: list[str]) -> None:
    """The ledger holds exactly the expected transfers of the payment, each once."""
    query = (
        "SELECT transfer_id FROM ledger.transfers WHERE metadata->>'payment_id' = $1 "
        "AND result = 'posted' ORDER BY created_at"
    )
    found: list[str] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [r["transfer_id"] for r in await db.fetch(query, payment_id)]
        if sorted(found) == sorted(expected):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)  # and nothing more arrives
    found = [r["transfer_id"] for r in await db.fetch(query, payment_id)]
    assert sorted(found) == sorted(expected)


async def limit_state(db: asyncpg.Connection, payment_id: str, expected: str) -> None:
    sql = "SELECT state FROM identity.limit_usages WHERE payment_id = $1"
    async with asyncio.timeout(5):
        while await db.fetchval(sql, payment_id) != expected:
            await asyncio.sleep(0.05)


async def events(db: asyncpg.Connection, payment_id: str) -> list[str]:
    rows = await db.fetch(
        "SELECT type FROM gateway.payment_events WHERE payment_id = $1 ORDER BY sequence",
        payment_id,
    )
    return [r["type"] for r in rows]


async def notifications(db: asyncpg.Connection, payment_id: str) -> list[str]:
    rows = await db.fetch(
        "SELECT outcome FROM gateway.channel_notifications WHERE payment_id = $1", payment_id
    )
    return [r["outcome"] for r in rows]


async def settled_refunds(db: asyncpg.Connection, payment_id: str) -> list[asyncpg.Record]:
    """The payment's refunds once exactly one exists and it has succeeded."""
    sql = "SELECT refund_id, amount, state, reason FROM gateway.refunds WHERE payment_id = $1"
    async with asyncio.timeout(30):
        while [r["state"] for r in await db.fetch(sql, payment_id)] != ["succeeded"]:
            await asyncio.sleep(0.05)
    rows: list[asyncpg.Record] = await db.fetch(sql, payment_id)
    return rows


async def trade_decided(wallet: WalletClient, payment_id: str) -> dict[str, Any]:
    async with asyncio.timeout(5):
        while (trade := await wallet.transaction(payment_id))["status"] == "waiting":
            await asyncio.sleep(0.03)
    return trade


async def test_an_alipay_payment_is_accepted_then_succeeded_by_notification(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    alipay: WalletClient,
    payer: str,
    db: asyncpg.Connection,
) -> None:
    await alipay.set_faults(accepted_rate=1, decide_ms=150)
    payment = await create(gateway, pb.PAYMENT_METHOD_ALIPAY, 1288, payer)
    assert payment.state == pb.Payment.STATE_UNKNOWN  # the buyer is still confirming
    assert payment.channel == "alipaysim"
    await assert_ledger(db, payment.payment_id, [])
    paid = await settled(gateway, payment.payment_id)
    assert paid.state == pb.Payment.STATE_SUCCEEDED
    trade = await alipay.transaction(payment.payment_id)
    assert paid.channel_transaction_id == trade["trade_no"]
    assert trade["notify_url"].endswith("/notify/alipaysim")
    [delivery] = await alipay.settled_notifications(payment.payment_id, 1)
    assert delivery["acknowledged"] and len(delivery["attempts"]) == 1
    await assert_ledger(db, payment.payment_id, [f"{payment.payment_id}:capture"])
    await limit_state(db, payment.payment_id, "committed")
    assert await notifications(db, payment.payment_id) == ["succeeded"]

    # The same payer has no card: a card payment still asks identity, and is refused.
    card = await create(gateway, pb.PAYMENT_METHOD_BANK_CARD, 100, payer)
    assert card.state == pb.Payment.STATE_FAILED
    assert card.failure_reason.startswith("PAYER_")
    await assert_ledger(db, card.payment_id, [])


async def test_a_coupon_payment_is_settled_by_the_wallets_notification_of_what_it_charged(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    alipay: WalletClient,
    payer: str,
    db: asyncpg.Connection,
) -> None:
    await alipay.set_faults(accepted_rate=1, decide_ms=100)
    request = pay_request(pb.PAYMENT_METHOD_ALIPAY, 2000, payer)
    request.platform_coupon.CopyFrom(Money(currency_code="CNY", minor_units=500))
    payment = (await gateway.CreatePayment(request)).payment
    assert payment.state == pb.Payment.STATE_UNKNOWN
    assert (await alipay.transaction(payment.payment_id))["amount"] == 1500
    # The wallet notifies the 15.00 it took: the payment's answer, not a mismatch to refuse.
    [delivery] = await alipay.settled_notifications(payment.payment_id, 1)
    assert delivery["acknowledged"]
    assert (await settled(gateway, payment.payment_id)).state == pb.Payment.STATE_SUCCEEDED
    assert await notifications(db, payment.payment_id) == ["succeeded"]


async def test_a_duplicated_notification_is_applied_once(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    alipay: WalletClient,
    payer: str,
    db: asyncpg.Connection,
) -> None:
    await alipay.set_faults(accepted_rate=1, decide_ms=100, notify_duplicate_rate=1)
    payment = await create(gateway, pb.PAYMENT_METHOD_ALIPAY, 501, payer)
    deliveries = await alipay.settled_notifications(payment.payment_id, 2)
    assert [(d["duplicate"], d["acknowledged"]) for d in deliveries] == [
        (False, True),
        (True, True),
    ]
    assert len({d["notify_id"] for d in deliveries}) == 1
    assert (await settled(gateway, payment.payment_id)).state == pb.Payment.STATE_SUCCEEDED
    await assert_ledger(db, payment.payment_id, [f"{payment.payment_id}:capture"])
    assert await notifications(db, payment.payment_id) == ["succeeded"]
    assert (await events(db, payment.payment_id)).count("payment.succeeded") == 1


async def _nudge_janitor(db: asyncpg.Connection, payment_id: str) -> None:
    """Brings the payment's next scheduled query forward to now (instead of waiting 5 s)."""
    await db.execute(
        "UPDATE gateway.payments SET next_query_at = now() WHERE payment_id = $1", payment_id
    )


async def test_a_dropped_notification_is_resolved_by_the_janitors_query(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    alipay: WalletClient,
    payer: str,
    db: asyncpg.Connection,
) -> None:
    await alipay.set_faults(accepted_rate=1, decide_ms=50, notify_drop_rate=1)
    payment = await create(gateway, pb.PAYMENT_METHOD_ALIPAY, 777, payer)
    assert payment.state == pb.Payment.STATE_UNKNOWN
    assert (await trade_decided(alipay, payment.payment_id))["status"] == "success"
    [delivery] = await alipay.settled_notifications(payment.payment_id, 1)
    assert delivery["dropped"]
    await _nudge_janitor(db, payment.payment_id)
    assert (await settled(gateway, payment.payment_id)).state == pb.Payment.STATE_SUCCEEDED
    await assert_ledger(db, payment.payment_id, [f"{payment.payment_id}:capture"])
    assert await notifications(db, payment.payment_id) == []


async def test_wechat_tells_failures_only_when_asked(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    wechat: WalletClient,
    payer: str,
    db: asyncpg.Connection,
) -> None:
    await wechat.set_faults(accepted_rate=1, decide_ms=50, decline_rate=1)
    payment = await create(gateway, pb.PAYMENT_METHOD_WECHAT_PAY, 640, payer)
    assert payment.state == pb.Payment.STATE_UNKNOWN
    assert (await trade_decided(wechat, payment.payment_id))["status"] == "failed"
    assert await wechat.notifications(payment.payment_id) == []
    await _nudge_janitor(db, payment.payment_id)
    failed = await settled(gateway, payment.payment_id)
    assert (failed.state, failed.failure_reason) == (pb.Payment.STATE_FAILED, "PAYERROR")
    await assert_ledger(db, payment.payment_id, [])
    await limit_state(db, payment.payment_id, "released")


def _alipay_notice(trade: dict[str, Any], notify_id: str, amount: str) -> bytes:
    return urlencode(
        {
            "notify_type": "trade_status_sync",
            "notify_id": notify_id,
            "app_id": MERCHANT,
            "trade_no": trade["trade_no"],
            "out_trade_no": trade["out_trade_no"],
            "trade_status": "TRADE_SUCCESS",
            "total_amount": amount,
        }
    ).encode()


async def test_forged_notifications_are_refused_and_replays_never_applied_twice(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    alipay: WalletClient,
    payer: str,
    db: asyncpg.Connection,
) -> None:
    await alipay.set_faults(accepted_rate=1, decide_ms=30, notify_drop_rate=1)
    payment = await create(gateway, pb.PAYMENT_METHOD_ALIPAY, 321, payer)
    trade = await trade_decided(alipay, payment.payment_id)
    url, notify_id = trade["notify_url"], f"forge-{secrets.token_hex(8)}"

    async def post(body: bytes, header: str) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Alipay-Signature": header}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body, headers=headers) as response,
        ):
            return response.status, await response.read()

    def signed(body: bytes, secret: str = DEV_ALIPAY_SECRET) -> str:
        return sign(secret.encode(), body, now=int(time.time()), nonce=new_nonce())

    body = _alipay_notice(trade, notify_id, "3.21")
    assert await post(body, signed(body, "a-forger's-guess")) == (401, b"fail")
    assert await post(body, "") == (401, b"fail")
    state = (await gateway.GetPayment(pb.GetPaymentRequest(payment_id=payment.payment_id))).payment
    assert state.state == pb.Payment.STATE_UNKNOWN
    wrong_amount = _alipay_notice(trade, notify_id, "3.22")
    assert (await post(wrong_amount, signed(wrong_amount)))[0] == 400
    stranger = _alipay_notice({**trade, "out_trade_no": "pay_nobody"}, notify_id, "3.21")
    assert (await post(stranger, signed(stranger)))[0] == 404

    header = signed(body)
    assert await post(body, header) == (200, b"success")
    assert (await settled(gateway, payment.payment_id)).state == pb.Payment.STATE_SUCCEEDED
    assert (await post(body, header))[0] == 401  # the very same request again: a replay
    assert await post(body, signed(body)) == (200, b"success")  # resent: taken, not re-applied
    await assert_ledger(db, payment.payment_id, [f"{payment.payment_id}:capture"])
    assert await notifications(db, payment.payment_id) == ["succeeded"]
    assert (await events(db, payment.payment_id)).count("payment.succeeded") == 1


async def test_a_late_contradicting_notification_is_flagged_not_applied(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    alipay: WalletClient,
    payer: str,
    db: asyncpg.Connection,
) -> None:
    await alipay.set_faults(accepted_rate=1, decide_ms=50, decline_rate=1)
    payment = await create(gateway, pb.PAYMENT_METHOD_ALIPAY, 404, payer)
    failed = await settled(gateway, payment.payment_id)
    assert (failed.state, failed.failure_reason) == (pb.Payment.STATE_FAILED, "TRADE_CLOSED")
    await limit_state(db, payment.payment_id, "released")
    # The wallet changes its mind: it says the buyer paid after all.
    await alipay.admin(
        "POST", f"/_admin/transactions/{payment.payment_id}/decide", {"status": "success"}
    )
    deliveries = await alipay.settled_notifications(payment.payment_id, 2)
    assert [d["status"] for d in deliveries] == ["TRADE_CLOSED", "TRADE_SUCCESS"]
    assert all(d["acknowledged"] for d in deliveries)
    after = (await gateway.GetPayment(pb.GetPaymentRequest(payment_id=payment.payment_id))).payment
    assert after.state == pb.Payment.STATE_FAILED
    flagged = await db.fetchval(
        "SELECT needs_reconciliation FROM gateway.payments WHERE payment_id = $1",
        payment.payment_id,
    )
    assert flagged is True
    assert (await events(db, payment.payment_id))[-1] == "payment.exception"
    assert sorted(await notifications(db, payment.payment_id)) == ["failed", "succeeded"]
    await assert_ledger(db, payment.payment_id, [])


async def test_a_wechat_payment_is_accepted_then_succeeded_by_notification(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    wechat: WalletClient,
    payer: str,
    db: asyncpg.Connection,
) -> None:
    await wechat.set_faults(accepted_rate=1, decide_ms=100)
    payment = await create(gateway, pb.PAYMENT_METHOD_WECHAT_PAY, 999, payer)
    assert (payment.state, payment.channel) == (pb.Payment.STATE_UNKNOWN, "wechatsim")
    paid = await settled(gateway, payment.payment_id)
    assert paid.state == pb.Payment.STATE_SUCCEEDED
    trade = await wechat.transaction(payment.payment_id)
    assert paid.channel_transaction_id == trade["trade_no"]
    [delivery] = await wechat.settled_notifications(payment.payment_id, 1)
    assert delivery["acknowledged"] and delivery["attempts"][0]["http_status"] == 200
    await assert_ledger(db, payment.payment_id, [f"{payment.payment_id}:capture"])
    await limit_state(db, payment.payment_id, "committed")


async def test_an_immediate_wallet_decline_fails_the_payment(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    alipay: WalletClient,
    payer: str,
    db: asyncpg.Connection,
) -> None:
    await alipay.set_faults(decline_rate=1)
    payment = await create(gateway, pb.PAYMENT_METHOD_ALIPAY, 250, payer)
    assert payment.state == pb.Payment.STATE_FAILED
    assert payment.failure_reason == "ACQ.BUYER_BALANCE_NOT_ENOUGH"
    await assert_ledger(db, payment.payment_id, [])
    await limit_state(db, payment.payment_id, "released")


@pytest.mark.parametrize("wallet_name", ["alipay", "wechat"])
async def test_refunds_go_through_the_wallet(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    request: pytest.FixtureRequest,
    wallet_name: str,
    payer: str,
    db: asyncpg.Connection,
) -> None:
    wallet: WalletClient = request.getfixturevalue(wallet_name)
    payment = await create(gateway, METHODS[wallet_name], 1000, payer)
    assert payment.state == pb.Payment.STATE_SUCCEEDED  # paid at once: no faults dialled

    async def refund(amount: int) -> pb.Refund | int:
        try:
            answer = await gateway.RefundPayment(refund_request(payment.payment_id, amount))
        except grpc.aio.AioRpcError as exc:
            return error_reason(exc)
        return answer.refund

    first = await refund(300)
    assert isinstance(first, pb.Refund) and first.state == pb.Refund.STATE_SUCCEEDED
    assert first.channel_refund_id
    assert await refund(701) == ErrorReason.ERROR_REASON_REFUND_EXCEEDS_PAYMENT
    trade = await wallet.transaction(payment.payment_id)
    assert trade["refunded"] == 300
    assert [r["out_refund_no"] for r in trade["refunds"]] == [first.refund_id]
    await assert_ledger(
        db,
        payment.payment_id,
        [f"{payment.payment_id}:capture", f"{first.refund_id}:refund"],
    )


async def _statement(gateway: pb_grpc.GatewayServiceAsyncStub, channel: str) -> bytes:
    """Today's bill of the wallet channel as the gateway fetches it (the wallet's two steps)."""
    day = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    chunks = [
        response
        async for response in gateway.FetchChannelStatement(
            pb.FetchChannelStatementRequest(
                channel=channel, statement_date=Date(year=day.year, month=day.month, day=day.day)
            )
        )
    ]
    assert chunks[0].format == f"{channel}-csv-v1"
    return b"".join(c.chunk for c in chunks)


async def test_a_wechat_bill_not_the_file_its_hash_names_is_not_taken(
    gateway: pb_grpc.GatewayServiceAsyncStub, wechat: WalletClient, payer: str
) -> None:
    """WeChat Pay names its bill file's SHA1 with the download URL: a download cut short is
    UNAVAILABLE (CHANNEL_UNAVAILABLE), and the next one, whole, comes through."""
    payment = await create(gateway, METHODS["wechat"], 124, payer)
    await wechat.set_faults(bill_download_corrupt_rate=1)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as cut:
            await _statement(gateway, "wechatsim")
    finally:
        await wechat.set_faults(bill_download_corrupt_rate=0)
    assert cut.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_reason(cut.value) == ErrorReason.ERROR_REASON_CHANNEL_UNAVAILABLE
    assert payment.payment_id.encode() in await _statement(gateway, "wechatsim")


async def test_wallet_statements_come_through_the_gateway(
    gateway: pb_grpc.GatewayServiceAsyncStub, payer: str, db: asyncpg.Connection
) -> None:
    for channel, method in (("alipaysim", "alipay"), ("wechatsim", "wechat")):
        payment = await create(gateway, METHODS[method], 123, payer)
        assert payment.state == pb.Payment.STATE_SUCCEEDED
        await assert_ledger(db, payment.payment_id, [f"{payment.payment_id}:capture"])
        content = await _statement(gateway, channel)
        if channel == "alipaysim":  # a zip of GBK files, as Alipay's bill
            with zipfile.ZipFile(io.BytesIO(content), metadata_encoding="gb18030") as archive:
                (details,) = [n for n in archive.namelist() if n.endswith("_业务明细.csv")]
                content = archive.read(details)
        assert payment.payment_id.encode() in content


@pytest.mark.parametrize("wallet_name", ["alipay", "wechat"])
async def test_an_unpaid_wallet_order_is_closed_at_the_wallet(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    request: pytest.FixtureRequest,
    wallet_name: str,
    payer: str,
    db: asyncpg.Connection,
) -> None:
    wallet: WalletClient = request.getfixturevalue(wallet_name)
    await wallet.set_faults(accepted_rate=1, decide_ms=60_000)  # the buyer never confirms
    payment = await create(gateway, METHODS[wallet_name], 640, payer)
    assert payment.state == pb.Payment.STATE_UNKNOWN

    closed = await gateway.ClosePayment(
        pb.ClosePaymentRequest(request_id=uuid.uuid4().hex, payment_id=payment.payment_id)
    )
    assert closed.payment.state == pb.Payment.STATE_CLOSED
    assert (await wallet.transaction(payment.payment_id))["status"] == "closed"
    again = await gateway.ClosePayment(
        pb.ClosePaymentRequest(request_id=uuid.uuid4().hex, payment_id=payment.payment_id)
    )
    assert again.payment.state == pb.Payment.STATE_CLOSED
    await assert_ledger(db, payment.payment_id, [])
    await limit_state(db, payment.payment_id, "released")


async def test_a_wallet_order_paid_before_the_close_is_not_closed(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    alipay: WalletClient,
    payer: str,
    db: asyncpg.Connection,
) -> None:
    await alipay.set_faults(accepted_rate=1, decide_ms=50, notify_drop_rate=1)
    payment = await create(gateway, pb.PAYMENT_METHOD_ALIPAY, 330, payer)
    assert (await trade_decided(alipay, payment.payment_id))["status"] == "success"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await gateway.ClosePayment(
            pb.ClosePaymentRequest(request_id=uuid.uuid4().hex, payment_id=payment.payment_id)
        )
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(refused.value) == ErrorReason.ERROR_REASON_PAYMENT_NOT_CLOSABLE
    assert (await settled(gateway, payment.payment_id)).state == pb.Payment.STATE_SUCCEEDED
    await assert_ledger(db, payment.payment_id, [f"{payment.payment_id}:capture"])


async def test_a_second_success_on_a_paid_order_is_a_duplicate_refunded_in_full(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    alipay: WalletClient,
    wechat: WalletClient,
    payer: str,
    db: asyncpg.Connection,
) -> None:
    # The buyer confirms in both wallets: two payment orders of one business order, both paid.
    await alipay.set_faults(accepted_rate=1, decide_ms=150)
    await wechat.set_faults(accepted_rate=1, decide_ms=300)
    order = pay_request(pb.PAYMENT_METHOD_ALIPAY, 880, payer)
    first = (await gateway.CreatePayment(order)).payment
    order.request_id, order.method = f"wreq-{secrets.token_hex(8)}", pb.PAYMENT_METHOD_WECHAT_PAY
    second = (await gateway.CreatePayment(order)).payment
    assert (first.state, second.state) == (pb.Payment.STATE_UNKNOWN, pb.Payment.STATE_UNKNOWN)

    paid = await settled(gateway, first.payment_id)
    duplicate = await settled(gateway, second.payment_id)
    assert paid.state == pb.Payment.STATE_SUCCEEDED
    assert duplicate.state == pb.Payment.STATE_DUPLICATE
    assert duplicate.failure_reason == "DUPLICATE_PAYMENT"

    [refund] = await settled_refunds(db, second.payment_id)  # it follows the payment's commit
    assert (refund["amount"], refund["state"], refund["reason"]) == (
        880,
        "succeeded",
        "duplicate payment",
    )
    assert (await wechat.transaction(second.payment_id))["refunded"] == 880
    assert (await alipay.transaction(first.payment_id))["refunded"] == 0
    await assert_ledger(db, first.payment_id, [f"{first.payment_id}:capture"])
    await assert_ledger(
        db,
        second.payment_id,
        [f"{second.payment_id}:capture", f"{refund['refund_id']}:refund"],
    )
    await limit_state(db, first.payment_id, "committed")
    await limit_state(db, second.payment_id, "released")
    assert "payment.duplicate" in await events(db, second.payment_id)

    # A third payment order of the paid order is refused before any channel is asked.
    order.request_id = f"wreq-{secrets.token_hex(8)}"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await gateway.CreatePayment(order)
    assert error_reason(refused.value) == ErrorReason.ERROR_REASON_ORDER_ALREADY_PAID


async def test_a_duplicate_left_unrefunded_by_a_crash_is_refunded_by_the_janitor(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    alipay: WalletClient,
    payer: str,
    db: asyncpg.Connection,
) -> None:
    payment = await create(gateway, pb.PAYMENT_METHOD_ALIPAY, 415, payer)
    assert payment.state == pb.Payment.STATE_SUCCEEDED
    # What a stop right after the duplicate's commit leaves: captured, no refund reserved. A
    # new version, as the gateway's own writes make: the wallet's notification, still on its
    # way, must not write its copy of the payment over this one.
    await db.execute(
        "UPDATE gateway.payments SET state = 'duplicate', failure_reason = 'DUPLICATE_PAYMENT', "
        "version = version + 1 WHERE payment_id = $1",
        payment.payment_id,
    )
    [refund] = await settled_refunds(db, payment.payment_id)
    assert (await alipay.transaction(payment.payment_id))["refunded"] == 415
    await assert_ledger(
        db,
        payment.payment_id,
        [f"{payment.payment_id}:capture", f"{refund['refund_id']}:refund"],
    )


async def test_a_refund_the_wallet_never_answered_is_sent_again_until_it_is(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    wechat: WalletClient,
    payer: str,
    db: asyncpg.Connection,
) -> None:
    payment = await create(gateway, pb.PAYMENT_METHOD_WECHAT_PAY, 905, payer)
    assert payment.state == pb.Payment.STATE_SUCCEEDED
    await wechat.set_faults(error_rate=1)
    answer = await gateway.RefundPayment(refund_request(payment.payment_id, 905))
    refund = answer.refund
    assert refund.state == pb.Refund.STATE_PROCESSING  # no definite answer: neither paid nor failed
    assert (await wechat.transaction(payment.payment_id))["refunded"] == 0

    await wechat.reset_faults()
    # The janitor waits as long as the refund has been pending (doubling, 10 s to 10 min):
    # pending an hour and last sent a minute ago, it is not due yet.
    shift = (
        "UPDATE gateway.refunds SET created_at = now() - $2::interval, "
        "updated_at = now() - $3::interval WHERE refund_id = $1"
    )
    await db.execute(shift, refund.refund_id, timedelta(hours=1), timedelta(minutes=1))
    await asyncio.sleep(2.5)  # a few janitor passes
    assert (await wechat.transaction(payment.payment_id))["refunded"] == 0
    await db.execute(shift, refund.refund_id, timedelta(hours=1), timedelta(minutes=11))
    await settled_refunds(db, payment.payment_id)
    got = await gateway.GetRefund(pb.GetRefundRequest(refund_id=refund.refund_id))
    assert got.refund.state == pb.Refund.STATE_SUCCEEDED
    assert (await wechat.transaction(payment.payment_id))["refunded"] == 905
    await assert_ledger(
        db, payment.payment_id, [f"{payment.payment_id}:capture", f"{refund.refund_id}:refund"]
    )

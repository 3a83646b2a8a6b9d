"""The wallet simulator over real HTTP, both flavours: signatures, pay, notify, refund."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from channelsim.amounts import yuan
from paysuite.http_signing import new_nonce, sign
from tests.integration.wallet_client import (
    MERCHANT,
    Receiver,
    Reply,
    WalletClient,
    receiving,
    running_wallet,
    wallet_settings,
)
from walletsim.settings import Flavour

SECRET = "wallet-test-secret"
BUYER_CODE = "286012345678901234"  # a buyer's payment code: must never reach a log

FLAVOURS = [Flavour.ALIPAY, Flavour.WECHAT]


@pytest.fixture(params=FLAVOURS, ids=lambda f: f.value)
async def wallet(request: pytest.FixtureRequest) -> AsyncIterator[WalletClient]:
    async with running_wallet(wallet_settings(request.param, SECRET)) as client:
        yield client


@pytest.fixture
async def alipay() -> AsyncIterator[WalletClient]:
    async with running_wallet(wallet_settings(Flavour.ALIPAY, SECRET)) as client:
        yield client


@pytest.fixture
async def wechat() -> AsyncIterator[WalletClient]:
    async with running_wallet(wallet_settings(Flavour.WECHAT, SECRET)) as client:
        yield client


@pytest.fixture
async def receiver(wallet: WalletClient) -> AsyncIterator[tuple[Receiver, str]]:
    merchant_end = Receiver(wallet.flavour, SECRET)
    async with receiving(merchant_end) as url:
        yield merchant_end, url


def _no() -> str:
    return f"pay_{secrets.token_hex(8)}"


async def pay(w: WalletClient, no: str, fen: int, url: str, **extra: Any) -> dict[str, Any]:
    """The pay answer with "_state": success, waiting, failed or the error code."""
    if w.flavour is Flavour.ALIPAY:
        content = {
            "out_trade_no": no,
            "total_amount": yuan(fen),
            "subject": "test order",
            "auth_code": BUYER_CODE,
            **extra,
        }
        answer = await w.alipay("alipay.trade.pay", content, url)
        state = {"10000": "success", "10003": "waiting"}.get(answer["code"])
        return {**answer, "_state": state or answer.get("sub_code")}
    payload = {
        "mchid": MERCHANT,
        "out_trade_no": no,
        "description": "test order",
        "notify_url": url,
        "amount": {"total": fen, "currency": "CNY"},
        "payer": {"auth_code": BUYER_CODE},
        **extra,
    }
    reply = await w.call("POST", "/v3/pay/transactions/codepay", payload)
    w.assert_signed(reply)
    body: dict[str, Any] = reply.json()
    if reply.status != 200:
        return {**body, "_state": body["code"]}
    state = {"SUCCESS": "success", "USERPAYING": "waiting"}[body["trade_state"]]
    return {**body, "_state": state}


async def query(w: WalletClient, no: str) -> str:
    """The trade status word the wallet answers, or NOT_EXIST."""
    if w.flavour is Flavour.ALIPAY:
        answer = await w.alipay("alipay.trade.query", {"out_trade_no": no})
        if answer["code"] != "10000":
            assert answer["sub_code"] == "ACQ.TRADE_NOT_EXIST"
            return "NOT_EXIST"
        return str(answer["trade_status"])
    reply = await w.call(
        "GET", f"/v3/pay/transactions/out-trade-no/{no}", params={"mchid": MERCHANT}
    )
    w.assert_signed(reply)
    if reply.status == 404:
        assert reply.json()["code"] == "ORDER_NOT_EXIST"
        return "NOT_EXIST"
    return str(reply.json()["trade_state"])


PAID = {Flavour.ALIPAY: "TRADE_SUCCESS", Flavour.WECHAT: "SUCCESS"}
WAITING = {Flavour.ALIPAY: "WAIT_BUYER_PAY", Flavour.WECHAT: "USERPAYING"}


def _status(received: dict[str, Any], flavour: Flavour) -> str:
    if flavour is Flavour.ALIPAY:
        return str(received["trade_status"])
    return str(received["resource"]["trade_state"])


def _notify_id(received: dict[str, Any], flavour: Flavour) -> str:
    return str(received["notify_id"] if flavour is Flavour.ALIPAY else received["id"])


async def _until(condition: Any, timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_requests_must_be_signed_fresh_and_unreplayed(wallet: WalletClient) -> None:
    payload = {"app_id": MERCHANT, "method": "alipay.trade.query", "biz_content": {}}
    path, method = "/gateway.do", "POST"
    if wallet.flavour is Flavour.WECHAT:
        payload, path = {"mchid": MERCHANT}, "/v3/pay/transactions/out-trade-no/pay_x/close"

    def refused(reply: Reply) -> bool:
        if wallet.flavour is Flavour.ALIPAY:
            # Alipay answers HTTP 200 and says it in the body.
            error = reply.json()["error_response"]
            return reply.status == 200 and bool(error["code"] == "40002")
        return reply.status == 401 and bool(reply.json()["code"] == "SIGN_ERROR")

    unsigned = await wallet.call(method, path, payload, signature="")
    forged = await wallet.call(method, path, payload, secret="not-the-secret")
    stale = sign(SECRET.encode(), b"{}", now=int(time.time()) - 3600, nonce=new_nonce())
    expired = await wallet.call(method, path, {}, signature=stale)
    for reply in (unsigned, forged, expired):
        assert refused(reply), reply.body
        wallet.assert_signed(reply)  # even refusals are signed
    # The same signed request twice: the second is a replay, whatever the first answered.
    body = json.dumps(payload).encode()
    header = sign(SECRET.encode(), body, now=int(time.time()), nonce=new_nonce())
    await wallet.call(method, path, payload, signature=header)
    replay = await wallet.call(method, path, payload, signature=header)
    assert refused(replay), replay.body
    replayed_code = "isv.repeated-request" if wallet.flavour is Flavour.ALIPAY else "请求重放"
    assert replayed_code in replay.body.decode()
    async with wallet.session.get(wallet.base_url + "/healthz") as health:
        assert health.status == 200  # admin and health routes are unsigned


async def test_pay_is_idempotent_by_out_trade_no(
    wallet: WalletClient, receiver: tuple[Receiver, str]
) -> None:
    _, url = receiver
    no = _no()
    first = await pay(wallet, no, 1234, url)
    again = await pay(wallet, no, 1234, url)
    assert first["_state"] == again["_state"] == "success"
    key = "trade_no" if wallet.flavour is Flavour.ALIPAY else "transaction_id"
    assert first[key] == again[key]
    other = await pay(wallet, no, 999, url)
    assert other["_state"] == (
        "ACQ.CONTEXT_INCONSISTENT" if wallet.flavour is Flavour.ALIPAY else "OUT_TRADE_NO_USED"
    )
    trades = await wallet.admin("GET", "/_admin/transactions")
    assert [t["out_trade_no"] for t in trades].count(no) == 1
    if wallet.flavour is Flavour.ALIPAY:
        assert first["total_amount"] == "12.34"  # yuan strings
    else:
        assert first["amount"]["total"] == 1234  # integer fen


async def test_accepted_then_decided_by_the_buyer_and_notified(
    wallet: WalletClient, receiver: tuple[Receiver, str]
) -> None:
    merchant_end, url = receiver
    await wallet.set_faults(accepted_rate=1, decide_ms=150)
    no = _no()
    answer = await pay(wallet, no, 500, url)
    assert answer["_state"] == "waiting"
    assert await query(wallet, no) == WAITING[wallet.flavour]
    await _until(lambda: merchant_end.received)
    [notice] = merchant_end.received
    assert _status(notice, wallet.flavour) == PAID[wallet.flavour]
    assert await query(wallet, no) == PAID[wallet.flavour]
    [delivery] = await wallet.settled_notifications(no, 1)
    assert delivery["acknowledged"] and len(delivery["attempts"]) == 1
    assert delivery["notify_id"] == _notify_id(notice, wallet.flavour)


async def test_a_buyer_who_cannot_pay_is_notified_only_by_alipay(
    wallet: WalletClient, receiver: tuple[Receiver, str]
) -> None:
    merchant_end, url = receiver
    await wallet.set_faults(accepted_rate=1, decline_rate=1, decide_ms=50)
    no = _no()
    assert (await pay(wallet, no, 300, url))["_state"] == "waiting"
    if wallet.flavour is Flavour.ALIPAY:
        await _until(lambda: merchant_end.received)
        assert merchant_end.received[0]["trade_status"] == "TRADE_CLOSED"
        assert await query(wallet, no) == "TRADE_CLOSED"
    else:
        # WeChat Pay notifies successes only: the merchant must ask.
        await asyncio.sleep(0.2)
        assert await query(wallet, no) == "PAYERROR"
        assert merchant_end.received == []
        assert await wallet.notifications(no) == []
    await wallet.set_faults(accepted_rate=0)
    declined = await pay(wallet, _no(), 300, url)
    assert declined["_state"] == (
        "ACQ.BUYER_BALANCE_NOT_ENOUGH" if wallet.flavour is Flavour.ALIPAY else "NOT_ENOUGH"
    )


async def test_a_late_notification_comes_after_its_delay(
    wallet: WalletClient, receiver: tuple[Receiver, str]
) -> None:
    merchant_end, url = receiver
    await wallet.set_faults(notify_delay_ms=300)
    started = time.monotonic()
    no = _no()
    assert (await pay(wallet, no, 100, url))["_state"] == "success"
    await asyncio.sleep(0.15)
    assert merchant_end.received == []
    await _until(lambda: merchant_end.received)
    assert merchant_end.times[0] - started >= 0.3


async def test_a_duplicated_notification_is_sent_twice_with_one_id(
    wallet: WalletClient, receiver: tuple[Receiver, str]
) -> None:
    merchant_end, url = receiver
    await wallet.set_faults(notify_duplicate_rate=1)
    no = _no()
    await pay(wallet, no, 100, url)
    deliveries = await wallet.settled_notifications(no, 2)
    assert [d["duplicate"] for d in deliveries] == [False, True]
    assert all(d["acknowledged"] for d in deliveries)
    ids = {_notify_id(r, wallet.flavour) for r in merchant_end.received}
    assert len(merchant_end.received) == 2 and len(ids) == 1


async def test_a_notification_storm_sends_each_notification_as_often_as_dialled(
    wallet: WalletClient, receiver: tuple[Receiver, str]
) -> None:
    merchant_end, url = receiver
    await wallet.set_faults(notify_copies=10)
    no = _no()
    await pay(wallet, no, 100, url)
    deliveries = await wallet.settled_notifications(no, 10)
    assert [d["duplicate"] for d in deliveries] == [False] + [True] * 9
    assert all(d["acknowledged"] for d in deliveries)
    ids = {_notify_id(r, wallet.flavour) for r in merchant_end.received}
    assert len(merchant_end.received) == 10 and len(ids) == 1


async def test_a_dropped_notification_is_never_sent(
    wallet: WalletClient, receiver: tuple[Receiver, str]
) -> None:
    merchant_end, url = receiver
    await wallet.set_faults(notify_drop_rate=1)
    no = _no()
    await pay(wallet, no, 100, url)
    [delivery] = await wallet.settled_notifications(no, 1)
    assert delivery["dropped"] and delivery["attempts"] == []
    await asyncio.sleep(0.1)
    assert merchant_end.received == []
    assert await query(wallet, no) == PAID[wallet.flavour]


async def test_notifications_are_retried_with_backoff_until_acknowledged(
    wallet: WalletClient, receiver: tuple[Receiver, str]
) -> None:
    merchant_end, url = receiver
    merchant_end.refuse = 2
    await wallet.set_faults(notify_backoff_ms=40)
    no = _no()
    await pay(wallet, no, 100, url)
    [delivery] = await wallet.settled_notifications(no, 1)
    assert delivery["acknowledged"]
    assert [a["http_status"] for a in delivery["attempts"]] == [500, 500, ACK[wallet.flavour]]
    gaps = [b - a for a, b in zip(merchant_end.times, merchant_end.times[1:], strict=False)]
    assert all(gap >= 0.035 for gap in gaps)


ACK = {Flavour.ALIPAY: 200, Flavour.WECHAT: 204}


async def test_notifications_are_given_up_after_the_last_attempt(
    wallet: WalletClient, receiver: tuple[Receiver, str]
) -> None:
    merchant_end, url = receiver
    merchant_end.refuse = 100
    await wallet.set_faults(notify_backoff_ms=10, notify_max_attempts=3)
    no = _no()
    await pay(wallet, no, 100, url)
    [delivery] = await wallet.settled_notifications(no, 1)
    assert delivery["gave_up"] and not delivery["acknowledged"]
    assert len(delivery["attempts"]) == 3 == merchant_end.refused


async def test_alipay_wants_the_literal_success_body(alipay: WalletClient) -> None:
    merchant_end = Receiver(Flavour.ALIPAY, SECRET, answer=lambda: (200, b"OK"))
    await alipay.set_faults(notify_backoff_ms=10, notify_max_attempts=2)
    async with receiving(merchant_end) as url:
        no = _no()
        await pay(alipay, no, 100, url)
        [delivery] = await alipay.settled_notifications(no, 1)
    assert delivery["gave_up"] and [a["http_status"] for a in delivery["attempts"]] == [200, 200]


async def test_only_loopback_notify_targets_are_accepted(wallet: WalletClient) -> None:
    for url in ("http://example.com/notify", "ftp://127.0.0.1/x", "http://10.0.0.1:80/n"):
        answer = await pay(wallet, _no(), 100, url)
        assert answer["_state"] in ("isv.invalid-parameter", "PARAM_ERROR"), url
    assert await wallet.admin("GET", "/_admin/transactions") == []


async def test_alipay_query_close_and_refund(alipay: WalletClient) -> None:
    url = "http://127.0.0.1:9/notify"  # nobody listens: notifications are retried, no matter
    await alipay.set_faults(notify_max_attempts=1)
    assert await query(alipay, "pay_missing") == "NOT_EXIST"
    await alipay.set_faults(accepted_rate=1, decide_ms=60_000)
    waiting = _no()
    await pay(alipay, waiting, 800, url)
    closed = await alipay.alipay("alipay.trade.close", {"out_trade_no": waiting})
    assert closed["code"] == "10000"
    assert await query(alipay, waiting) == "TRADE_CLOSED"
    await alipay.set_faults(accepted_rate=0)
    paid = _no()
    await pay(alipay, paid, 1000, url)
    refused = await alipay.alipay("alipay.trade.close", {"out_trade_no": paid})
    assert refused["sub_code"] == "ACQ.TRADE_STATUS_ERROR"

    async def refund(amount: str, request_no: str, trade: str = paid) -> dict[str, Any]:
        content = {"out_trade_no": trade, "refund_amount": amount, "out_request_no": request_no}
        return await alipay.alipay("alipay.trade.refund", content)

    first = await refund("3.00", "rf-1")
    assert (first["code"], first["fund_change"], first["refund_fee"]) == ("10000", "Y", "3.00")
    repeat = await refund("3.00", "rf-1")
    assert (repeat["code"], repeat["fund_change"], repeat["refund_fee"]) == ("10000", "N", "3.00")
    assert (await refund("4.00", "rf-1"))["sub_code"] == "ACQ.CONTEXT_INCONSISTENT"
    assert (await refund("7.01", "rf-2"))["sub_code"] == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
    assert (await refund("1.00", "rf-3", waiting))["sub_code"] == "ACQ.TRADE_STATUS_ERROR"
    assert (await refund("7.00", "rf-4"))["refund_fee"] == "10.00"
    assert await query(alipay, paid) == "TRADE_CLOSED"  # refunded in full


async def test_wechat_query_close_and_refund(wechat: WalletClient) -> None:
    url = "http://127.0.0.1:9/notify"
    await wechat.set_faults(notify_max_attempts=1, accepted_rate=1, decide_ms=60_000)
    waiting = _no()
    await pay(wechat, waiting, 800, url)
    close_path = f"/v3/pay/transactions/out-trade-no/{waiting}/close"
    closed = await wechat.call("POST", close_path, {"mchid": MERCHANT})
    assert (closed.status, closed.body) == (204, b"")
    wechat.assert_signed(closed)
    assert await query(wechat, waiting) == "CLOSED"
    await wechat.set_faults(accepted_rate=0)
    paid = _no()
    await pay(wechat, paid, 1000, url)
    refused = await wechat.call(
        "POST", f"/v3/pay/transactions/out-trade-no/{paid}/close", {"mchid": MERCHANT}
    )
    assert (refused.status, refused.json()["code"]) == (400, "ORDERPAID")

    async def refund(fen: int, refund_no: str, total: int = 1000) -> tuple[int, dict[str, Any]]:
        payload = {
            "out_trade_no": paid,
            "out_refund_no": refund_no,
            "amount": {"refund": fen, "total": total, "currency": "CNY"},
        }
        reply = await wechat.call("POST", "/v3/refund/domestic/refunds", payload)
        wechat.assert_signed(reply)
        return reply.status, reply.json()

    status, first = await refund(300, "rf-1")
    assert (status, first["status"], first["amount"]["refund"]) == (200, "SUCCESS", 300)
    status, repeat = await refund(300, "rf-1")
    assert status == 200 and repeat["refund_id"] == first["refund_id"]
    assert (await refund(300, "rf-2", total=999))[1]["code"] == "PARAM_ERROR"
    assert (await refund(701, "rf-3"))[1]["code"] == "INVALID_REQUEST"
    assert await query(wechat, paid) == "REFUND"


async def test_injected_errors_and_timeouts(wallet: WalletClient) -> None:
    url = "http://127.0.0.1:9/notify"
    await wallet.set_faults(error_rate=1, notify_max_attempts=1)
    path = "/gateway.do" if wallet.flavour is Flavour.ALIPAY else "/v3/pay/transactions/codepay"
    reply = await wallet.call("POST", path, {})
    assert reply.status == 503
    wallet.assert_signed(reply)
    await wallet.set_faults(error_rate=0, timeout_rate=1, timeout_sleep_ms=400)
    no = _no()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(pay(wallet, no, 100, url), 0.15)
    # The order was taken although the answer never came.
    assert await query(wallet, no) == PAID[wallet.flavour]


async def test_buyer_data_is_never_logged(
    wallet: WalletClient, receiver: tuple[Receiver, str], caplog: pytest.LogCaptureFixture
) -> None:
    merchant_end, url = receiver
    caplog.set_level(logging.DEBUG)
    await wallet.set_faults(accepted_rate=1, decide_ms=20)
    no = _no()
    await pay(wallet, no, 100, url)
    await _until(lambda: merchant_end.received)
    notice = merchant_end.received[0]
    buyer = (
        [notice["buyer_id"], notice["buyer_logon_id"]]
        if wallet.flavour is Flavour.ALIPAY
        else [notice["resource"]["payer"]["openid"]]
    )
    logged = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert no in logged  # the order is logged ...
    for secret_value in [BUYER_CODE, *buyer]:
        assert secret_value not in logged  # ... the buyer never
    transactions = str(await wallet.admin("GET", "/_admin/transactions"))
    assert all(value not in transactions for value in buyer)

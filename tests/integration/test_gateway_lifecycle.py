"""Unknown payments resolved by query and janitor, closing, refunds, listing, event stream."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import aiohttp
import asyncpg
import grpc
import pytest

from devstack import demo
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.runtime.grpc_errors import error_reason
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect, eventually, payment_events
from tests.integration.conftest import Replica
from tests.integration.paging_support import refused_page_token, tampered
from tests.integration.test_gateway_egress import charges_at_bank

DialFaults = Callable[..., Awaitable[None]]
MERCHANT_ACCOUNT = f"merchant.{demo.MERCHANT_ID}.payable.CNY"


@pytest.fixture
async def gateway(gateway_addr: str) -> pb_grpc.GatewayServiceAsyncStub:
    return pb_grpc.GatewayServiceStub(connect(gateway_addr))


@pytest.fixture
async def ledger(ledger_addr: str) -> lpb_grpc.LedgerServiceAsyncStub:
    return lpb_grpc.LedgerServiceStub(connect(ledger_addr))


@pytest.fixture
async def bank(bank_url: str) -> AsyncIterator[DialFaults]:
    async with aiohttp.ClientSession() as session:

        async def dial(**faults: float) -> None:
            async with session.post(f"{bank_url}/_admin/faults", json=faults) as response:
                assert response.status == 200

        yield dial
        await dial(
            decline_rate=0,
            error_rate=0,
            timeout_rate=0,
            latency_ms=0,
            timeout_sleep_ms=30000,
            false_success_rate=0,
        )


def request(amount: int, order: str | None = None) -> pb.CreatePaymentRequest:
    return pb.CreatePaymentRequest(
        request_id=f"req-{secrets.token_hex(8)}",
        merchant_id=demo.MERCHANT_ID,
        merchant_order_no=order or f"ORD-{secrets.token_hex(6)}",
        amount=Money(currency_code="CNY", minor_units=amount),
        method=pb.PAYMENT_METHOD_BANK_CARD,
        payer_user_id=demo.USER_ID,
    )


async def _balance(ledger: lpb_grpc.LedgerServiceAsyncStub) -> int:
    answer = await ledger.GetAccount(lpb.GetAccountRequest(account_id=MERCHANT_ACCOUNT))
    return answer.account.balance.minor_units


async def _captures(db: asyncpg.Connection, payment_id: str) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM ledger.transfers WHERE transfer_id = $1 AND result = 'posted'",
        f"{payment_id}:capture",
    )
    return count


async def test_a_timed_out_charge_is_unknown_until_a_query_finds_it_paid(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    ledger: lpb_grpc.LedgerServiceAsyncStub,
    bank: DialFaults,
    db: asyncpg.Connection,
) -> None:
    await bank(timeout_rate=1, timeout_sleep_ms=2500)
    before = await _balance(ledger)
    payment = (await gateway.CreatePayment(request(777))).payment
    assert payment.state == pb.Payment.STATE_UNKNOWN
    assert await _balance(ledger) == before
    await bank(timeout_rate=0)
    queried = (
        await gateway.QueryPayment(pb.QueryPaymentRequest(payment_id=payment.payment_id))
    ).payment
    assert queried.state == pb.Payment.STATE_SUCCEEDED
    again = (
        await gateway.QueryPayment(pb.QueryPaymentRequest(payment_id=payment.payment_id))
    ).payment
    assert again.state == pb.Payment.STATE_SUCCEEDED
    assert await eventually(lambda: _balance(ledger), before + 777) == before + 777
    assert await eventually(lambda: _captures(db, payment.payment_id), 1) == 1


async def test_the_janitor_resolves_unknown_payments_by_itself(
    gateway: pb_grpc.GatewayServiceAsyncStub, bank: DialFaults, db: asyncpg.Connection
) -> None:
    await bank(timeout_rate=1, timeout_sleep_ms=2500)
    payment = (await gateway.CreatePayment(request(555))).payment
    assert payment.state == pb.Payment.STATE_UNKNOWN
    await bank(timeout_rate=0)
    state = payment.state
    # The first query is due after 5 s; the suite's janitor may be busy with others' payments.
    for _ in range(300):
        await asyncio.sleep(0.1)
        state = (
            await gateway.GetPayment(pb.GetPaymentRequest(payment_id=payment.payment_id))
        ).payment.state
        if state != pb.Payment.STATE_UNKNOWN:
            break
    assert state == pb.Payment.STATE_SUCCEEDED
    assert await eventually(lambda: _captures(db, payment.payment_id), 1) == 1


async def test_close_waits_for_the_channel_and_closes_a_declined_order(
    gateway: pb_grpc.GatewayServiceAsyncStub, bank: DialFaults
) -> None:
    await bank(timeout_rate=1, timeout_sleep_ms=2500, decline_rate=1)
    payment = (await gateway.CreatePayment(request(333))).payment
    assert payment.state == pb.Payment.STATE_UNKNOWN
    await bank(timeout_rate=0, decline_rate=0)
    closed = (
        await gateway.ClosePayment(
            pb.ClosePaymentRequest(request_id=uuid.uuid4().hex, payment_id=payment.payment_id)
        )
    ).payment
    assert closed.state == pb.Payment.STATE_CLOSED
    paid = (await gateway.CreatePayment(request(100))).payment
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await gateway.ClosePayment(
            pb.ClosePaymentRequest(request_id=uuid.uuid4().hex, payment_id=paid.payment_id)
        )
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_PAYMENT_NOT_CLOSABLE


async def test_one_refund_request_sent_several_times_at_once_is_one_refund(
    gateway: pb_grpc.GatewayServiceAsyncStub,
) -> None:
    for _ in range(3):
        payment = (await gateway.CreatePayment(request(700))).payment
        whole = pb.RefundPaymentRequest(
            request_id=f"rf-twins-{secrets.token_hex(6)}",
            payment_id=payment.payment_id,
            amount=Money(currency_code="CNY", minor_units=700),
            reason="return",
        )
        # Each copy must find its twin's refund, not a payment with no room left.
        answers = await asyncio.gather(*(gateway.RefundPayment(whole) for _ in range(3)))
        assert len({a.refund.refund_id for a in answers}) == 1


async def test_partial_refunds_never_exceed_the_payment(
    gateway: pb_grpc.GatewayServiceAsyncStub, ledger: lpb_grpc.LedgerServiceAsyncStub
) -> None:
    start = await _balance(ledger)
    payment = (await gateway.CreatePayment(request(1000))).payment
    assert payment.state == pb.Payment.STATE_SUCCEEDED
    before = await eventually(lambda: _balance(ledger), start + 1000)
    assert before == start + 1000

    async def refund(amount: int, request_id: str | None = None) -> pb.Refund | int:
        try:
            answer = await gateway.RefundPayment(
                pb.RefundPaymentRequest(
                    request_id=request_id or f"rf-{secrets.token_hex(6)}",
                    payment_id=payment.payment_id,
                    amount=Money(currency_code="CNY", minor_units=amount),
                    reason="return",
                )
            )
        except grpc.aio.AioRpcError as exc:
            return error_reason(exc)
        return answer.refund

    first = await refund(300, "rf-first-" + payment.payment_id)
    assert isinstance(first, pb.Refund) and first.state == pb.Refund.STATE_SUCCEEDED
    replay = await refund(300, "rf-first-" + payment.payment_id)
    assert isinstance(replay, pb.Refund) and replay.refund_id == first.refund_id
    assert (
        await refund(301, "rf-first-" + payment.payment_id)
        == ErrorReason.ERROR_REASON_REQUEST_ID_REUSED
    )
    racing = await asyncio.gather(*(refund(200) for _ in range(6)))
    succeeded = [r for r in racing if isinstance(r, pb.Refund)]
    assert len(succeeded) == 3
    assert all(
        r == ErrorReason.ERROR_REASON_REFUND_EXCEEDS_PAYMENT
        for r in racing
        if not isinstance(r, pb.Refund)
    )
    assert await refund(101) == ErrorReason.ERROR_REASON_REFUND_EXCEEDS_PAYMENT
    last = await refund(100)
    assert isinstance(last, pb.Refund) and last.state == pb.Refund.STATE_SUCCEEDED
    assert await eventually(lambda: _balance(ledger), before - 1000) == before - 1000
    fetched = (await gateway.GetRefund(pb.GetRefundRequest(refund_id=first.refund_id))).refund
    assert fetched.amount.minor_units == 300


async def test_list_payments_filters_and_pages(gateway: pb_grpc.GatewayServiceAsyncStub) -> None:
    order = f"LIST-{secrets.token_hex(4)}"
    first = (await gateway.CreatePayment(request(10, order))).payment
    duplicate = await gateway.CreatePayment(request(11, f"{order}-b"))
    seen: list[str] = []
    token = ""
    while True:
        page = await gateway.ListPayments(
            pb.ListPaymentsRequest(
                merchant_id=demo.MERCHANT_ID,
                state=pb.Payment.STATE_SUCCEEDED,
                page_size=3,
                page_token=token,
            )
        )
        assert all(p.state == pb.Payment.STATE_SUCCEEDED for p in page.payments)
        seen += [p.payment_id for p in page.payments]
        token = page.next_page_token
        if not token:
            break
    assert {first.payment_id, duplicate.payment.payment_id} <= set(seen)
    assert len(seen) == len(set(seen))
    listing = pb.ListPaymentsRequest(merchant_id=demo.MERCHANT_ID, page_size=1)
    token = (await gateway.ListPayments(listing)).next_page_token
    other_state = pb.ListPaymentsRequest(
        merchant_id=demo.MERCHANT_ID, state=pb.Payment.STATE_FAILED, page_token=token
    )
    assert "filters differ" in await refused_page_token(gateway.ListPayments(other_state))
    listing.page_token = tampered(token)
    assert "not a page token" in await refused_page_token(gateway.ListPayments(listing))
    one = await gateway.ListPayments(
        pb.ListPaymentsRequest(merchant_id=demo.MERCHANT_ID, merchant_order_no=order)
    )
    assert [p.payment_id for p in one.payments] == [first.payment_id]


async def _collect(
    gateway: pb_grpc.GatewayServiceAsyncStub, after: int, count: int
) -> list[pb.WatchPaymentEventsResponse]:
    return await payment_events(gateway, demo.MERCHANT_ID, count, after)


async def test_payment_events_stream_in_order_and_resume(
    gateway: pb_grpc.GatewayServiceAsyncStub, db: asyncpg.Connection, bank: DialFaults
) -> None:
    start = await db.fetchval(
        "SELECT coalesce(max(sequence), 0) FROM gateway.payment_events WHERE merchant_id = $1",
        demo.MERCHANT_ID,
    )
    paid = (await gateway.CreatePayment(request(42))).payment
    await bank(decline_rate=1)
    declined = (await gateway.CreatePayment(request(43))).payment
    events = await _collect(gateway, start, 2)
    assert [(e.type, e.payment.payment_id) for e in events] == [
        ("payment.succeeded", paid.payment_id),
        ("payment.failed", declined.payment_id),
    ]
    assert events[0].sequence < events[1].sequence
    resumed = await _collect(gateway, events[0].sequence, 1)
    assert resumed[0].sequence == events[1].sequence


async def test_a_false_success_is_caught_where_the_channel_confirms_by_query(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    replica: Replica,
    ledger: lpb_grpc.LedgerServiceAsyncStub,
    bank: DialFaults,
    db: asyncpg.Connection,
) -> None:
    await bank(false_success_rate=1)
    before = await _balance(ledger)
    # Without the setting, the bank's word is taken: that is why the setting exists.
    believed = (await gateway.CreatePayment(request(665))).payment
    assert believed.state == pb.Payment.STATE_SUCCEEDED
    assert await eventually(lambda: _balance(ledger), before + 665) == before + 665
    confirming = {"banksim": {"confirm_by_query": True}}
    async with replica(channel_changes=confirming) as addr:
        checked = pb_grpc.GatewayServiceStub(connect(addr))
        payment = (await checked.CreatePayment(request(666))).payment
    assert payment.state == pb.Payment.STATE_FAILED
    assert payment.failure_reason == "SUCCESS_NOT_CONFIRMED"

    async def released() -> str:
        state: str = await db.fetchval(
            "SELECT state FROM identity.limit_usages WHERE payment_id = $1", payment.payment_id
        )
        return state

    assert await eventually(released, "released") == "released"
    assert await _captures(db, payment.payment_id) == 0
    assert await _balance(ledger) == before + 665


async def test_a_payment_cut_off_mid_charge_is_recovered_by_the_janitor(
    replica: Replica, bank: DialFaults, db: asyncpg.Connection, bank_url: str
) -> None:
    """A gateway stopped while the bank is answering leaves a processing payment the bank
    charged; the suite's janitor finds it and captures it once."""
    await bank(timeout_rate=1, timeout_sleep_ms=4000)  # charged at once, answered 4 s later
    cut = request(444)
    found = "SELECT payment_id, state, next_query_at - created_at AS wait FROM gateway.payments"
    async with (
        replica(channel_changes={"banksim": {"timeout_seconds": 30.0}}) as addr,
        connect(addr) as channel,
    ):

        async def pay() -> pb.CreatePaymentResponse:
            return await pb_grpc.GatewayServiceStub(channel).CreatePayment(cut)

        call = asyncio.create_task(pay())
        async with asyncio.timeout(10), aiohttp.ClientSession() as http:
            while (
                row := await db.fetchrow(f"{found} WHERE request_id = $1", cut.request_id)
            ) is None:
                await asyncio.sleep(0.05)
            while not await charges_at_bank(http, bank_url, row["payment_id"]):
                await asyncio.sleep(0.05)
    with pytest.raises((grpc.aio.AioRpcError, asyncio.CancelledError)):
        await call  # the replica (and the call) stopped before the bank answered
    await bank(timeout_rate=0)
    row = await db.fetchrow(f"{found} WHERE request_id = $1", cut.request_id)
    assert (row["state"], row["wait"]) == ("processing", timedelta(seconds=40))

    payment_id = row["payment_id"]
    await db.execute(
        "UPDATE gateway.payments SET next_query_at = now() WHERE payment_id = $1", payment_id
    )
    state = "SELECT state FROM gateway.payments WHERE payment_id = $1"
    async with asyncio.timeout(30):
        while await db.fetchval(state, payment_id) != "succeeded":
            await asyncio.sleep(0.1)
        # Booked through the outbox just after the state commits.
        while await _captures(db, payment_id) == 0:
            await asyncio.sleep(0.1)
    assert await _captures(db, payment_id) == 1


async def test_the_event_listener_is_listened_on_again_after_its_connection_is_lost(
    gateway_addr: str, db: asyncpg.Connection
) -> None:
    listening = (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND query LIKE 'LISTEN %gateway_payment_events%'"
    )

    async def listeners() -> list[int]:
        return [row["pid"] for row in await db.fetch(listening)]

    before = await listeners()
    assert before, "the gateway listens for numbered events"
    await db.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", before)

    async def relistened() -> bool:
        now = await listeners()
        return bool(now) and not set(now) & set(before)

    assert await eventually(relistened, True)

"""A day of card and wallet payments through real processes, with channel faults dialled, reconciled
for every channel: the bank lists a payment we never made (long), and its bill leaves a card
payment out (short) and adds one (long); the bank answers a charge paid that it did not debit
(a false success: the gateway's confirming query fails the payment, and the bill, which does not
list it, agrees) and loses the answer of another (the gateway's query finds it paid, and it
matches); Alipay's and WeChat Pay's bills leave a line out (short) and add one (long), and each
wallet answers a payment failed that it took (state mismatch), its notification saying paid
coming late: the gateway flags the payment for reconciliation, the run resolves it and the
gateway's flag is cleared, so the day's next run does not take it up again; WeChat Pay loses a
notification (the gateway's query settles the payment, and it matches). Each difference is
found and parked in suspense once (a run of the day again parks nothing), and cleared by its
business action through `payctl recon resolve`: a refund, a supplementary order (补单), a
write-off, or the channel's corrected bill matching it. The suite is shared: only this test's
own transactions are asserted on, and every fault dialled is put back."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import grpc

from devstack import demo
from devstack.stack import Stack
from paysuite.gateway.v1 import channel_records_pb2 as cpb
from paysuite.gateway.v1 import channel_records_pb2_grpc as cpb_grpc
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.type.v1.money_pb2 import Money
from tests.e2e.payctl_run import payctl
from tests.e2e.soak.faults import LATE_ANSWER_MS
from tests.helpers import connect

METHODS = {
    "banksim": gpb.PAYMENT_METHOD_BANK_CARD,
    "alipaysim": gpb.PAYMENT_METHOD_ALIPAY,
    "wechatsim": gpb.PAYMENT_METHOD_WECHAT_PAY,
}


async def _admin(stack: Stack, channel: str, path: str, payload: Any = None) -> Any:
    url = stack.config.simulator_url(channel) + path
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=payload) as response,
    ):
        assert response.status in (200, 201), await response.text()
        return await response.json()


async def _pay(gateway: gpb_grpc.GatewayServiceAsyncStub, channel: str, amount: int) -> gpb.Payment:
    request = gpb.CreatePaymentRequest(
        request_id=f"e2e-rc-{secrets.token_hex(8)}",
        merchant_id=demo.MERCHANT_ID,
        merchant_order_no=f"E2E-RC-{secrets.token_hex(6)}",
        amount=Money(currency_code="CNY", minor_units=amount),
        method=METHODS[channel],
        payer_user_id=demo.USER_ID,
    )
    payment = (await gateway.CreatePayment(request)).payment
    assert payment.channel == channel
    return payment


async def _settled(gateway: gpb_grpc.GatewayServiceAsyncStub, payment_id: str) -> gpb.Payment:
    """The payment once the gateway knows how it ended (its janitor queries the channel)."""
    async with asyncio.timeout(30):
        while True:
            answer = await gateway.GetPayment(gpb.GetPaymentRequest(payment_id=payment_id))
            if answer.payment.state != gpb.Payment.STATE_UNKNOWN:
                return answer.payment
            await asyncio.sleep(0.2)


async def _posted(ledger: lpb_grpc.LedgerServiceAsyncStub, transfer_ids: list[str]) -> None:
    """Waits until the gateway's outbox has posted each transfer to the ledger."""
    async with asyncio.timeout(20):
        for transfer_id in transfer_ids:
            while True:
                try:
                    await ledger.GetTransfer(lpb.GetTransferRequest(transfer_id=transfer_id))
                    break
                except grpc.aio.AioRpcError as exc:
                    assert exc.code() == grpc.StatusCode.NOT_FOUND
                    await asyncio.sleep(0.1)


async def _flagged(records: cpb_grpc.ChannelRecordsServiceAsyncStub, channel: str) -> set[str]:
    """The channel's payments the gateway has flagged for reconciliation."""
    found: set[str] = set()
    token = ""
    while True:
        page = await records.ListFlaggedPayments(
            cpb.ListFlaggedPaymentsRequest(channel=channel, page_size=5000, page_token=token)
        )
        found |= {p.payment_id for p in page.payments}
        token = page.next_page_token
        if not token:
            return found


async def _flagged_soon(
    records: cpb_grpc.ChannelRecordsServiceAsyncStub, channel: str, payment_id: str
) -> None:
    """Waits until the late notification contradicting the payment has had it flagged."""
    async with asyncio.timeout(30):
        while payment_id not in await _flagged(records, channel):
            await asyncio.sleep(0.2)


async def _cleared_items(ledger: lpb_grpc.LedgerServiceAsyncStub) -> set[str]:
    found: set[str] = set()
    token = ""
    while True:
        page = await ledger.ListSuspenseItems(
            lpb.ListSuspenseItemsRequest(
                state=lpb.SuspenseItem.STATE_CLEARED, page_size=1000, page_token=token
            )
        )
        found |= {i.item_id for i in page.items}
        token = page.next_page_token
        if not token:
            return found


async def _card_faults(
    stack: Stack, gateway: gpb_grpc.GatewayServiceAsyncStub
) -> tuple[gpb.Payment, gpb.Payment]:
    """A card payment the bank falsely answers paid, and one whose answer it loses, each as the
    gateway ends it: failed by its confirming query, and paid as its later query finds."""
    await _admin(stack, "banksim", "/_admin/faults", {"false_success_rate": 1})
    try:
        falsely_paid = await _pay(gateway, "banksim", 666)
    finally:
        await _admin(stack, "banksim", "/_admin/faults", {"false_success_rate": 0})
    assert falsely_paid.state == gpb.Payment.STATE_FAILED
    assert falsely_paid.failure_reason == "SUCCESS_NOT_CONFIRMED"
    late = {"timeout_rate": 1, "timeout_sleep_ms": LATE_ANSWER_MS}
    await _admin(stack, "banksim", "/_admin/faults", late)
    try:
        unanswered = await _pay(gateway, "banksim", 999)
    finally:
        await _admin(
            stack, "banksim", "/_admin/faults", {"timeout_rate": 0, "timeout_sleep_ms": 30_000}
        )
    assert unanswered.state == gpb.Payment.STATE_UNKNOWN
    unanswered = await _settled(gateway, unanswered.payment_id)
    assert unanswered.state == gpb.Payment.STATE_SUCCEEDED
    return falsely_paid, unanswered


def _recon(stack: Stack, *args: str) -> Any:
    return payctl(stack, "recon", *args, "--recon", stack.config.addr("recon"))


def _run(stack: Stack, channel: str, day: str) -> dict[str, Any]:
    run: dict[str, Any] = _recon(stack, "run", "--channel", channel, "--date", day)
    assert run["state"] == "completed", run["failure"]
    return run


def _mine(stack: Stack, channel: str, day: str, ids: set[str]) -> dict[str, dict[str, Any]]:
    """This test's discrepancies of the channel's date, by transaction id."""
    listed = _recon(stack, "list", "--channel", channel, "--date", day)["discrepancies"]
    return {d["transaction_id"]: d for d in listed if d["transaction_id"] in ids}


async def test_a_day_of_card_and_wallet_payments_reconciles_for_every_channel(
    stack: Stack,
) -> None:
    day = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    bank_only = f"pay_bank_only_{secrets.token_hex(5)}"
    async with (
        connect(stack.config.addr("gateway")) as gateway_channel,
        connect(stack.config.addr("ledger")) as ledger_channel,
    ):
        gateway = gpb_grpc.GatewayServiceStub(gateway_channel)
        records = cpb_grpc.ChannelRecordsServiceStub(gateway_channel)
        ledger = lpb_grpc.LedgerServiceStub(ledger_channel)
        paid = {ch: [await _pay(gateway, ch, 2000 + n) for n in range(3)] for ch in METHODS}
        assert all(p.state == gpb.Payment.STATE_SUCCEEDED for ps in paid.values() for p in ps)
        refund = await gateway.RefundPayment(
            gpb.RefundPaymentRequest(
                request_id=f"e2e-rf-{secrets.token_hex(6)}",
                payment_id=paid["wechatsim"][0].payment_id,
                amount=Money(currency_code="CNY", minor_units=500),
                reason="customer asked",
            )
        )
        # Each wallet answers one payment failed although it took the money; its notification
        # saying paid comes late, after the gateway failed the payment: a contradiction the
        # gateway flags for reconciliation.
        taken = {}
        for channel in ("alipaysim", "wechatsim"):
            late = {"false_failure_rate": 1, "notify_delay_ms": 1500}
            await _admin(stack, channel, "/_admin/faults", late)
            try:
                taken[channel] = await _pay(gateway, channel, 777)
                assert taken[channel].state == gpb.Payment.STATE_FAILED
                await _flagged_soon(records, channel, taken[channel].payment_id)
            finally:
                await _admin(
                    stack,
                    channel,
                    "/_admin/faults",
                    {"false_failure_rate": 0, "notify_delay_ms": 0},
                )
        falsely_paid, unanswered = await _card_faults(stack, gateway)
        # WeChat Pay loses the notification of a payment its buyer took a moment to confirm:
        # the gateway's query finds it paid, and the bill agrees.
        quiet = {"accepted_rate": 1, "decide_ms": 300, "notify_drop_rate": 1}
        await _admin(stack, "wechatsim", "/_admin/faults", quiet)
        try:
            unnotified = await _pay(gateway, "wechatsim", 888)
        finally:
            calm = {"accepted_rate": 0, "decide_ms": 2000, "notify_drop_rate": 0}
            await _admin(stack, "wechatsim", "/_admin/faults", calm)
        assert unnotified.state == gpb.Payment.STATE_UNKNOWN
        unnotified = await _settled(gateway, unnotified.payment_id)
        assert unnotified.state == gpb.Payment.STATE_SUCCEEDED
        # The bank lists a payment we never made; each channel's bill leaves a line out and
        # adds one of a payment it never made.
        await _admin(
            stack,
            "banksim",
            "/_admin/transactions",
            {"out_trade_no": bank_only, "amount": 321, "currency": "CNY", "status": "SUCCESS"},
        )
        for channel in METHODS:
            await _admin(
                stack,
                channel,
                f"/_admin/bills/{day}/faults",
                {"omit": [paid[channel][1].payment_id], "extra_lines": 1},
            )
        await _posted(
            ledger,
            [
                f"{p.payment_id}:capture"
                for ps in [*paid.values(), [unnotified, unanswered]]
                for p in ps
            ]
            + [f"{refund.refund.refund_id}:refund"],
        )

        ids = {p.payment_id for ps in paid.values() for p in ps} | {
            refund.refund.refund_id,
            bank_only,
            unnotified.payment_id,
            falsely_paid.payment_id,
            unanswered.payment_id,
            *(p.payment_id for p in taken.values()),
        }
        flagged = {channel: await _flagged(records, channel) & ids for channel in METHODS}
        assert flagged == {
            "banksim": set(),
            "alipaysim": {taken["alipaysim"].payment_id},
            "wechatsim": {taken["wechatsim"].payment_id},
        }
        runs = {channel: _run(stack, channel, day) for channel in METHODS}
        # The flagged payments are resolved by the run (each a state mismatch, below) and the
        # gateway no longer lists them as flagged.
        for channel in METHODS:
            assert runs[channel]["flagged_resolved"] >= len(flagged[channel])
            assert not await _flagged(records, channel) & ids
        found = {channel: _mine(stack, channel, day, ids) for channel in METHODS}
        for channel in METHODS:  # the made-up lines, by their order numbers
            listed = _recon(stack, "list", "--channel", channel, "--date", day, "--outcome", "long")
            made_up = [d for d in listed["discrepancies"] if d["transaction_id"].startswith("X")]
            assert len(made_up) == 1 and made_up[0]["our_state"] == ""
            found[channel]["made-up"] = made_up[0]
        outcomes = {ch: {i: d["outcome"] for i, d in f.items()} for ch, f in found.items()}
        assert outcomes == {
            "banksim": {
                bank_only: "long",
                paid["banksim"][1].payment_id: "short",
                "made-up": "long",
            },
            "alipaysim": {
                paid["alipaysim"][1].payment_id: "short",
                taken["alipaysim"].payment_id: "state_mismatch",
                "made-up": "long",
            },
            "wechatsim": {
                paid["wechatsim"][1].payment_id: "short",
                taken["wechatsim"].payment_id: "state_mismatch",
                "made-up": "long",
            },
        }
        assert found["banksim"][bank_only]["suspense_amount"] == "3.21 CNY"
        for channel in METHODS:
            assert found[channel][paid[channel][1].payment_id]["suspense_amount"] == "-20.01 CNY"
        for channel in ("alipaysim", "wechatsim"):
            assert found[channel][taken[channel].payment_id]["suspense_amount"] == "7.77 CNY"
            assert found[channel][taken[channel].payment_id]["flagged"] is True
        for items in found.values():
            assert all(d["state"] == "open" and d["suspense_item_id"] for d in items.values())

        # Every channel's day again: the same differences, nothing parked twice.
        for channel in METHODS:
            again = _run(stack, channel, day)
            assert again["posted"] == 0 and again["discrepancies"] == runs[channel]["discrepancies"]
            assert again["flagged_resolved"] == 0  # cleared: not resolved a second time
            assert {i: d["discrepancy_id"] for i, d in _mine(stack, channel, day, ids).items()} == {
                i: d["discrepancy_id"] for i, d in found[channel].items() if i != "made-up"
            }

        # Business actions, each through payctl, each clearing its suspense item.
        def resolve(channel: str, key: str, action: str, *extra: str) -> dict[str, Any]:
            done: dict[str, Any] = _recon(
                stack,
                "resolve",
                found[channel][key]["discrepancy_id"],
                "--action",
                action,
                "--reason",
                "end-to-end reconciliation",
                *extra,
            )
            assert done["state"] == "resolved" and done["resolution"]["action"] == action.replace(
                "-", "_"
            )
            return done

        resolve("banksim", bank_only, "refund", "--reference", "bank refund RF-1")
        resolve("banksim", "made-up", "refund", "--reference", "bank refund RF-2")
        booked = resolve("alipaysim", taken["alipaysim"].payment_id, "supplementary-order")
        assert (
            booked["resolution"]["counter_account_id"] == f"merchant.{demo.MERCHANT_ID}.payable.CNY"
        )
        resolve("wechatsim", taken["wechatsim"].payment_id, "refund", "--reference", "WX-RF-9")
        resolve("wechatsim", "made-up", "refund", "--reference", "WX-RF-10")
        written = resolve(
            "wechatsim",
            paid["wechatsim"][1].payment_id,
            "write-off",
            "--approver",
            "finance-lead",
        )
        assert written["resolution"]["counter_account_id"] == "platform.recon_write_off.CNY"
        # The bank and Alipay send their bills again, corrected: the next run matches what
        # each now lists.
        for channel, matched_later in (("banksim", 1), ("alipaysim", 2)):
            await _admin(stack, channel, f"/_admin/bills/{day}/correct")
            corrected = _run(stack, channel, day)
            assert corrected["import_id"] != runs[channel]["import_id"]
            assert corrected["matched_later"] >= matched_later and corrected["posted"] == 0
        after = {channel: _mine(stack, channel, day, ids) for channel in METHODS}
        for channel in ("banksim", "alipaysim"):
            later = after[channel][paid[channel][1].payment_id]
            assert later["state"] == "resolved"
            assert later["resolution"]["action"] == "matched_later"
        assert all(d["state"] == "resolved" for f in after.values() for d in f.values())
        cleared = await _cleared_items(ledger)
        for channel, items in found.items():
            for key, item in items.items():
                assert item["suspense_item_id"] in cleared, (channel, key)
        # And nothing is parked again by a run after the clearing.
        for channel in METHODS:
            assert _run(stack, channel, day)["posted"] == 0
        # The suite is shared: WeChat Pay's bill of the day is whole again for later tests
        # (the bank's and Alipay's are, corrected above).
        await _admin(stack, "wechatsim", f"/_admin/bills/{day}/correct")

"""A bank payment that turns out paid after a wallet paid the order: duplicate, refunded, and
reconciled as ours (the bank's statement holds it, and so do our records and the ledger)."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
from google.type.date_pb2 import Date

from devstack import demo
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect, outbox_drained


async def _dial_bank(bank_url: str, **faults: float) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{bank_url}/_admin/faults", json=faults) as response,
    ):
        assert response.status == 200


async def test_a_late_bank_success_after_a_wallet_paid_is_refunded_and_reconciles(
    gateway_addr: str, recon_addr: str, bank_url: str, db: asyncpg.Connection
) -> None:
    order = f"DUP-{secrets.token_hex(6)}"

    def pay(method: int) -> pb.CreatePaymentRequest:
        return pb.CreatePaymentRequest(
            request_id=f"dup-{secrets.token_hex(8)}",
            merchant_id=demo.MERCHANT_ID,
            merchant_order_no=order,
            amount=Money(currency_code="CNY", minor_units=266),
            method=method,  # type: ignore[arg-type]
            payer_user_id=demo.USER_ID,
        )

    async with connect(gateway_addr) as channel:
        gateway = pb_grpc.GatewayServiceStub(channel)
        await _dial_bank(bank_url, timeout_rate=1, timeout_sleep_ms=2500)
        try:
            by_card = (await gateway.CreatePayment(pay(pb.PAYMENT_METHOD_BANK_CARD))).payment
        finally:
            await _dial_bank(bank_url, timeout_rate=0, timeout_sleep_ms=30000)
        assert (
            by_card.state == pb.Payment.STATE_UNKNOWN
        )  # the bank took it; the answer came too late
        by_wallet = (await gateway.CreatePayment(pay(pb.PAYMENT_METHOD_WECHAT_PAY))).payment
        assert by_wallet.state == pb.Payment.STATE_SUCCEEDED

        queried = await gateway.QueryPayment(pb.QueryPaymentRequest(payment_id=by_card.payment_id))
        assert queried.payment.state == pb.Payment.STATE_DUPLICATE

    refunds = "SELECT state, amount FROM gateway.refunds WHERE payment_id = $1"
    refunds_ids = "SELECT refund_id FROM gateway.refunds WHERE payment_id = $1"
    async with asyncio.timeout(10):
        while [tuple(r) for r in await db.fetch(refunds, by_card.payment_id)] != [
            ("succeeded", 266)
        ]:
            await asyncio.sleep(0.05)

    # The refund's and the duplicate's postings reach the ledger through the outbox, after the
    # gateway's own rows: reconcile once they are there, or the ledger would differ for now.
    assert await outbox_drained(db)
    day = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    statement_date = Date(year=day.year, month=day.month, day=day.day)
    async with connect(recon_addr) as channel:
        recon = rpb_grpc.ReconServiceStub(channel)
        run = (
            await recon.RunReconciliation(
                rpb.RunReconciliationRequest(
                    request_id=f"dup-rec-{secrets.token_hex(4)}",
                    channel="banksim",
                    statement_date=statement_date,
                )
            )
        ).run
        found: list[rpb.Discrepancy] = []
        token = ""
        while True:
            page = await recon.ListDiscrepancies(
                rpb.ListDiscrepanciesRequest(
                    channel="banksim",
                    statement_date=statement_date,
                    page_size=1000,
                    page_token=token,
                )
            )
            found += page.discrepancies
            token = page.next_page_token
            if not token:
                break
    assert run.state == rpb.ReconciliationRun.STATE_COMPLETED
    [refund_id] = [r["refund_id"] for r in await db.fetch(refunds_ids, by_card.payment_id)]
    ours = (by_card.payment_id, refund_id)
    # The bank's bill the run read has the duplicate as taken and its refund as made ...
    billed = await db.fetch(
        "SELECT kind, amount_minor_units FROM recon.statement_lines"
        " WHERE import_id = $1 AND (order_id = $2 OR refund_id = $3) ORDER BY kind",
        run.import_id,
        *ours,
    )
    assert [tuple(r) for r in billed] == [("payment", 266), ("refund", 266)]
    # ... and each of its lines is either matched (our records and the ledger agree), a
    # difference (a discrepancy) or carried to the next date: neither of the last two, so both
    # matched.
    assert [
        (d.transaction_id, rpb.MatchOutcome.Name(d.outcome))
        for d in found
        if d.transaction_id in ours
    ] == []
    carried = await db.fetchval(
        "SELECT count(*) FROM recon.carried_items WHERE channel = 'banksim' AND from_date = $1"
        " AND (detail->>'key' = $2 OR detail->>'key' = $3)",
        day,
        *ours,
    )
    assert carried == 0
    assert {c.outcome: c.count for c in run.outcome_counts}[rpb.MATCH_OUTCOME_MATCHED] >= 2

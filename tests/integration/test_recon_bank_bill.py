"""Reconciling the card channel on the bank simulator's own bill, fetched through the gateway and
read as what it is, UnionPay's zipped ZM file (S22 charges, S30 refunds): the day's card refunds
are lines of the bill and match ours, a line the bill leaves out (a payment's or a refund's) is
short, a line it adds is long, each parked once; the bank's corrected file, fetched again,
resolves what it now lists; a late bill fails the run until the bank has made it. Only this
test's own transactions are asserted on: the suite's bank serves other tests the same day."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import grpc
import pytest

from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from tests.helpers import connect, outbox_drained
from tests.integration.test_gateway_wallets import create, refund_request
from tests.integration.test_recon_matching import _date, _run
from tests.integration.test_recon_wallets import SHANGHAI, _found

CHANNEL = "banksim"


@pytest.fixture
async def recon(recon_addr: str) -> AsyncIterator[rpb_grpc.ReconServiceAsyncStub]:
    async with connect(recon_addr) as conn:
        yield rpb_grpc.ReconServiceStub(conn)


async def _bill_admin(bank_url: str, path: str, payload: Any = None) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{bank_url}/_admin/bills/{path}", json=payload) as response,
    ):
        assert response.status == 200
        answer: dict[str, Any] = await response.json()
        return answer


async def test_a_card_day_with_refunds_reconciles_on_the_banks_own_bill(
    gateway_stub: gpb_grpc.GatewayServiceAsyncStub,
    recon: rpb_grpc.ReconServiceAsyncStub,
    bank_url: str,
    demo_user: str,
    db: asyncpg.Connection,
) -> None:
    gateway, day = gateway_stub, datetime.now(UTC).astimezone(SHANGHAI).date()
    card = gpb.PAYMENT_METHOD_BANK_CARD
    paid = [await create(gateway, card, 2_000 + n, demo_user) for n in range(3)]
    assert all(p.state == gpb.Payment.STATE_SUCCEEDED for p in paid)
    assert all(p.channel == CHANNEL for p in paid)
    kept, left_out = [
        (await gateway.RefundPayment(refund_request(p.payment_id, 300))).refund
        for p in (paid[0], paid[2])
    ]
    assert kept.state == left_out.state == gpb.Refund.STATE_SUCCEEDED
    faults = {"omit": [paid[1].payment_id, left_out.refund_id], "extra_lines": 1}
    await _bill_admin(bank_url, f"{day.isoformat()}/faults", faults)
    assert await outbox_drained(db)

    run = await _run(recon, CHANNEL, day)
    assert run.import_id and run.statement_rows > 0
    imported = await db.fetchval(
        "SELECT format FROM recon.statement_imports WHERE import_id = $1", run.import_id
    )
    assert imported == "unionpay-zm"
    codes = await db.fetch(
        "SELECT status, count(*) AS n FROM recon.statement_lines WHERE import_id = $1"
        " AND coalesce(nullif(refund_id, ''), order_id) = ANY($2::text[]) GROUP BY status",
        run.import_id,
        [paid[0].payment_id, paid[2].payment_id, kept.refund_id],
    )
    assert {row["status"]: row["n"] for row in codes} == {"S22": 2, "S30": 1}
    found = await _found(recon, CHANNEL, day)
    mine = {p.payment_id for p in paid} | {kept.refund_id, left_out.refund_id}
    # The refund on the bill matches ours three ways; the lines left out are short.
    assert {i: (d.kind, d.outcome) for i, d in found.items() if i in mine} == {
        paid[1].payment_id: (rpb.TRANSACTION_KIND_PAYMENT, rpb.MATCH_OUTCOME_SHORT),
        left_out.refund_id: (rpb.TRANSACTION_KIND_REFUND, rpb.MATCH_OUTCOME_SHORT),
    }
    short, short_refund = found[paid[1].payment_id], found[left_out.refund_id]
    assert short.suspense_transfer_id and short_refund.suspense_transfer_id
    assert short_refund.our_amount.minor_units == 300
    # Parked the way each moved the receivable: a payment's debit, a refund's credit.
    assert short.suspense_amount.minor_units == -paid[1].amount.minor_units
    assert short_refund.suspense_amount.minor_units == 300
    made_up = [d for i, d in found.items() if i.startswith("X") and not d.our_state]
    assert [d.outcome for d in made_up] == [rpb.MATCH_OUTCOME_LONG]

    # The day again: the same file (nothing imported), nothing posted again.
    again = await _run(recon, CHANNEL, day)
    assert again.import_id == run.import_id and again.posted == 0

    # The bank sends its bill again, corrected: fetched anew, it replaces the first and the
    # lines it now lists resolve their differences.
    corrected = await _bill_admin(bank_url, f"{day.isoformat()}/correct")
    assert corrected["version"] == 2
    last = await _run(recon, CHANNEL, day)
    assert last.import_id != run.import_id
    after = await _found(recon, CHANNEL, day)
    for gone in (short, short_refund, made_up[0]):
        resolved = after[gone.transaction_id]
        assert resolved.state == rpb.Discrepancy.STATE_RESOLVED
        assert resolved.resolution.action == rpb.RESOLUTION_ACTION_MATCHED_LATER


async def test_a_late_bank_bill_fails_the_run_until_the_bank_has_made_it(
    recon: rpb_grpc.ReconServiceAsyncStub, bank_url: str
) -> None:
    day = datetime.now(UTC).astimezone(SHANGHAI).date() - timedelta(days=3)
    await _bill_admin(bank_url, f"{day.isoformat()}/faults", {"late_seconds": 600})
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _run(recon, CHANNEL, day)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        listed = await recon.ListRuns(
            rpb.ListRunsRequest(channel=CHANNEL, statement_date=_date(day), page_size=1)
        )
        assert listed.runs[0].state == rpb.ReconciliationRun.STATE_FAILED
    finally:
        await _bill_admin(bank_url, f"{day.isoformat()}/faults", {"late_seconds": 0})
    made = await _run(recon, CHANNEL, day)  # the bill is there now
    assert made.import_id

"""Reconciling the wallet channels on their own bills, fetched through the gateway in each
wallet's published layout (Alipay's zipped GBK bill, WeChat Pay's ALL trade bill): a line the
bill leaves out is short, a line it adds is long, a payment the wallet answered as failed but
took is a state mismatch, each parked once; the corrected bill resolves what it now lists, and a
corrected file imported by hand has the day reconciled again at once. Only this test's own
transactions are asserted on: the suite's wallets serve other tests the same day."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import grpc
import pytest

from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from paysuite.runtime.grpc_errors import error_info
from tests.helpers import connect, outbox_drained
from tests.integration.test_gateway_wallets import METHODS, create, refund_request, settled
from tests.integration.test_recon_matching import _date, _run
from tests.integration.wallet_client import WalletClient

SHANGHAI = ZoneInfo("Asia/Shanghai")
WALLETS = {"alipaysim": "alipay", "wechatsim": "wechat"}
FORMATS = {"alipaysim": rpb.STATEMENT_FORMAT_ALIPAY, "wechatsim": rpb.STATEMENT_FORMAT_WECHAT}


@pytest.fixture
async def gateway(gateway_addr: str) -> AsyncIterator[gpb_grpc.GatewayServiceAsyncStub]:
    async with connect(gateway_addr) as conn:
        yield gpb_grpc.GatewayServiceStub(conn)


@pytest.fixture
async def recon(recon_addr: str) -> AsyncIterator[rpb_grpc.ReconServiceAsyncStub]:
    async with connect(recon_addr) as conn:
        yield rpb_grpc.ReconServiceStub(conn)


async def _found(
    recon: rpb_grpc.ReconServiceAsyncStub, channel: str, day: date
) -> dict[str, rpb.Discrepancy]:
    """The channel's discrepancies of the date, by our transaction id."""
    found: dict[str, rpb.Discrepancy] = {}
    token = ""
    while True:
        page = await recon.ListDiscrepancies(
            rpb.ListDiscrepanciesRequest(
                channel=channel, statement_date=_date(day), page_size=500, page_token=token
            )
        )
        found |= {d.transaction_id: d for d in page.discrepancies}
        token = page.next_page_token
        if not token:
            return found


async def _import(
    recon: rpb_grpc.ReconServiceAsyncStub, channel: str, day: date, content: bytes
) -> rpb.ImportStatementResponse:
    async def messages() -> AsyncIterator[rpb.ImportStatementRequest]:
        upload = rpb.StatementUpload(
            channel=channel, format=FORMATS[channel], statement_date=_date(day)
        )
        yield rpb.ImportStatementRequest(upload=upload)
        yield rpb.ImportStatementRequest(chunk=content)

    answer: rpb.ImportStatementResponse = await recon.ImportStatement(messages())
    return answer


@pytest.mark.parametrize("channel", list(WALLETS))
async def test_a_wallet_day_reconciles_on_the_wallets_own_bill(
    channel: str,
    request: pytest.FixtureRequest,
    gateway: gpb_grpc.GatewayServiceAsyncStub,
    recon: rpb_grpc.ReconServiceAsyncStub,
    payer: str,
    db: asyncpg.Connection,
) -> None:
    wallet: WalletClient = request.getfixturevalue(WALLETS[channel])
    method = METHODS[WALLETS[channel]]
    day = datetime.now(UTC).astimezone(SHANGHAI).date()
    paid = [await create(gateway, method, 1000 + n, payer) for n in range(3)]
    assert all(p.state == gpb.Payment.STATE_SUCCEEDED for p in paid)
    refunded = await gateway.RefundPayment(refund_request(paid[0].payment_id, 300))
    # The wallet's notification of the money it took comes after its answer, as it would: sent
    # at once, it raced the answer and was sometimes applied first.
    await wallet.set_faults(false_failure_rate=1, notify_delay_ms=100)
    try:
        taken = await create(gateway, method, 555, payer)
    finally:
        await wallet.set_faults(false_failure_rate=0, notify_delay_ms=0)
    assert taken.state == gpb.Payment.STATE_FAILED  # but the wallet took the money
    await wallet.admin(
        "POST",
        f"/_admin/bills/{day.isoformat()}/faults",
        {"omit": [paid[1].payment_id], "extra_lines": 1},
    )
    assert await outbox_drained(db)
    await settled(gateway, taken.payment_id)
    await asyncio.sleep(0.4)  # the wallet's notification of the payment it took

    run = await _run(recon, channel, day)
    assert run.import_id and run.statement_rows > 0
    found = await _found(recon, channel, day)
    mine = {p.payment_id for p in paid} | {refunded.refund.refund_id, taken.payment_id}
    assert {i: d.outcome for i, d in found.items() if i in mine} == {
        paid[1].payment_id: rpb.MATCH_OUTCOME_SHORT,
        taken.payment_id: rpb.MATCH_OUTCOME_STATE_MISMATCH,
    }
    made_up = [d for i, d in found.items() if i.startswith("X") and not d.our_state]
    assert [d.outcome for d in made_up] == [rpb.MATCH_OUTCOME_LONG]
    short, state = found[paid[1].payment_id], found[taken.payment_id]
    assert short.suspense_amount.minor_units == -1001 and short.suspense_transfer_id
    assert state.suspense_amount.minor_units == 555 and state.statement_succeeded
    assert made_up[0].suspense_amount.minor_units == made_up[0].statement_amount.minor_units

    # The day again: the same file (nothing imported), the same differences, none posted again.
    again = await _run(recon, channel, day)
    assert again.import_id == run.import_id and again.posted == 0
    assert {i: d.discrepancy_id for i, d in (await _found(recon, channel, day)).items()} == {
        i: d.discrepancy_id for i, d in found.items()
    }

    # The wallet sends the bill again, corrected; imported by hand, the day is reconciled again
    # at once: the short line is there now, the made-up one gone.
    await wallet.admin("POST", f"/_admin/bills/{day.isoformat()}/correct")
    corrected = await _import(recon, channel, day, await wallet.fetch_bill(day.isoformat()))
    assert corrected.statement_import.replaces_import_id == run.import_id
    assert corrected.run.state == rpb.ReconciliationRun.STATE_COMPLETED
    assert corrected.run.import_id == corrected.statement_import.import_id
    assert corrected.run.matched_later >= 2
    after = await _found(recon, channel, day)
    for gone in (short, made_up[0]):
        resolved = after[gone.transaction_id]
        assert resolved.state == rpb.Discrepancy.STATE_RESOLVED
        assert resolved.resolution.action == rpb.RESOLUTION_ACTION_MATCHED_LATER
    assert after[taken.payment_id].state == rpb.Discrepancy.STATE_OPEN
    # Fetched through the gateway again, the corrected file is the import already made.
    last = await _run(recon, channel, day)
    assert last.import_id == corrected.statement_import.import_id and last.posted == 0


@pytest.mark.parametrize("channel", list(WALLETS))
async def test_a_late_bill_fails_the_run_until_the_wallet_has_made_it(
    channel: str,
    request: pytest.FixtureRequest,
    recon: rpb_grpc.ReconServiceAsyncStub,
) -> None:
    wallet: WalletClient = request.getfixturevalue(WALLETS[channel])
    day = datetime.now(UTC).astimezone(SHANGHAI).date() - timedelta(days=3)
    await wallet.admin("POST", f"/_admin/bills/{day.isoformat()}/faults", {"late_seconds": 600})
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _run(recon, channel, day)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        listed = await recon.ListRuns(
            rpb.ListRunsRequest(channel=channel, statement_date=_date(day), page_size=1)
        )
        assert listed.runs[0].state == rpb.ReconciliationRun.STATE_FAILED
        assert "statement could not be fetched" in listed.runs[0].failure
    finally:
        await wallet.admin("POST", f"/_admin/bills/{day.isoformat()}/faults", {"late_seconds": 0})
    made = await _run(recon, channel, day)  # the bill is there now: an empty day
    assert made.import_id and made.discrepancies == 0


async def test_an_alipay_bill_cut_short_in_download_is_not_imported(
    recon: rpb_grpc.ReconServiceAsyncStub, alipay: WalletClient
) -> None:
    """Alipay names no hash of its bill: a download cut short is told by the zip itself, and
    the run fails (FAILED_PRECONDITION, STATEMENT_INVALID) with nothing imported; the next
    download, whole, is reconciled."""
    day = datetime.now(UTC).astimezone(SHANGHAI).date() - timedelta(days=6)
    await alipay.admin("POST", f"/_admin/bills/{day.isoformat()}/faults", {"extra_lines": 2})
    try:
        await alipay.set_faults(bill_download_corrupt_rate=1)
        try:
            with pytest.raises(grpc.aio.AioRpcError) as cut:
                await recon.RunReconciliation(
                    rpb.RunReconciliationRequest(
                        request_id=f"cut-{day.isoformat()}-{datetime.now(UTC).timestamp()}",
                        channel="alipaysim",
                        statement_date=_date(day),
                    )
                )
        finally:
            await alipay.set_faults(bill_download_corrupt_rate=0)
        whole = await _run(recon, "alipaysim", day)
    finally:
        await alipay.admin("POST", f"/_admin/bills/{day.isoformat()}/correct")
    # The channel's file, not the request, was at fault: nothing imported, the run kept failed.
    assert cut.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(cut.value)
    assert info is not None and info.reason == "STATEMENT_INVALID"
    assert "not a readable zip" in str(cut.value.details())
    assert whole.statement_rows == 2

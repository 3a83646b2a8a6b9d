"""A wallet's fees, known from its bill only, booked by reserve reconciliation against a real
ledger. Before the wallet's bill of the date is reconciled the reserve run is refused
(FAILED_PRECONDITION, RECONCILIATION_NOT_CLEAN, naming the channel and date) and posts nothing,
rather than report the wallet short by its fees; once it is, the fees are booked. The wallet's
corrected bill changing them afterwards (reconciled again as it is imported) has the date's
reconciliation book the difference under a transfer of its own (never the first transfer's id
again with another amount, which the ledger refuses), the fee expense then holding what the
corrected bill states; a run again posts nothing. The wallet is a WeChat Pay simulator's bill of
a date of the test's own, imported under a channel of the test's own."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import grpc
import pytest
from google.type.date_pb2 import Date

from paysuite import accounts
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.recon.v1 import funds_service_pb2 as fpb
from paysuite.recon.v1 import funds_service_pb2_grpc as fpb_grpc
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from paysuite.runtime.grpc_errors import error_info
from recon.bootstrap import build_app as build_recon
from recon.settings import ReconSettings
from tests.helpers import connect
from tests.integration.conftest import serving
from tests.integration.wallet_client import WalletClient

WALLET = f"wf{secrets.token_hex(3)}"
# A date nobody else's bills or statements are of.
DAY = date(2004, 1, 1) + timedelta(days=secrets.randbelow(5000))
EXPENSE = accounts.channel_fee_expense("CNY")


@pytest.fixture
async def funds(gateway_addr: str, ledger_addr: str) -> AsyncIterator[str]:
    """A recon booking the test's wallet's fees from its bill, settling on the date itself."""
    settings = ReconSettings(
        gateway_addr=gateway_addr,
        ledger_addr=ledger_addr,
        ranges=4,
        reserve_statement_channel=f"rsf{secrets.token_hex(3)}",
        reserve_settlement_days={WALLET: 0},
        fees_from_bill=(WALLET,),
    )
    async with serving(build_recon, settings) as addr:
        yield addr


def _date(day: date) -> Date:
    return Date(year=day.year, month=day.month, day=day.day)


async def _import_bill(funds: str, wechat: WalletClient, extra_lines: int) -> int:
    """The wallet's bill of the date listing that many payments, imported under the test's
    channel; its fees in fen as reconciliation books them (rounded half up)."""
    await wechat.admin(
        "POST", f"/_admin/bills/{DAY.isoformat()}/faults", {"extra_lines": extra_lines}
    )
    content = await wechat.fetch_bill(DAY.isoformat())

    async def upload() -> AsyncIterator[rpb.ImportStatementRequest]:
        yield rpb.ImportStatementRequest(
            upload=rpb.StatementUpload(
                channel=WALLET, format=rpb.STATEMENT_FORMAT_WECHAT, statement_date=_date(DAY)
            )
        )
        yield rpb.ImportStatementRequest(chunk=content)

    async with connect(funds) as conn:
        answer = await rpb_grpc.ReconServiceStub(conn).ImportStatement(upload())
    (totals,) = answer.statement_import.totals
    assert totals.payments == extra_lines
    return int((Decimal(totals.fee_net) * 100).quantize(Decimal(1), ROUND_HALF_UP))


async def _run_bill(funds: str) -> None:
    """The wallet's bill of the date reconciled (every line long: the gateway has nothing of
    the test's channel)."""
    async with connect(funds) as conn:
        answer = await rpb_grpc.ReconServiceStub(conn).RunReconciliation(
            rpb.RunReconciliationRequest(
                request_id=f"rf-{secrets.token_hex(6)}", channel=WALLET, statement_date=_date(DAY)
            )
        )
    assert answer.run.state == rpb.ReconciliationRun.STATE_COMPLETED, answer.run.failure


async def _reconcile(funds: str) -> fpb.ReconcileReserveAccountResponse:
    async with connect(funds) as conn:
        return await fpb_grpc.FundsServiceStub(conn).ReconcileReserveAccount(
            fpb.ReconcileReserveAccountRequest(statement_date=_date(DAY))
        )


async def _fees_booked(ledger: lpb_grpc.LedgerServiceAsyncStub) -> list[int]:
    """What each of the date's fee transfers moved into the fee expense, in order."""
    first = f"funds:fee:{WALLET}:{DAY.isoformat()}:CNY"
    moved = []
    for transfer_id in (first, *(f"{first}:{n}" for n in range(2, 5))):
        try:
            answer = await ledger.GetTransfer(lpb.GetTransferRequest(transfer_id=transfer_id))
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND
            break
        moved.append(
            sum(
                p.amount.minor_units if p.debit_account_id == EXPENSE else -p.amount.minor_units
                for p in answer.transfer.postings
            )
        )
    return moved


async def test_a_corrected_bill_changing_a_wallets_fees_books_the_difference(
    funds: str, wechat: WalletClient, ledger_stub: lpb_grpc.LedgerServiceAsyncStub
) -> None:
    receivable = accounts.channel_receivable(WALLET, "CNY")
    created = await ledger_stub.CreateAccounts(
        lpb.CreateAccountsRequest(
            accounts=[
                lpb.AccountSpec(
                    account_id=receivable,
                    name=f"Receivable from channel {WALLET}",
                    type=lpb.ACCOUNT_TYPE_ASSET,
                    currency_code="CNY",
                    owner_type=lpb.OWNER_TYPE_CHANNEL,
                )
            ]
        )
    )
    assert created.results[0].result == lpb.CREATE_ACCOUNT_RESULT_CREATED
    try:
        first_fees = await _import_bill(funds, wechat, extra_lines=3)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _reconcile(funds)
        assert await _fees_booked(ledger_stub) == []
        await _run_bill(funds)
        first = await _reconcile(funds)
        assert await _fees_booked(ledger_stub) == [first_fees]
        # The wallet corrects its bill of the date: one payment fewer, so fewer fees.
        corrected_fees = await _import_bill(funds, wechat, extra_lines=2)
        assert 0 < corrected_fees < first_fees
        corrected = await _reconcile(funds)
        again = await _reconcile(funds)
    finally:
        await wechat.admin("POST", f"/_admin/bills/{DAY.isoformat()}/correct")

    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(refused.value)
    assert info is not None and info.reason == "RECONCILIATION_NOT_CLEAN"
    assert info.metadata["channels"] == f"{WALLET} {DAY.isoformat()}"
    assert first.posted > 0
    # The difference, booked under the date's next fee transfer: the expense holds the
    # corrected bill's fees, and the receivable is expected to settle net of them.
    assert await _fees_booked(ledger_stub) == [first_fees, corrected_fees - first_fees]
    assert corrected.posted > 0 and again.posted == 0
    assert [d for d in again.differences if d.channel == WALLET] == [
        d for d in corrected.differences if d.channel == WALLET
    ]

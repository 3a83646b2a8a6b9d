"""The bank's bill comes first too: before a bank channel's bill of a date is reconciled, the
reserve reconciliation of the date is refused (FAILED_PRECONDITION, RECONCILIATION_NOT_CLEAN,
naming the channel and date) and posts nothing, as for a wallet's, rather than settle the date
without what the bill's reconciliation parks; once a run reconciled the bill, the date settles,
and a run again posts nothing. The bank channel and the date are the test's own."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import date, timedelta

import asyncpg
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
from tests.integration.test_recon_matching import HEADER, _import

BANK = f"bb{secrets.token_hex(3)}"
# A date nobody else's bills or statements are of.
DAY = date(2004, 1, 1) + timedelta(days=secrets.randbelow(5000))


@pytest.fixture
async def funds(gateway_addr: str, ledger_addr: str) -> AsyncIterator[str]:
    """A recon whose reserve account settles the test's bank channel on the date itself, its
    bill first."""
    settings = ReconSettings(
        gateway_addr=gateway_addr,
        ledger_addr=ledger_addr,
        ranges=4,
        reserve_statement_channel=f"rsb{secrets.token_hex(3)}",
        reserve_settlement_days={BANK: 0},
        reserve_bills_first=(BANK,),
    )
    async with serving(build_recon, settings) as addr:
        yield addr


def _date(day: date) -> Date:
    return Date(year=day.year, month=day.month, day=day.day)


async def _reconcile(funds: str) -> fpb.ReconcileReserveAccountResponse:
    async with connect(funds) as conn:
        return await fpb_grpc.FundsServiceStub(conn).ReconcileReserveAccount(
            fpb.ReconcileReserveAccountRequest(statement_date=_date(DAY))
        )


async def test_the_reserve_waits_for_the_bank_channels_bill_of_the_date(
    funds: str, ledger_stub: lpb_grpc.LedgerServiceAsyncStub, db: asyncpg.Connection
) -> None:
    receivable = accounts.channel_receivable(BANK, "CNY")
    created = await ledger_stub.CreateAccounts(
        lpb.CreateAccountsRequest(
            accounts=[
                lpb.AccountSpec(
                    account_id=receivable,
                    name=f"Receivable from channel {BANK}",
                    type=lpb.ACCOUNT_TYPE_ASSET,
                    currency_code="CNY",
                    owner_type=lpb.OWNER_TYPE_CHANNEL,
                )
            ]
        )
    )
    assert created.results[0].result == lpb.CREATE_ACCOUNT_RESULT_CREATED
    # The bank's bill of the date: one payment the gateway does not have (long).
    trade = f"T{secrets.token_hex(6)}"
    bill = f"{HEADER}\n{trade},O{trade},,,payment,12.34,CNY,0.07,{DAY} 12:00:00,SUCCESS\n"
    async with connect(funds) as conn:
        recon = rpb_grpc.ReconServiceStub(conn)
        await _import(recon, BANK, DAY, bill)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _reconcile(funds)
        positions = await db.fetchval(
            "SELECT count(*) FROM recon.funds_positions WHERE channel = $1", BANK
        )
        parks = await db.fetchval(
            "SELECT count(*) FROM ledger.transfers WHERE transfer_id LIKE $1", f"funds:%:{BANK}:%"
        )
        run = await recon.RunReconciliation(
            rpb.RunReconciliationRequest(
                request_id=f"rb-{secrets.token_hex(6)}", channel=BANK, statement_date=_date(DAY)
            )
        )
    assert run.run.state == rpb.ReconciliationRun.STATE_COMPLETED, run.run.failure
    settled = await _reconcile(funds)
    again = await _reconcile(funds)

    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(refused.value)
    assert info is not None and info.reason == "RECONCILIATION_NOT_CLEAN"
    assert info.metadata["channels"] == f"{BANK} {DAY.isoformat()}"
    assert (positions, parks) == (0, 0)  # refused before anything was settled or posted
    assert (
        await db.fetchval("SELECT count(*) FROM recon.funds_positions WHERE channel = $1", BANK)
        == 1
    )
    # The date settles with what the bill's reconciliation parked (the long payment) expected.
    assert [
        (d.kind, d.expected.minor_units, d.actual.minor_units, d.parked.minor_units)
        for d in settled.differences
        if d.channel == BANK
    ] == [(fpb.FUNDS_DIFFERENCE_KIND_MISSING, 1_234, 0, 1_234)]
    assert settled.posted > 0
    assert again.posted == 0

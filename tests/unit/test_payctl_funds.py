"""payctl recon reserve against canned in-process recon services: the statement file imported
first when given, the reconciliation asked for the date, and what it prints."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.type.date_pb2 import Date
from typer.testing import CliRunner

from payctl.main import app
from paysuite.recon.v1 import funds_service_pb2 as fpb
from paysuite.recon.v1 import funds_service_pb2_grpc as fpb_grpc
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from paysuite.type.v1.money_pb2 import Money
from tests.unit.canned_grpc import serving_in_thread

Context = grpc.aio.ServicerContext[Any, Any]


def _cny(units: int) -> Money:
    return Money(currency_code="CNY", minor_units=units)


ANSWER = fpb.ReconcileReserveAccountResponse(
    statement_date=Date(year=2026, month=12, day=6),
    import_id="imp_1",
    arrivals=2,
    payouts=1,
    matched=1,
    short=1,
    posted=4,
    balanced=True,
    clean=False,
    balances=[
        fpb.ReserveBalanceCheck(
            bank_closing_balance=_cny(30_013), ledger_balance=_cny(30_013), balanced=True
        )
    ],
    differences=[
        fpb.FundsDifference(
            kind=fpb.FUNDS_DIFFERENCE_KIND_SHORT,
            reference="STL-alipaysim-20261205",
            channel="alipaysim",
            business_date=Date(year=2026, month=12, day=5),
            expected=_cny(7_952),
            actual=_cny(7_802),
            parked=_cny(150),
        )
    ],
)


class CannedRecon(rpb_grpc.ReconServiceServicer, fpb_grpc.FundsServiceServicer):
    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.uploaded = b""

    async def ImportStatement(
        self, request_iterator: AsyncIterator[rpb.ImportStatementRequest], context: Context
    ) -> rpb.ImportStatementResponse:
        async for message in request_iterator:
            if message.HasField("upload"):
                self.requests.append(message.upload)
            self.uploaded += message.chunk
        return rpb.ImportStatementResponse()

    async def ReconcileReserveAccount(
        self, request: fpb.ReconcileReserveAccountRequest, context: Context
    ) -> fpb.ReconcileReserveAccountResponse:
        self.requests.append(request)
        return ANSWER


@pytest.fixture
def recon() -> Iterator[tuple[str, CannedRecon]]:
    canned = CannedRecon()  # type: ignore[abstract]

    def register(server: grpc.aio.Server) -> None:
        rpb_grpc.add_ReconServiceServicer_to_server(canned, server)
        fpb_grpc.add_FundsServiceServicer_to_server(canned, server)

    with serving_in_thread(register) as address:
        yield address, canned


def test_the_statement_is_imported_then_reconciled_and_printed_as_json(
    recon: tuple[str, CannedRecon], tmp_path: Path
) -> None:
    address, canned = recon
    statement = tmp_path / "reserve.xml"
    statement.write_bytes(b"<Document/>")

    result = CliRunner().invoke(
        app,
        [
            "recon",
            "reserve",
            "--date",
            "2026-12-06",
            "--statement",
            str(statement),
            "--recon",
            address,
            "--json",
        ],
    )

    assert result.exit_code == 0, result.output
    upload, request = canned.requests
    assert (upload.channel, upload.format) == ("reserve", rpb.STATEMENT_FORMAT_CAMT053)
    assert canned.uploaded == b"<Document/>"
    assert request.statement_date == Date(year=2026, month=12, day=6)
    data = json.loads(result.output)
    assert (data["statement_date"], data["short"], data["balanced"], data["clean"]) == (
        "2026-12-06",
        1,
        True,
        False,
    )
    assert data["balances"] == [
        {
            "currency": "CNY",
            "bank_closing_minor_units": 30_013,
            "ledger_minor_units": 30_013,
            "balanced": True,
        }
    ]
    assert data["differences"] == [
        {
            "kind": "short",
            "reference": "STL-alipaysim-20261205",
            "channel": "alipaysim",
            "business_date": "2026-12-05",
            "currency": "CNY",
            "expected_minor_units": 7_952,
            "actual_minor_units": 7_802,
            "parked_minor_units": 150,
        }
    ]


def test_without_a_file_it_only_reconciles_and_prints_a_few_lines(
    recon: tuple[str, CannedRecon],
) -> None:
    address, canned = recon

    result = CliRunner().invoke(
        app, ["recon", "reserve", "--date", "2026-12-06", "--recon", address]
    )

    assert result.exit_code == 0, result.output
    assert [type(r) for r in canned.requests] == [fpb.ReconcileReserveAccountRequest]
    assert result.output.splitlines() == [
        "reserve account 2026-12-06 (imp_1): balanced",
        "  entries: 2 settlements, 1 payouts, 0 returns, 0 coupon fundings, 0 unexpected",
        "  settlements: 1 matched, 1 short, 0 missing, 0 over; 4 transfers posted",
        "  CNY: bank closing 300.13 CNY, ledger 300.13 CNY",
        "  short STL-alipaysim-20261205: expected 79.52 CNY, statement 78.02 CNY, parked 1.50 CNY",
    ]


def test_a_bad_date_is_refused_before_any_call(recon: tuple[str, CannedRecon]) -> None:
    address, canned = recon

    result = CliRunner().invoke(
        app, ["recon", "reserve", "--date", "2026-13-01", "--recon", address]
    )

    assert result.exit_code != 0
    assert canned.requests == []

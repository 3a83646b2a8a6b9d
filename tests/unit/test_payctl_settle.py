"""payctl settle against a canned in-process SettlementService: requests and output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.type.date_pb2 import Date
from typer.testing import CliRunner

from payctl.main import app
from paysuite.recon.v1 import settlement_service_pb2 as spb
from paysuite.recon.v1 import settlement_service_pb2_grpc as spb_grpc
from paysuite.type.v1.money_pb2 import Money
from tests.unit.canned_grpc import serving_in_thread

Context = grpc.aio.ServicerContext[Any, Any]


def _cny(units: int) -> Money:
    return Money(currency_code="CNY", minor_units=units)


LINE = spb.SettlementLine(
    merchant_id="M1",
    trade_date=Date(year=2026, month=12, day=6),
    settlement_date=Date(year=2026, month=12, day=7),
    payments=_cny(12_345),
    payments_count=2,
    refunds=_cny(2_500),
    refunds_count=1,
    fees=_cny(59),
    net=_cny(9_786),
    coupons=_cny(300),
    state=spb.SettlementLine.STATE_IN_PAYOUT,
    settlement_payout_id="spo_M1_CNY_20261207",
    payout_state=spb.SettlementPayout.STATE_SUCCEEDED,
)
HELD = spb.SettlementLine(merchant_id="M2", net=_cny(10), state=spb.SettlementLine.STATE_HELD)
PAYOUT = spb.SettlementPayout(
    settlement_payout_id="spo_M1_CNY_20261207",
    merchant_id="M1",
    amount=_cny(9_786),
    attempt=1,
    payout_id="po_1",
    state=spb.SettlementPayout.STATE_SUCCEEDED,
)


class CannedSettlement(spb_grpc.SettlementServiceServicer):
    def __init__(self) -> None:
        self.requests: list[Any] = []

    async def RunClearing(
        self, request: spb.RunClearingRequest, context: Context
    ) -> spb.RunClearingResponse:
        self.requests.append(request)
        batch = spb.SettlementBatch(
            batch_id="stb_20261206",
            trade_date=request.trade_date,
            state=spb.SettlementBatch.STATE_CLEARED,
            lines=[LINE, HELD],
            payouts=[PAYOUT],
        )
        return spb.RunClearingResponse(batch=batch)

    async def ListSettlementPayouts(
        self, request: spb.ListSettlementPayoutsRequest, context: Context
    ) -> spb.ListSettlementPayoutsResponse:
        self.requests.append(request)
        return spb.ListSettlementPayoutsResponse(payouts=[PAYOUT])

    async def GetSettlementStatement(
        self, request: spb.GetSettlementStatementRequest, context: Context
    ) -> spb.GetSettlementStatementResponse:
        self.requests.append(request)
        return spb.GetSettlementStatementResponse(content_type="text/csv", content=b"a,b\n1,2\n")


@pytest.fixture
def recon() -> Iterator[tuple[str, CannedSettlement]]:
    servicer = CannedSettlement()  # type: ignore[abstract]
    with serving_in_thread(
        lambda server: spb_grpc.add_SettlementServiceServicer_to_server(servicer, server)
    ) as address:
        yield address, servicer


def _payctl(address: str, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["settle", *args, "--recon", address])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout


def test_settle_run_prints_one_json_object_of_the_batch_and_its_merchants(
    recon: tuple[str, CannedSettlement],
) -> None:
    address, servicer = recon
    data = json.loads(_payctl(address, "run", "--date", "2026-12-06", "--json"))
    assert data["batch_id"] == "stb_20261206"
    keys = (
        "merchant_id",
        "payments_minor_units",
        "refunds_minor_units",
        "fees_minor_units",
        "net_minor_units",
        "coupons_minor_units",
        "payout_state",
    )
    assert [tuple(m[k] for k in keys) for m in data["merchants"]] == [
        ("M1", 12_345, 2_500, 59, 9_786, 300, "SUCCEEDED"),
        ("M2", 0, 0, 0, 10, 0, "HELD"),
    ]
    [asked] = servicer.requests
    assert (asked.trade_date.day, asked.HasField("settlement_date")) == (6, False)
    human = _payctl(address, "run", "--date", "2026-12-06", "--settle-on", "2026-12-08")
    assert "M1: payments 123.45 CNY refunds 25.00 CNY fees 0.59 CNY net 97.86 CNY" in human
    assert "coupons 3.00 CNY" in human and "M2: " in human and human.count("coupons") == 1
    assert servicer.requests[-1].settlement_date.day == 8
    _payctl(address, "run", "--date", "2026-13-01", code=2)


def test_settle_payouts_and_statement(recon: tuple[str, CannedSettlement]) -> None:
    address, servicer = recon
    out = _payctl(address, "payouts", "--merchant", "M1", "--state", "returned")
    assert out.strip() == "spo_M1_CNY_20261207 97.86 CNY SUCCEEDED attempt 1 payout po_1"
    asked = servicer.requests[-1]
    assert (asked.merchant_id, asked.state) == ("M1", spb.SettlementPayout.STATE_RETURNED)
    assert _payctl(address, "statement", "stb_20261206") == "a,b\n1,2\n"
    _payctl(address, "payouts", "--state", "lost", code=2)

"""payctl withdraw and payouts against a canned in-process GatewayService: requests, output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from typer.testing import CliRunner

from payctl.main import app
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.gateway.v1 import payouts_pb2 as ppb
from paysuite.runtime.grpc_errors import abort_with, status_for
from paysuite.type.v1.money_pb2 import Money
from tests.unit.canned_grpc import serving_in_thread

Context = grpc.aio.ServicerContext[Any, Any]


def _payout(number: int, **fields: Any) -> ppb.Payout:
    return ppb.Payout(
        payout_id=f"po_{number}",
        amount=Money(currency_code="CNY", minor_units=number * 100),
        **fields,
    )


PAYOUTS = [
    _payout(
        3,
        purpose=ppb.PAYOUT_PURPOSE_WITHDRAWAL,
        user_id="U1",
        payee="card_1",
        state=ppb.Payout.STATE_RETURNED,
        return_reason="ACCOUNT_CLOSED",
    ),
    _payout(
        2,
        purpose=ppb.PAYOUT_PURPOSE_SETTLEMENT,
        merchant_id="M1",
        payee="****2345",
        state=ppb.Payout.STATE_UNKNOWN,
        needs_reconciliation=True,
    ),
    _payout(1, purpose=ppb.PAYOUT_PURPOSE_WITHDRAWAL, user_id="U1", state=ppb.Payout.STATE_FAILED),
]


class CannedGateway(pb_grpc.GatewayServiceServicer):
    """Canned replies for the RPCs payctl calls; records every request it gets."""

    def __init__(self) -> None:
        self.requests: list[Any] = []

    async def CreateWithdrawal(
        self, request: ppb.CreateWithdrawalRequest, context: Context
    ) -> ppb.CreateWithdrawalResponse:
        self.requests.append(request)
        if request.user_id == "U_BROKE":
            code = grpc.StatusCode.INVALID_ARGUMENT
            status = status_for(code, "invalid fields: user_id", "INVALID_ARGUMENT", "gw.test")
            await abort_with(context, code, status)
        failed = request.amount.minor_units > 10_000
        return ppb.CreateWithdrawalResponse(
            withdrawal=ppb.Withdrawal(
                withdrawal_id="po_9",
                user_id=request.user_id,
                card_id=request.card_id or "card_default",
                amount=request.amount,
                state=ppb.Payout.STATE_FAILED if failed else ppb.Payout.STATE_SUCCEEDED,
                failure_reason="INSUFFICIENT_BALANCE" if failed else "",
            )
        )

    async def ListPayouts(
        self, request: ppb.ListPayoutsRequest, context: Context
    ) -> ppb.ListPayoutsResponse:
        self.requests.append(request)
        start = int(request.page_token or "0")
        end = start + min(request.page_size, 2)  # this gateway's pages hold two at most
        more = str(end) if end < len(PAYOUTS) else ""
        return ppb.ListPayoutsResponse(payouts=PAYOUTS[start:end], next_page_token=more)


@pytest.fixture
def gateway() -> Iterator[tuple[str, CannedGateway]]:
    # Only the RPCs payctl calls; the generated base answers the rest UNIMPLEMENTED.
    servicer = CannedGateway()  # type: ignore[abstract]
    with serving_in_thread(
        lambda server: pb_grpc.add_GatewayServiceServicer_to_server(servicer, server)
    ) as address:
        yield address, servicer


def _payctl(address: str, *args: str, code: int = 0) -> tuple[str, str]:
    result = CliRunner().invoke(app, [*args, "--gateway", address])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout, result.stderr


def test_withdraw_sends_the_amount_in_minor_units_and_prints_the_outcome(
    gateway: tuple[str, CannedGateway],
) -> None:
    address, servicer = gateway
    out, _ = _payctl(address, "withdraw", "--user", "U1", "--amount", "12.34")
    assert out.strip() == "po_9 SUCCEEDED 12.34 CNY to card_default"
    refused, _ = _payctl(address, "withdraw", "--user", "U1", "--amount", "200", "--card", "c_2")
    assert refused.strip() == "po_9 FAILED INSUFFICIENT_BALANCE 200.00 CNY to c_2"
    as_json = json.loads(_payctl(address, "withdraw", "--user", "U1", "--amount", "1", "--json")[0])
    assert (as_json["withdrawal_id"], as_json["state"], as_json["amount"]["minor_units"]) == (
        "po_9",
        "STATE_SUCCEEDED",
        "100",
    )
    first, second = servicer.requests[0], servicer.requests[1]
    assert (first.user_id, first.amount.minor_units, first.card_id) == ("U1", 1234, "")
    assert second.card_id == "c_2" and first.request_id != second.request_id


def test_withdraw_refuses_a_bad_amount_and_prints_the_gateways_reason(
    gateway: tuple[str, CannedGateway],
) -> None:
    address, servicer = gateway
    _payctl(address, "withdraw", "--user", "U1", "--amount", "1.234", code=2)
    assert servicer.requests == []
    _, err = _payctl(address, "withdraw", "--user", "U_BROKE", "--amount", "1", code=1)
    assert err.startswith("error: INVALID_ARGUMENT INVALID_ARGUMENT")


def test_payouts_follows_pages_up_to_the_limit_with_the_filters(
    gateway: tuple[str, CannedGateway],
) -> None:
    address, servicer = gateway
    out, _ = _payctl(address, "payouts")
    assert [r.page_token for r in servicer.requests] == ["", "2"]
    assert out.splitlines() == [
        "po_3 WITHDRAWAL U1 RETURNED 3.00 CNY to card_1 ACCOUNT_CLOSED",
        "po_2 SETTLEMENT M1 UNKNOWN 2.00 CNY to ****2345 (reconciliation)",
        "po_1 WITHDRAWAL U1 FAILED 1.00 CNY",
    ]
    listed = json.loads(
        _payctl(
            address,
            "payouts",
            "--user",
            "U1",
            "--state",
            "returned",
            "--purpose",
            "withdrawal",
            "--limit",
            "2",
            "--json",
        )[0]
    )
    assert [p["payout_id"] for p in listed["payouts"]] == ["po_3", "po_2"]
    asked = servicer.requests[-1]
    assert (asked.user_id, asked.state, asked.purpose, asked.page_size) == (
        "U1",
        ppb.Payout.STATE_RETURNED,
        ppb.PAYOUT_PURPOSE_WITHDRAWAL,
        2,
    )

"""payctl pay against a canned in-process GatewayService: the platform coupon it sends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from typer.testing import CliRunner

from payctl.main import app
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from tests.unit.canned_grpc import serving_in_thread

Context = grpc.aio.ServicerContext[Any, Any]


class CannedGateway(pb_grpc.GatewayServiceServicer):
    def __init__(self) -> None:
        self.requests: list[pb.CreatePaymentRequest] = []

    async def CreatePayment(
        self, request: pb.CreatePaymentRequest, context: Context
    ) -> pb.CreatePaymentResponse:
        self.requests.append(request)
        payment = pb.Payment(
            payment_id="pay_1",
            amount=request.amount,
            platform_coupon=request.platform_coupon,
            state=pb.Payment.STATE_SUCCEEDED,
        )
        return pb.CreatePaymentResponse(payment=payment)


@pytest.fixture
def gateway() -> Iterator[tuple[str, CannedGateway]]:
    servicer = CannedGateway()  # type: ignore[abstract]
    with serving_in_thread(
        lambda server: pb_grpc.add_GatewayServiceServicer_to_server(servicer, server)
    ) as address:
        yield address, servicer


def _pay(address: str, *args: str, code: int = 0) -> str:
    command = ["pay", "--merchant", "M1", "--user", "U1", "--amount", "100.00", *args]
    result = CliRunner().invoke(app, [*command, "--gateway", address])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout


def test_pay_sends_the_platform_coupon_in_minor_units(gateway: tuple[str, CannedGateway]) -> None:
    address, servicer = gateway
    shown = json.loads(_pay(address, "--coupon", "15.00", "--json"))
    assert shown["platform_coupon"] == {"currency_code": "CNY", "minor_units": "1500"}
    _pay(address)
    with_coupon, without = servicer.requests
    assert (with_coupon.amount.minor_units, with_coupon.platform_coupon.minor_units) == (
        10_000,
        1_500,
    )
    assert not without.HasField("platform_coupon")
    _pay(address, "--coupon", "1.234", code=2)  # not a CNY amount: refused before any call
    assert len(servicer.requests) == 2

"""payctl commands on the gateway beyond paying: query, refund, routes."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from payctl.common import JsonOption, connect, run
from payctl.output import emit, message_dict
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.money import Money
from paysuite.runtime.enums import short_name
from paysuite.runtime.protoconv import money_to_proto

R = TypeVar("R")

GatewayOption = Annotated[str, typer.Option(envvar="GATEWAY_ADDR", help="gateway host:port")]


def gateway_call(
    address: str, rpc: Callable[[gpb_grpc.GatewayServiceAsyncStub], Awaitable[R]]
) -> R:
    """One exchange with the gateway; failures print their reason and exit 1."""

    async def call() -> R:
        async with connect(address) as channel:
            return await rpc(gpb_grpc.GatewayServiceStub(channel))

    return run(call)


def _emit_payment(payment: gpb.Payment, as_json: bool) -> None:
    emit(
        message_dict(payment),
        as_json,
        f"{payment.payment_id} {short_name(gpb.Payment.State, payment.state)}",
    )


def query_payment(
    payment_id: str, gateway: GatewayOption = "localhost:50051", as_json: JsonOption = False
) -> None:
    """Asks the channel for a payment's status now."""
    request = gpb.QueryPaymentRequest(payment_id=payment_id)
    _emit_payment(
        gateway_call(gateway, lambda s: s.QueryPayment(request, timeout=30)).payment, as_json
    )


def close_payment(
    payment_id: str, gateway: GatewayOption = "localhost:50051", as_json: JsonOption = False
) -> None:
    """Closes an unpaid payment (at the wallet too, so the buyer can no longer pay it)."""
    request = gpb.ClosePaymentRequest(payment_id=payment_id, request_id=str(uuid.uuid4()))
    _emit_payment(
        gateway_call(gateway, lambda s: s.ClosePayment(request, timeout=30)).payment, as_json
    )


def refund(
    payment_id: str,
    amount: Annotated[str, typer.Option(help="amount in major units, e.g. 5.00")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code")] = "CNY",
    reason: Annotated[str, typer.Option(help="why, shown to the payer")] = "refund",
    gateway: GatewayOption = "localhost:50051",
    as_json: JsonOption = False,
) -> None:
    """Refunds part or all of a succeeded payment."""
    try:
        money = Money.parse(amount, currency.upper())
    except (ValueError, KeyError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--amount/--currency") from None
    request = gpb.RefundPaymentRequest(
        request_id=str(uuid.uuid4()),
        payment_id=payment_id,
        amount=money_to_proto(money),
        reason=reason,
    )
    result = gateway_call(gateway, lambda s: s.RefundPayment(request, timeout=30)).refund
    emit(
        message_dict(result),
        as_json,
        f"{result.refund_id} {short_name(gpb.Refund.State, result.state)} {money.format()}",
    )


def routes(
    channel: Annotated[str, typer.Option(help="only this channel")] = "",
    gateway: GatewayOption = "localhost:50051",
    as_json: JsonOption = False,
) -> None:
    """Shows every egress route's live health, best first."""
    request = gpb.GetRoutesRequest(channel=channel)
    answer = gateway_call(gateway, lambda s: s.GetRoutes(request, timeout=10))
    lines = [
        f"{r.rank:>2} {r.channel:<12} {r.route_id:<24} {short_name(gpb.Route.State, r.state):<9} "
        f"{r.latency_ewma_ms:8.1f} ms  errors {r.error_rate:4.2f}  {r.proxy or 'direct'}"
        for r in answer.routes
    ]
    emit({"routes": [message_dict(r) for r in answer.routes]}, as_json, "\n".join(lines))

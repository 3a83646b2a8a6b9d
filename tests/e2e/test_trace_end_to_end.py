"""One trace spans gateway, identity, ledger, recon and the bank, with correct parent links;
the ledger's shared posting transaction is linked with it."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
from datetime import UTC
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from google.type.date_pb2 import Date
from opentelemetry.instrumentation.grpc import aio_client_interceptors
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import format_trace_id

from devstack import demo
from devstack.stack import Stack
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect

PII = [
    demo.USER_NAME,
    demo.USER_ID_NUMBER,
    demo.USER_PHONE,
    demo.CARD_NUMBER,
    demo.agreement_no(demo.CARD_NUMBER),
]


def _spans(path: Path, trace_id: str) -> list[dict[str, Any]]:
    found = []
    # Each export is one line; a line still being written has no newline yet.
    for line in path.read_text().splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        for resource_spans in json.loads(line)["resourceSpans"]:
            service = next(
                a["value"]["stringValue"]
                for a in resource_spans["resource"]["attributes"]
                if a["key"] == "service.name"
            )
            for scope in resource_spans["scopeSpans"]:
                for span in scope["spans"]:
                    if span["traceId"] == trace_id:
                        found.append({**span, "service": service})
    return found


def _attributes(span: dict[str, Any]) -> dict[str, str]:
    return {a["key"]: next(iter(a["value"].values())) for a in span.get("attributes", [])}


def _one(spans: list[dict[str, Any]], service: str, name: str, kind: str) -> dict[str, Any]:
    matches = [
        s for s in spans if s["service"] == service and name in s["name"] and s["kind"] == kind
    ]
    assert len(matches) >= 1, f"no {kind} span {name} in {service}"
    return matches[0]


async def _linked(path: Path, link: dict[str, Any]) -> dict[str, Any]:
    """The span a link points to, once exported."""
    for _ in range(50):
        for span in _spans(path, link["traceId"]):
            if span["spanId"] == link["spanId"]:
                return span
        await asyncio.sleep(0.2)
    raise AssertionError(f"linked span {link['spanId']} never exported")


async def test_one_payment_one_trace_across_the_suite(stack: Stack) -> None:
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: "e2e-client"}))
    tracer = provider.get_tracer("e2e")
    interceptors = aio_client_interceptors(tracer_provider=provider)
    with tracer.start_as_current_span("checkout") as root:
        trace_id = format_trace_id(root.get_span_context().trace_id)
        async with connect(stack.config.addr("gateway"), interceptors=interceptors) as channel:
            payment = (
                await gpb_grpc.GatewayServiceStub(channel).CreatePayment(
                    gpb.CreatePaymentRequest(
                        request_id=f"trace-{secrets.token_hex(8)}",
                        merchant_id=demo.MERCHANT_ID,
                        merchant_order_no=f"TRACE-{secrets.token_hex(6)}",
                        amount=Money(currency_code="CNY", minor_units=4321),
                        method=gpb.PAYMENT_METHOD_BANK_CARD,
                        payer_user_id=demo.USER_ID,
                    )
                )
            ).payment
        day = (
            payment.create_time.ToDatetime()
            .replace(tzinfo=UTC)
            .astimezone(ZoneInfo("Asia/Shanghai"))
            .date()
        )
        async with connect(stack.config.addr("recon"), interceptors=interceptors) as channel:
            await rpb_grpc.ReconServiceStub(channel).RunReconciliation(
                rpb.RunReconciliationRequest(
                    request_id=f"trace-rec-{secrets.token_hex(4)}",
                    channel="banksim",
                    statement_date=Date(year=day.year, month=day.month, day=day.day),
                )
            )
    assert payment.trace_id == trace_id

    wanted = {"gateway", "identity", "ledger", "recon", "banksim"}
    spans: list[dict[str, Any]] = []
    for _ in range(100):
        spans = _spans(stack.config.traces_file, trace_id)
        # The run's own span is exported last, once its batch is (the run ends after the rest).
        run_span = any(s["name"].endswith("ReconService/RunReconciliation") for s in spans)
        if {s["service"] for s in spans} >= wanted and len(spans) >= 12 and run_span:
            break
        await asyncio.sleep(0.2)
    assert {s["service"] for s in spans} >= wanted

    create = _one(spans, "gateway", "GatewayService/CreatePayment", "SPAN_KIND_SERVER")
    attributes = _attributes(create)
    assert attributes["paysuite.payment.id"] == payment.payment_id
    assert attributes["paysuite.merchant.order_no"] == payment.merchant_order_no
    assert attributes["paysuite.merchant.id"] == payment.merchant_id
    assert attributes["paysuite.channel"] == "banksim"
    by_id = {s["spanId"]: s for s in spans}

    def parent(span: dict[str, Any]) -> dict[str, Any]:
        return by_id[span["parentSpanId"]]

    # Identity is asked by the payment itself; the ledger by the outbox's delivery under it.
    for service, name, caller in (
        ("identity", "IdentityService/AuthorizePayment", create),
        ("ledger", "LedgerService/CreateTransfers", None),
    ):
        server = _one(spans, service, name, "SPAN_KIND_SERVER")
        client = parent(server)
        assert (client["service"], client["kind"]) == ("gateway", "SPAN_KIND_CLIENT")
        if caller is None:
            caller = parent(client)
            assert caller["name"] == "gateway.outbox.ledger_transfers"
            assert parent(caller)["spanId"] == create["spanId"]
        assert parent(client)["spanId"] == caller["spanId"]
    # The ledger posted the request in a shared transaction: its own span, linked both ways.
    posting = _one(spans, "ledger", "LedgerService/CreateTransfers", "SPAN_KIND_SERVER")
    (link,) = posting["links"]
    group = await _linked(stack.config.traces_file, link)
    assert group["name"] == "ledger.group_commit"
    assert {"traceId": trace_id, "spanId": posting["spanId"]} in [
        {"traceId": back["traceId"], "spanId": back["spanId"]} for back in group["links"]
    ]
    path = _attributes(group)["paysuite.ledger.posting_path"]
    assert path in {"predicted", "fallback", "locking"}
    bank = _one(spans, "banksim", "/api/quickpay/pay", "SPAN_KIND_SERVER")
    assert parent(bank)["service"] == "gateway"
    attempt = parent(parent(bank))
    assert attempt["name"] == "gateway.channel_attempt"
    assert parent(attempt)["spanId"] == create["spanId"]
    assert _attributes(attempt)["paysuite.channel_selection.reason"].startswith(
        "rule default; banksim"
    )

    # Reconciliation reads our side through the gateway's and the ledger's APIs, in the trace.
    recon = _one(spans, "recon", "ReconService/RunReconciliation", "SPAN_KIND_SERVER")
    records = _one(
        spans, "gateway", "ChannelRecordsService/StreamChannelRecords", "SPAN_KIND_SERVER"
    )
    assert parent(parent(records))["spanId"] == recon["spanId"]
    entries = _one(spans, "ledger", "LedgerService/StreamAccountEntries", "SPAN_KIND_SERVER")
    assert parent(parent(entries))["spanId"] == recon["spanId"]
    statement = _one(spans, "banksim", "/api/statements", "SPAN_KIND_SERVER")
    fetch = _one(spans, "gateway", "GatewayService/FetchChannelStatement", "SPAN_KIND_SERVER")
    assert parent(parent(statement))["spanId"] == fetch["spanId"]

    # What an engineer runs to see where the payment's time went.
    shown = subprocess.run(
        [sys.executable, "-m", "payctl", "trace", payment.payment_id, "--json"],
        env={
            **stack.env(),
            "GATEWAY_ADDR": stack.config.addr("gateway"),
            "PAYSUITE_TRACES_FILE": str(stack.config.traces_file),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    tree = json.loads(shown.stdout)
    assert tree["trace_id"] == trace_id
    first = tree["spans"][0]
    assert (first["depth"], first["service"], first["operation"]) == (
        0,
        "gateway",
        "/paysuite.gateway.v1.GatewayService/CreatePayment",
    )
    assert {s["service"] for s in tree["spans"]} >= {"gateway", "identity", "ledger", "banksim"}

"""The services' Prometheus endpoints after real calls: RPCs by method and code, payments by
outcome and channel, the outbox's backlog, reconciliation run durations."""

from __future__ import annotations

import asyncio
import json
import secrets
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import grpc
import pytest
from google.type.date_pb2 import Date
from prometheus_client.parser import text_string_to_metric_families

from devstack.stack import Stack
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from tests.e2e.own_suite import card_payment
from tests.helpers import connect

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _scrape(stack: Stack, service: str) -> Samples:
    port = stack.config.extra_env[f"{service.upper()}_METRICS_PORT"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    """The sum over the samples of name whose labels include these (0 when none)."""
    wanted = set(labels.items())
    return sum(v for (n, sample), v in samples.items() if n == name and wanted <= sample)


def _calls(samples: Samples, method: str, code: int) -> float:
    return _value(
        samples,
        "rpc_server_duration_milliseconds_count",
        rpc_method=method,
        rpc_grpc_status_code=str(code),
    )


async def _eventually(
    stack: Stack, service: str, name: str, minimum: float, **labels: str
) -> Samples:
    """The service's samples once name (with labels) reaches minimum, or after ten seconds."""
    for _ in range(50):
        samples = _scrape(stack, service)
        if _value(samples, name, **labels) >= minimum:
            return samples
        await asyncio.sleep(0.2)
    return samples


async def test_rpc_and_payment_metrics_after_real_calls(stack: Stack) -> None:
    before = _scrape(stack, "gateway")
    ledger_before = _scrape(stack, "ledger")
    async with connect(stack.config.addr("gateway")) as channel:
        gateway = gpb_grpc.GatewayServiceStub(channel)
        paid = await gateway.CreatePayment(card_payment("metrics", 321))
        assert paid.payment.state == gpb.Payment.STATE_SUCCEEDED
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await gateway.GetPayment(gpb.GetPaymentRequest(payment_id="pay_nonexistent"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND

    # An aborted call's status reaches the caller before the server's interceptors unwind.
    after = await _eventually(
        stack,
        "gateway",
        "rpc_server_duration_milliseconds_count",
        _calls(before, "GetPayment", 5) + 1,
        rpc_method="GetPayment",
        rpc_grpc_status_code="5",
    )
    assert _calls(after, "CreatePayment", 0) == _calls(before, "CreatePayment", 0) + 1
    assert _calls(after, "GetPayment", 5) == _calls(before, "GetPayment", 5) + 1
    # Health probes are not RPCs anyone asked for: never counted.
    assert not _value(
        after, "rpc_server_duration_milliseconds_count", rpc_service="grpc.health.v1.Health"
    )
    # What the gateway asked of others: identity by gRPC, the bank over an egress route.
    client = "rpc_client_duration_milliseconds_count"
    authorized = {"rpc_method": "AuthorizePayment", "rpc_grpc_status_code": "0"}
    assert _value(after, client, **authorized) > _value(before, client, **authorized)
    bank = {"paysuite_channel": "banksim", "paysuite_egress_outcome": "answered"}
    calls = "paysuite_channel_duration_milliseconds_count"
    assert _value(after, calls, **bank) > _value(before, calls, **bank)
    succeeded = {"paysuite_channel": "banksim", "paysuite_payment_state": "succeeded"}
    assert _value(after, "paysuite_payments_total", **succeeded) == (
        _value(before, "paysuite_payments_total", **succeeded) + 1
    )
    # The relay samples the outbox every few seconds; the payment's posting reaches the ledger.
    gauged = await _eventually(stack, "gateway", "paysuite_outbox_backlog", 0)
    assert ("paysuite_outbox_backlog", frozenset()) in {
        (name, frozenset(k for k in labels if not k[0].startswith("otel_")))
        for name, labels in gauged
    }
    # The janitor samples its backlog of due status queries, payments' and payouts' apart.
    janitor = await _eventually(stack, "gateway", "paysuite_janitor_backlog", 0)
    targets = {
        dict(labels).get("paysuite_query_target")
        for name, labels in janitor
        if name == "paysuite_janitor_backlog"
    }
    assert targets == {"payment", "payout"}
    ledger_after = await _eventually(
        stack,
        "ledger",
        "rpc_server_duration_milliseconds_count",
        _calls(ledger_before, "CreateTransfers", 0) + 1,
        rpc_method="CreateTransfers",
        rpc_grpc_status_code="0",
    )
    assert _calls(ledger_after, "CreateTransfers", 0) > _calls(ledger_before, "CreateTransfers", 0)
    posted = {"paysuite_transfer_result": "posted"}
    transfers = "paysuite_ledger_transfers_total"
    assert _value(ledger_after, transfers, **posted) > _value(ledger_before, transfers, **posted)


async def test_a_reconciliation_run_is_timed_by_channel_and_outcome(stack: Stack) -> None:
    completed = {"paysuite_channel": "banksim", "paysuite_run_state": "completed"}
    before = _value(
        _scrape(stack, "recon"), "paysuite_recon_run_duration_seconds_count", **completed
    )
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    async with connect(stack.config.addr("recon")) as channel:
        await rpb_grpc.ReconServiceStub(channel).RunReconciliation(
            rpb.RunReconciliationRequest(
                request_id=f"metrics-rec-{secrets.token_hex(4)}",
                channel="banksim",
                statement_date=Date(year=today.year, month=today.month, day=today.day),
            )
        )
    after = await _eventually(
        stack, "recon", "paysuite_recon_run_duration_seconds_count", before + 1, **completed
    )
    assert _value(after, "paysuite_recon_run_duration_seconds_count", **completed) == before + 1
    assert _value(after, "paysuite_recon_run_duration_seconds_sum", **completed) > 0


def _file_metrics(path: Path) -> set[tuple[str, str]]:
    """(service, metric name) of every export appended to the metrics file so far."""
    found = set()
    for line in path.read_text().splitlines(keepends=True):
        if not line.endswith("\n"):
            break  # still being written
        for resource in json.loads(line)["resourceMetrics"]:
            service = next(
                a["value"]["stringValue"]
                for a in resource["resource"]["attributes"]
                if a["key"] == "service.name"
            )
            for scope in resource["scopeMetrics"]:
                found |= {(service, metric["name"]) for metric in scope["metrics"]}
    return found


async def test_without_an_endpoint_the_metrics_are_appended_to_the_metrics_file(
    stack: Stack,
) -> None:
    path = stack.config.traces_file.with_name("metrics.jsonl")
    wanted = {("gateway", "rpc.server.duration"), ("ledger", "rpc.server.duration")}
    for _ in range(150):  # every process appends every 10 s
        if path.exists() and wanted <= _file_metrics(path):
            break
        await asyncio.sleep(0.2)
    assert wanted <= _file_metrics(path)

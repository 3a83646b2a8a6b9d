"""payctl trace: a payment's span tree, to see where its time went without a browser."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from payctl.common import JsonOption
from payctl.gateway_commands import GatewayOption, gateway_call
from payctl.output import emit
from payctl.trace_sources import jaeger_spans, otlp_file_spans
from payctl.trace_tree import as_json, lines, tree
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.runtime.settings import CommonSettings


def trace(
    payment_id: str,
    gateway: GatewayOption = "localhost:50051",
    traces_file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="OTLP/JSON lines the suite exports to (PAYSUITE_TRACES_FILE, else "
            ".data/traces.jsonl)",
        ),
    ] = None,
    jaeger: Annotated[
        str | None, typer.Option(help="read from Jaeger's query API at this URL instead")
    ] = None,
    as_json_: JsonOption = False,
) -> None:
    """Prints the payment's spans as a tree: service, operation, kind, start, duration."""
    request = gpb.GetPaymentRequest(payment_id=payment_id)
    payment = gateway_call(gateway, lambda s: s.GetPayment(request, timeout=10)).payment
    trace_id = payment.trace_id
    if not trace_id:
        sys.stderr.write(f"error: payment {payment_id} carries no trace id\n")
        raise typer.Exit(1)
    path = traces_file or CommonSettings().traces_file
    source = jaeger or str(path)
    try:
        spans = list(jaeger_spans(jaeger, trace_id) if jaeger else otlp_file_spans(path, trace_id))
    except OSError as exc:
        sys.stderr.write(f"error: cannot read {source}: {exc}\n")
        raise typer.Exit(1) from None
    rows = tree(spans, trace_id)
    if not rows:
        sys.stderr.write(
            f"error: no spans of trace {trace_id} in {source} (not exported yet, or sampled out)\n"
        )
        raise typer.Exit(1)
    human = [f"trace {trace_id}  payment {payment_id}  {len(rows)} spans", *lines(rows)]
    emit(
        {"payment_id": payment_id, "trace_id": trace_id, "spans": as_json(rows)},
        as_json_,
        "\n".join(human),
    )

"""Refused calls counted: `paysuite.rpc.refused` by service, method and why the authorization
policy refused (unauthenticated, not_allowed), beside the log line each refusal writes."""

from __future__ import annotations

from opentelemetry import metrics

from paysuite.runtime.rpc_attributes import rpc_attributes


class RefusedCalls:
    """The AuthorizationInterceptor's on_refused: one count per refused call."""

    def __init__(self, meter_provider: metrics.MeterProvider | None = None) -> None:
        meter = (meter_provider or metrics.get_meter_provider()).get_meter(__name__)
        self._refused = meter.create_counter(
            "paysuite.rpc.refused",
            unit="{call}",
            description="Calls refused by the authorization policy, by method and reason",
        )

    def __call__(self, full_method: str, why: str) -> None:
        self._refused.add(1, {**rpc_attributes(full_method), "reason": why})

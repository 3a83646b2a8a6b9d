"""Payment states as the gateway's database names them, and which of them are final."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from paysuite.gateway.v1 import gateway_service_pb2 as gpb

CAPTURED = frozenset({"succeeded", "duplicate"})
TERMINAL = frozenset({"succeeded", "failed", "closed", "duplicate"})
STATE_NAMES: Mapping[int, str] = MappingProxyType(
    {
        gpb.Payment.PROCESSING: "processing",
        gpb.Payment.SUCCEEDED: "succeeded",
        gpb.Payment.FAILED: "failed",
        gpb.Payment.CLOSED: "closed",
        gpb.Payment.UNKNOWN: "unknown",
        gpb.Payment.DUPLICATE: "duplicate",
    }
)


def state_name(payment: gpb.Payment) -> str:
    return STATE_NAMES.get(payment.state, "?")

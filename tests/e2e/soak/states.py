"""Payment states as the gateway's database names them, and which of them are final."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from paysuite.gateway.v1 import gateway_service_pb2 as gpb

CAPTURED = frozenset({"succeeded", "duplicate"})
TERMINAL = frozenset({"succeeded", "failed", "closed", "duplicate"})
STATE_NAMES: Mapping[int, str] = MappingProxyType(
    {
        gpb.Payment.STATE_PROCESSING: "processing",
        gpb.Payment.STATE_SUCCEEDED: "succeeded",
        gpb.Payment.STATE_FAILED: "failed",
        gpb.Payment.STATE_CLOSED: "closed",
        gpb.Payment.STATE_UNKNOWN: "unknown",
        gpb.Payment.STATE_DUPLICATE: "duplicate",
    }
)


def state_name(payment: gpb.Payment) -> str:
    return STATE_NAMES.get(payment.state, "?")

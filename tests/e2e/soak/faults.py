"""The faults the soak dials on the simulators: all quiet, a storm, and quiet again at the end."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from types import MappingProxyType

from tests.e2e.soak.simulators import ALIPAY, BANK, SIMULATORS, WECHAT, Simulators

# The gateway gives a channel 10 s (ChannelSettings.timeout_seconds); an injected timeout
# answers later, so the gateway really times out and must find out by query.
GATEWAY_CHANNEL_TIMEOUT_MS = 10_000
LATE_ANSWER_MS = GATEWAY_CHANNEL_TIMEOUT_MS + 1_000

BANK_QUIET: Mapping[str, float] = MappingProxyType(
    {
        "latency_ms": 0,
        "decline_rate": 0,
        "timeout_rate": 0,
        "error_rate": 0,
        "processing_rate": 0,
        "false_success_rate": 0,
    }
)
WALLET_QUIET: Mapping[str, float] = MappingProxyType(
    {
        "latency_ms": 0,
        "accepted_rate": 0,
        "decline_rate": 0,
        "timeout_rate": 0,
        "error_rate": 0,
        "notify_delay_ms": 0,
        "notify_duplicate_rate": 0,
        "notify_drop_rate": 0,
    }
)
BANK_STORM: Mapping[str, float] = MappingProxyType(
    {
        "decline_rate": 0.1,
        "timeout_rate": 0.15,
        "timeout_sleep_ms": LATE_ANSWER_MS,
        "error_rate": 0.1,
        "processing_rate": 0.15,
        "processing_ms": 1_500,
        "false_success_rate": 0.1,
    }
)
WALLET_STORM: Mapping[str, float] = MappingProxyType(
    {
        "accepted_rate": 0.3,
        "decide_ms": 1_500,
        "decline_rate": 0.1,
        "timeout_rate": 0.1,
        "timeout_sleep_ms": LATE_ANSWER_MS,
        "error_rate": 0.1,
        "notify_delay_ms": 300,
        "notify_duplicate_rate": 0.3,
        "notify_drop_rate": 0.2,
        "notify_backoff_ms": 200,
        "notify_max_attempts": 5,
        "notify_timeout_ms": 2_000,
    }
)
Knobs = Mapping[str, Mapping[str, float]]
QUIET: Knobs = MappingProxyType({BANK: BANK_QUIET, ALIPAY: WALLET_QUIET, WECHAT: WALLET_QUIET})
STORM: Knobs = MappingProxyType({BANK: BANK_STORM, ALIPAY: WALLET_STORM, WECHAT: WALLET_STORM})


@contextlib.asynccontextmanager
async def faults_restored(simulators: Simulators) -> AsyncIterator[None]:
    """Whatever happens, every simulator ends with the faults it had and all rates at zero."""
    saved = {name: await simulators.faults(name) for name in SIMULATORS}
    try:
        yield
    finally:
        for name in SIMULATORS:
            await simulators.dial(name, {**saved[name], **QUIET[name]})

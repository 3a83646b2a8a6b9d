"""The gateway's own metrics: payment outcomes by state, method and channel, and the outbox's
backlog (see paysuite.runtime.metrics for how they are exported)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from gateway.domain.model import Payment
from paysuite.runtime import span_attributes as attrs

_meter = metrics.get_meter(__name__)
_outcomes = _meter.create_counter(
    "paysuite.payments",
    unit="{payment}",
    description="Payments that reached a final state, by state, method and channel",
)


def count_outcome(payment: Payment) -> None:
    """Counts a payment that has just reached a final state (once: the write that put it there)."""
    _outcomes.add(
        1,
        {
            attrs.PAYMENT_STATE: payment.state.value,
            attrs.PAYMENT_METHOD: payment.method.value,
            attrs.CHANNEL: payment.channel,
        },
    )


class BacklogGauge:
    """The outbox's waiting messages and the oldest one's age, as last sampled by a relay
    (every `every_seconds` at most; each replica reports the shared table's backlog)."""

    def __init__(self, every_seconds: float = 5.0) -> None:
        self._every = every_seconds
        self._sampled_at: float | None = None
        self._waiting = 0
        self._oldest_seconds = 0.0
        _meter.create_observable_gauge(
            "paysuite.outbox.backlog",
            callbacks=[self._observe_waiting],
            unit="{message}",
            description="Outbox messages not yet delivered",
        )
        _meter.create_observable_gauge(
            "paysuite.outbox.lag",
            callbacks=[self._observe_lag],
            unit="s",
            description="Age of the oldest outbox message not yet delivered",
        )

    def due(self) -> bool:
        return self._sampled_at is None or time.monotonic() - self._sampled_at >= self._every

    def set(self, waiting: int, oldest_seconds: float) -> None:
        self._sampled_at = time.monotonic()
        self._waiting, self._oldest_seconds = waiting, oldest_seconds

    def _observe_waiting(self, _options: CallbackOptions) -> Iterable[Observation]:
        if self._sampled_at is not None:
            yield Observation(self._waiting)

    def _observe_lag(self, _options: CallbackOptions) -> Iterable[Observation]:
        if self._sampled_at is not None:
            yield Observation(self._oldest_seconds)


class DueQueriesGauge:
    """The janitor's backlog: payments and payouts whose status query is due, as last sampled
    by a janitor (every `every_seconds` at most; each replica reports the shared tables')."""

    def __init__(self, every_seconds: float = 5.0, meter: Meter | None = None) -> None:
        self._every = every_seconds
        self._sampled_at: float | None = None
        self._due: dict[str, int] = {}
        (meter or _meter).create_observable_gauge(
            "paysuite.janitor.backlog",
            callbacks=[self._observe],
            unit="{query}",
            description="Status queries due (payments and payouts not yet answered definitely)",
        )

    def due(self) -> bool:
        return self._sampled_at is None or time.monotonic() - self._sampled_at >= self._every

    def set(self, payments: int, payouts: int) -> None:
        self._sampled_at = time.monotonic()
        self._due = {"payment": payments, "payout": payouts}

    def _observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        for target, count in self._due.items():
            yield Observation(count, {attrs.QUERY_TARGET: target})

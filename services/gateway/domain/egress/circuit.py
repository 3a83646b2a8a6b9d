"""A route's circuit breaker: open on failures, half-open after a cool-down, one trial decides."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gateway.domain.egress.measurements import Outcome, RouteStats
from gateway.domain.egress.policy import EgressPolicy


class CircuitState(enum.Enum):
    """Whether a route may carry requests."""

    CLOSED = "closed"  # in use
    OPEN = "open"  # failing: skipped until its cool-down ends
    HALF_OPEN = "half_open"  # cool-down over: one trial request decides


FAILURE_WORDS = {
    Outcome.UNREACHABLE: "connection error",
    Outcome.TIMEOUT: "timeout",
    Outcome.BROKEN: "connection lost",
}


@dataclass(frozen=True, slots=True)
class Transition:
    """A circuit changed state."""

    route_id: str
    state: CircuitState
    text: str


def trip_reason(stats: RouteStats, policy: EgressPolicy, what: str) -> str | None:
    """Why a closed circuit opens after a failure (a `what`), or None while it stays closed."""
    if stats.consecutive_failures >= policy.failure_threshold:
        return f"{stats.consecutive_failures} consecutive failures, last a {what}"
    if (
        stats.outcomes_since_close >= policy.error_rate_min_requests
        and stats.error_rate > policy.error_rate_threshold
    ):
        return f"error rate {stats.error_rate:.0%} above {policy.error_rate_threshold:.0%}"
    return None


@dataclass(slots=True)
class Circuit:
    """A route's breaker; cool_down doubles with each failed trial, up to the policy's maximum."""

    cool_down: float
    state: CircuitState = CircuitState.CLOSED
    opened_at: float = 0.0
    probe_started: float | None = None  # when the half-open trial was let through
    why: str = ""

    def state_at(self, now: float) -> CircuitState:
        """The state now: an open circuit whose cool-down is over turns half-open."""
        if self.state is CircuitState.OPEN and now >= self.opened_at + self.cool_down:
            self.state = CircuitState.HALF_OPEN
            self.probe_started = None
        return self.state

    def probe_due(self, now: float, probe_lease_seconds: float) -> bool:
        """Half-open with no trial under way (or one that never reported within its lease)."""
        return self.state is CircuitState.HALF_OPEN and (
            self.probe_started is None or now - self.probe_started >= probe_lease_seconds
        )

    def is_current_probe(self, started: float) -> bool:
        """Whether the trial let through at `started` is the one the circuit waits on."""
        return self.state is CircuitState.HALF_OPEN and self.probe_started == started

    def open(self, route_id: str, now: float, why: str) -> Transition:
        self.state = CircuitState.OPEN
        self.opened_at = now
        self.probe_started = None
        self.why = why
        return Transition(
            route_id,
            CircuitState.OPEN,
            f"circuit of {route_id} opened: {why}; cool-down {self.cool_down:g}s",
        )

    def close(self, route_id: str, cool_down: float, why: str) -> Transition:
        self.state = CircuitState.CLOSED
        self.cool_down = cool_down
        self.probe_started = None
        self.why = ""
        return Transition(route_id, CircuitState.CLOSED, f"circuit of {route_id} closed: {why}")

    def unusable_reason(self, now: float) -> str:
        """Why a route that is not closed takes no request now."""
        if self.state is CircuitState.OPEN:
            left = max(0.0, self.opened_at + self.cool_down - now)
            return f"circuit open ({self.why}); trial in {left:.1f}s"
        return "half-open: trial request in flight"

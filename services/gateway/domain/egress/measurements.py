"""What became of requests over a route: outcomes, counts and moving averages of latency and
errors."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Outcome(enum.Enum):
    """What became of one request sent over a route."""

    ANSWERED = "answered"  # the channel answered, whatever its status code
    UNREACHABLE = "unreachable"  # the route failed before the request left it: nothing was sent
    TIMEOUT = "timeout"  # sent, no answer in time: the channel may have acted on it
    BROKEN = "broken"  # connection lost after sending: the channel may have acted on it
    ABANDONED = "abandoned"  # the caller gave up (cancelled): no verdict on the route


def format_latency(seconds: float) -> str:
    """A latency for reasons and logs: tenths of a millisecond below 10ms, whole ones above."""
    millis = seconds * 1000
    return f"{millis:.1f}ms" if millis < 10 else f"{millis:.0f}ms"


@dataclass(slots=True)
class Ewma:
    """Exponentially weighted moving average; the first sample is taken as is."""

    alpha: float
    value: float | None = None

    def add(self, sample: float) -> float:
        if self.value is None:
            self.value = sample
        else:
            self.value = self.alpha * sample + (1 - self.alpha) * self.value
        return self.value


@dataclass(slots=True)
class RouteStats:
    """Measurements of one route since the gateway started (kept across config reloads)."""

    latency: Ewma  # seconds; timeouts count with their elapsed time, a lower bound
    errors: Ewma  # 1 per failed request, 0 per answered one
    requests: int = 0
    answered: int = 0
    failures: int = 0  # unreachable or connection lost
    timeouts: int = 0
    consecutive_failures: int = 0
    outcomes_since_close: int = 0

    @property
    def latency_ms(self) -> float | None:
        return None if self.latency.value is None else self.latency.value * 1000

    @property
    def error_rate(self) -> float:
        return self.errors.value or 0.0

    def observe(self, outcome: Outcome, elapsed: float) -> None:
        """Counts a request's outcome; an abandoned one says nothing about the route."""
        if outcome is Outcome.ABANDONED:
            return
        self.outcomes_since_close += 1
        if outcome is Outcome.ANSWERED:
            self.answered += 1
            self.latency.add(elapsed)
            self.errors.add(0.0)
            self.consecutive_failures = 0
            return
        if outcome is Outcome.TIMEOUT:
            self.timeouts += 1
            self.latency.add(elapsed)
        else:
            self.failures += 1
        self.errors.add(1.0)
        self.consecutive_failures += 1

    def restart_errors(self, error_alpha: float) -> None:
        """Forgets past failures, as a circuit closes: the error rate starts again from 0."""
        self.consecutive_failures = 0
        self.outcomes_since_close = 0
        self.errors = Ewma(error_alpha, 0.0)

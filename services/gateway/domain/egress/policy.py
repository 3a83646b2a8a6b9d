"""The egress router's tuning: how fast measurements move and when circuits open and close."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """How fast measurements move and when circuits open and close."""

    latency_alpha: float = 0.3
    error_alpha: float = 0.1
    failure_threshold: int = 3  # consecutive failures (connection errors, timeouts) that open
    error_rate_threshold: float = 0.5  # error-rate EWMA above this opens ...
    error_rate_min_requests: int = 10  # ... once this many outcomes were seen since closing
    cool_down_seconds: float = 5.0
    max_cool_down_seconds: float = 120.0
    probe_lease_seconds: float = 60.0  # a trial that never reports frees the slot after this

    def __post_init__(self) -> None:
        if not (0 < self.latency_alpha <= 1 and 0 < self.error_alpha <= 1):
            raise ValueError("EWMA alphas must be in (0, 1]")
        if self.failure_threshold < 1 or self.error_rate_min_requests < 1:
            raise ValueError("thresholds must be at least 1")
        if not 0 < self.error_rate_threshold <= 1:
            raise ValueError("error_rate_threshold must be in (0, 1]")
        if not 0 < self.cool_down_seconds <= self.max_cool_down_seconds:
            raise ValueError("need 0 < cool_down_seconds <= max_cool_down_seconds")
        if self.probe_lease_seconds <= 0:
            raise ValueError("probe_lease_seconds must be positive")

"""A configured route as the router keeps it: its spec, its measurements and its circuit."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.domain.egress.circuit import Circuit
from gateway.domain.egress.measurements import Ewma, RouteStats
from gateway.domain.egress.policy import EgressPolicy
from gateway.domain.egress.routes import RouteSpec


@dataclass(slots=True)
class TrackedRoute:
    spec: RouteSpec
    stats: RouteStats
    circuit: Circuit

    @classmethod
    def fresh(cls, spec: RouteSpec, policy: EgressPolicy) -> TrackedRoute:
        """A route not measured yet, its circuit closed."""
        return cls(
            spec=spec,
            stats=RouteStats(Ewma(policy.latency_alpha), Ewma(policy.error_alpha)),
            circuit=Circuit(cool_down=policy.cool_down_seconds),
        )

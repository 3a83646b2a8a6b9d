"""The read-only health view of egress routes: state, measurements and rank of each."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway.domain.egress.circuit import CircuitState
from gateway.domain.egress.ranking import rank_routes
from gateway.domain.egress.routes import RouteSpec
from gateway.domain.egress.tracked import TrackedRoute


@dataclass(frozen=True, slots=True)
class RouteHealth:
    """A read-only view of one route; rank 1 is tried first, 0 means not usable now."""

    spec: RouteSpec
    state: CircuitState
    latency_ms: float | None
    error_rate: float
    requests: int
    timeouts: int
    failures: int
    rank: int
    reason: str


class RouteHealthSource(Protocol):
    """Something that can tell the live health of egress routes (all channels when "")."""

    def health(self, channel: str = "") -> list[RouteHealth]: ...


def health_view(
    routes: Sequence[TrackedRoute],
    channels: Iterable[str],
    now: float,
    probe_lease_seconds: float,
) -> list[RouteHealth]:
    """Every route of the channels, usable ones first in rank order per channel."""
    rows: list[RouteHealth] = []
    for name in channels:
        ranked = rank_routes(routes, name, now, probe_lease_seconds)
        places = {r.spec.route_id: (rank, r.reason) for rank, r in enumerate(ranked, 1)}
        channel_rows = []
        for route in routes:
            if route.spec.channel != name:
                continue
            rank, reason = places.get(route.spec.route_id, (0, ""))
            stats = route.stats
            channel_rows.append(
                RouteHealth(
                    spec=route.spec,
                    state=route.circuit.state_at(now),
                    latency_ms=stats.latency_ms,
                    error_rate=stats.error_rate,
                    requests=stats.requests,
                    timeouts=stats.timeouts,
                    failures=stats.failures,
                    rank=rank,
                    reason=reason or route.circuit.unusable_reason(now),
                )
            )
        channel_rows.sort(key=lambda h: (h.rank == 0, h.rank))
        rows.extend(channel_rows)
    return rows

"""Which route to a channel goes first: a due trial, then unmeasured routes, then the fastest;
each place with its reason."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.domain.egress.circuit import CircuitState
from gateway.domain.egress.measurements import format_latency
from gateway.domain.egress.routes import RouteSpec
from gateway.domain.egress.tracked import TrackedRoute


@dataclass(frozen=True, slots=True)
class RankedRoute:
    """A usable route and why it sits where it does."""

    spec: RouteSpec
    reason: str


def failover_reason(failed: RouteSpec, error: str) -> str:
    """Why a request moved on to the next route."""
    return f"failover after {error} on {failed.route_id}"


def _latency_key(route: TrackedRoute) -> int:
    return round((route.stats.latency.value or 0.0) * 1000)


def _ordered(
    routes: Iterable[TrackedRoute], channel: str, now: float, probe_lease_seconds: float
) -> list[TrackedRoute]:
    probes: list[TrackedRoute] = []
    unmeasured: list[TrackedRoute] = []
    measured: list[TrackedRoute] = []
    for route in routes:
        if route.spec.channel != channel:
            continue
        state = route.circuit.state_at(now)
        if state is CircuitState.HALF_OPEN and route.circuit.probe_due(now, probe_lease_seconds):
            probes.append(route)
        elif state is CircuitState.CLOSED:
            (unmeasured if route.stats.latency.value is None else measured).append(route)
    # Stable sorts: configuration order breaks the remaining ties.
    unmeasured.sort(key=lambda r: -r.spec.weight)
    measured.sort(key=lambda r: (_latency_key(r), -r.spec.weight))
    # A due probe goes first, or a healed route would never be tried again; unmeasured
    # routes next, so that they get measured.
    return probes + unmeasured + measured


def _first_reason(ordered: list[TrackedRoute]) -> str:
    first = ordered[0]
    circuit = first.circuit
    if circuit.state is CircuitState.HALF_OPEN:
        return f"half-open probe of {first.spec.route_id} after {circuit.cool_down:g}s cool-down"
    latency = first.stats.latency.value
    if latency is None:
        return f"unmeasured: measuring {first.spec.route_id}"
    if len(ordered) == 1:
        return f"only healthy route: {format_latency(latency)}"
    second = ordered[1]
    other = second.stats.latency.value or 0.0
    if _latency_key(first) == _latency_key(second):
        return (
            f"tie at {format_latency(latency)}: weight {first.spec.weight} vs {second.spec.weight}"
        )
    return f"fastest healthy: {format_latency(latency)} vs {format_latency(other)}"


def _next_reason(position: int, route: TrackedRoute) -> str:
    latency = route.stats.latency.value
    detail = "unmeasured" if latency is None else format_latency(latency)
    return f"fallback {position}: {detail}"


def rank_routes(
    routes: Iterable[TrackedRoute], channel: str, now: float, probe_lease_seconds: float
) -> list[RankedRoute]:
    """Usable routes to the channel, best first, each with the reason for its place."""
    ordered = _ordered(routes, channel, now, probe_lease_seconds)
    if not ordered:
        return []
    first = RankedRoute(ordered[0].spec, _first_reason(ordered))
    rest = [
        RankedRoute(route.spec, _next_reason(position, route))
        for position, route in enumerate(ordered[1:], start=1)
    ]
    return [first, *rest]

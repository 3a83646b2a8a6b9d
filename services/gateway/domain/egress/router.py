"""The egress router: the routes per channel with their measurements and circuits, decided
without I/O (time is always passed in)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gateway.domain.egress.circuit import FAILURE_WORDS, CircuitState, Transition, trip_reason
from gateway.domain.egress.health import RouteHealth, health_view
from gateway.domain.egress.measurements import Outcome, RouteStats, format_latency
from gateway.domain.egress.policy import EgressPolicy
from gateway.domain.egress.ranking import RankedRoute, rank_routes
from gateway.domain.egress.routes import RouteConfigError, RouteSpec
from gateway.domain.egress.tracked import TrackedRoute


@dataclass(frozen=True, slots=True)
class Attempt:
    """One request let through a route; report it back with Router.record."""

    route: RouteSpec
    started: float
    probe: bool


@dataclass(frozen=True, slots=True)
class Reconfigured:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    kept: tuple[str, ...]


class Router:
    """Routes per channel with their measurements and circuits; time is always passed in."""

    def __init__(
        self, policy: EgressPolicy | None = None, routes: Iterable[RouteSpec] = ()
    ) -> None:
        self.policy = policy or EgressPolicy()
        self._routes: dict[str, TrackedRoute] = {}
        specs = list(routes)
        if specs:
            self.configure(specs)

    def configure(self, specs: Sequence[RouteSpec]) -> Reconfigured:
        """Replaces the routes; a route whose id survives keeps its measurements and circuit."""
        ids = [s.route_id for s in specs]
        if len(set(ids)) != len(ids):
            raise RouteConfigError("route ids must be unique")
        old = self._routes
        routes: dict[str, TrackedRoute] = {}
        for spec in specs:
            kept = old.get(spec.route_id)
            if kept is None:
                routes[spec.route_id] = TrackedRoute.fresh(spec, self.policy)
            else:
                kept.spec = spec
                routes[spec.route_id] = kept
        self._routes = routes
        return Reconfigured(
            added=tuple(i for i in ids if i not in old),
            removed=tuple(i for i in old if i not in routes),
            kept=tuple(i for i in ids if i in old),
        )

    def routes(self, channel: str = "") -> list[RouteSpec]:
        return [r.spec for r in self._routes.values() if not channel or r.spec.channel == channel]

    def channels(self) -> list[str]:
        return sorted({r.spec.channel for r in self._routes.values()})

    def stats(self, route_id: str) -> RouteStats:
        return self._routes[route_id].stats

    def state(self, route_id: str, now: float) -> CircuitState:
        return self._routes[route_id].circuit.state_at(now)

    def ranked(self, channel: str, now: float) -> list[RankedRoute]:
        """Usable routes to the channel, best first, each with the reason for its place."""
        return rank_routes(self._routes.values(), channel, now, self.policy.probe_lease_seconds)

    def rank(self, channel: str, now: float) -> list[RouteSpec]:
        return [r.spec for r in self.ranked(channel, now)]

    def begin(self, route_id: str, now: float) -> Attempt | None:
        """Lets one request through the route, or None: unknown, open, or its trial is taken."""
        route = self._routes.get(route_id)
        if route is None:
            return None
        circuit = route.circuit
        state = circuit.state_at(now)
        if state is CircuitState.OPEN:
            return None
        probe = state is CircuitState.HALF_OPEN
        if probe:
            if not circuit.probe_due(now, self.policy.probe_lease_seconds):
                return None
            circuit.probe_started = now
        route.stats.requests += 1
        return Attempt(route.spec, now, probe)

    def record(self, attempt: Attempt, outcome: Outcome, now: float) -> Transition | None:
        """Takes in what became of an attempt; returns the circuit's change, if any."""
        route = self._routes.get(attempt.route.route_id)
        if route is None:  # reconfigured away meanwhile
            return None
        circuit = route.circuit
        route_id = route.spec.route_id
        probe = attempt.probe and circuit.is_current_probe(attempt.started)
        if outcome is Outcome.ABANDONED:
            if probe:
                circuit.probe_started = None
            return None
        elapsed = max(0.0, now - attempt.started)
        route.stats.observe(outcome, elapsed)
        policy = self.policy
        if outcome is Outcome.ANSWERED:
            if not probe:
                return None
            route.stats.restart_errors(policy.error_alpha)
            why = f"probe answered in {format_latency(elapsed)}"
            return circuit.close(route_id, policy.cool_down_seconds, why)
        what = FAILURE_WORDS[outcome]
        if probe:
            circuit.cool_down = min(circuit.cool_down * 2, policy.max_cool_down_seconds)
            return circuit.open(route_id, now, f"probe failed with a {what}")
        if circuit.state is not CircuitState.CLOSED:
            return None
        tripped = trip_reason(route.stats, policy, what)
        return None if tripped is None else circuit.open(route_id, now, tripped)

    def health(self, now: float, channel: str = "") -> list[RouteHealth]:
        """Every route (of one channel, or all), usable ones first in rank order per channel."""
        channels = [channel] if channel else self.channels()
        routes = list(self._routes.values())
        return health_view(routes, channels, now, self.policy.probe_lease_seconds)

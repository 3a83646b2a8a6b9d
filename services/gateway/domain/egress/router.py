"""Egress routes to channels: measurements, circuit breakers and ranking, decided without I/O."""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

_ROUTE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CHANNEL_RE = re.compile(r"^[a-z0-9_-]{1,32}$")
_REGION_RE = re.compile(r"^[A-Za-z0-9._-]{0,32}$")
_KEY_RE = re.compile(r"^[A-Za-z0-9_]{1,32}$")
_ROUTE_KEYS = frozenset({"route_id", "channel", "proxy", "region", "weight"})
MAX_WEIGHT = 1000
MAX_ROUTES = 64


class RouteConfigError(ValueError):
    """A route configuration that must not be used; the message never repeats a proxy URL."""


class CircuitState(enum.Enum):
    """Whether a route may carry requests."""

    CLOSED = "closed"  # in use
    OPEN = "open"  # failing: skipped until its cool-down ends
    HALF_OPEN = "half_open"  # cool-down over: one trial request decides


class Outcome(enum.Enum):
    """What became of one request sent over a route."""

    ANSWERED = "answered"  # the channel answered, whatever its status code
    UNREACHABLE = "unreachable"  # the route failed before the request left it: nothing was sent
    TIMEOUT = "timeout"  # sent, no answer in time: the channel may have acted on it
    BROKEN = "broken"  # connection lost after sending: the channel may have acted on it
    ABANDONED = "abandoned"  # the caller gave up (cancelled): no verdict on the route


_FAILURE_WORDS = {
    Outcome.UNREACHABLE: "connection error",
    Outcome.TIMEOUT: "timeout",
    Outcome.BROKEN: "connection lost",
}


def redact_proxy(proxy: str | None) -> str:
    """A proxy URL as scheme://host:port, without credentials; "" for a direct route."""
    if not proxy:
        return ""
    parts = urlsplit(proxy)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """One configured way out to a channel: through an HTTP proxy, or direct when proxy is None.

    The proxy URL may carry credentials, so it stays out of repr; show proxy_label instead.
    """

    route_id: str
    channel: str
    proxy: str | None = field(default=None, repr=False)
    region: str = ""
    weight: int = 1

    @property
    def proxy_label(self) -> str:
        return redact_proxy(self.proxy)


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


@dataclass(slots=True)
class Circuit:
    cool_down: float
    state: CircuitState = CircuitState.CLOSED
    opened_at: float = 0.0
    probe_started: float | None = None  # when the half-open trial was let through
    why: str = ""


@dataclass(slots=True)
class _Route:
    spec: RouteSpec
    stats: RouteStats
    circuit: Circuit


@dataclass(frozen=True, slots=True)
class RankedRoute:
    """A usable route and why it sits where it does."""

    spec: RouteSpec
    reason: str


@dataclass(frozen=True, slots=True)
class Attempt:
    """One request let through a route; report it back with Router.record."""

    route: RouteSpec
    started: float
    probe: bool


@dataclass(frozen=True, slots=True)
class Transition:
    """A circuit changed state."""

    route_id: str
    state: CircuitState
    text: str


@dataclass(frozen=True, slots=True)
class Reconfigured:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    kept: tuple[str, ...]


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


def _ms(seconds: float) -> str:
    millis = seconds * 1000
    return f"{millis:.1f}ms" if millis < 10 else f"{millis:.0f}ms"


def _latency_key(route: _Route) -> int:
    return round((route.stats.latency.value or 0.0) * 1000)


def failover_reason(failed: RouteSpec, error: str) -> str:
    """Why a request moved on to the next route."""
    return f"failover after {error} on {failed.route_id}"


class Router:
    """Routes per channel with their measurements and circuits; time is always passed in."""

    def __init__(
        self, policy: EgressPolicy | None = None, routes: Iterable[RouteSpec] = ()
    ) -> None:
        self.policy = policy or EgressPolicy()
        self._routes: dict[str, _Route] = {}
        specs = list(routes)
        if specs:
            self.configure(specs)

    def _fresh(self, spec: RouteSpec) -> _Route:
        return _Route(
            spec=spec,
            stats=RouteStats(Ewma(self.policy.latency_alpha), Ewma(self.policy.error_alpha)),
            circuit=Circuit(cool_down=self.policy.cool_down_seconds),
        )

    def configure(self, specs: Sequence[RouteSpec]) -> Reconfigured:
        """Replaces the routes; a route whose id survives keeps its measurements and circuit."""
        ids = [s.route_id for s in specs]
        if len(set(ids)) != len(ids):
            raise RouteConfigError("route ids must be unique")
        old = self._routes
        routes: dict[str, _Route] = {}
        for spec in specs:
            kept = old.get(spec.route_id)
            if kept is None:
                routes[spec.route_id] = self._fresh(spec)
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
        return self._state(self._routes[route_id], now)

    def _state(self, route: _Route, now: float) -> CircuitState:
        circuit = route.circuit
        if circuit.state is CircuitState.OPEN and now >= circuit.opened_at + circuit.cool_down:
            circuit.state = CircuitState.HALF_OPEN
            circuit.probe_started = None
        return circuit.state

    def _probe_due(self, route: _Route, now: float) -> bool:
        circuit = route.circuit
        return circuit.state is CircuitState.HALF_OPEN and (
            circuit.probe_started is None
            or now - circuit.probe_started >= self.policy.probe_lease_seconds
        )

    def _ordered(self, channel: str, now: float) -> list[_Route]:
        probes: list[_Route] = []
        unmeasured: list[_Route] = []
        measured: list[_Route] = []
        for route in self._routes.values():
            if route.spec.channel != channel:
                continue
            state = self._state(route, now)
            if state is CircuitState.HALF_OPEN and self._probe_due(route, now):
                probes.append(route)
            elif state is CircuitState.CLOSED:
                (unmeasured if route.stats.latency.value is None else measured).append(route)
        # Stable sorts: configuration order breaks the remaining ties.
        unmeasured.sort(key=lambda r: -r.spec.weight)
        measured.sort(key=lambda r: (_latency_key(r), -r.spec.weight))
        # A due probe goes first, or a healed route would never be tried again; unmeasured
        # routes next, so that they get measured.
        return probes + unmeasured + measured

    def _first_reason(self, ordered: list[_Route]) -> str:
        first = ordered[0]
        circuit = first.circuit
        if circuit.state is CircuitState.HALF_OPEN:
            return (
                f"half-open probe of {first.spec.route_id} after {circuit.cool_down:g}s cool-down"
            )
        latency = first.stats.latency.value
        if latency is None:
            return f"unmeasured: measuring {first.spec.route_id}"
        if len(ordered) == 1:
            return f"only healthy route: {_ms(latency)}"
        second = ordered[1]
        other = second.stats.latency.value or 0.0
        if _latency_key(first) == _latency_key(second):
            return f"tie at {_ms(latency)}: weight {first.spec.weight} vs {second.spec.weight}"
        return f"fastest healthy: {_ms(latency)} vs {_ms(other)}"

    @staticmethod
    def _next_reason(position: int, route: _Route) -> str:
        latency = route.stats.latency.value
        detail = "unmeasured" if latency is None else _ms(latency)
        return f"fallback {position}: {detail}"

    def ranked(self, channel: str, now: float) -> list[RankedRoute]:
        """Usable routes to the channel, best first, each with the reason for its place."""
        ordered = self._ordered(channel, now)
        if not ordered:
            return []
        first = RankedRoute(ordered[0].spec, self._first_reason(ordered))
        rest = [
            RankedRoute(route.spec, self._next_reason(position, route))
            for position, route in enumerate(ordered[1:], start=1)
        ]
        return [first, *rest]

    def rank(self, channel: str, now: float) -> list[RouteSpec]:
        return [r.spec for r in self.ranked(channel, now)]

    def begin(self, route_id: str, now: float) -> Attempt | None:
        """Lets one request through the route, or None: unknown, open, or its trial is taken."""
        route = self._routes.get(route_id)
        if route is None:
            return None
        state = self._state(route, now)
        if state is CircuitState.OPEN:
            return None
        probe = state is CircuitState.HALF_OPEN
        if probe:
            if not self._probe_due(route, now):
                return None
            route.circuit.probe_started = now
        route.stats.requests += 1
        return Attempt(route.spec, now, probe)

    def _is_current_probe(self, route: _Route, attempt: Attempt) -> bool:
        circuit = route.circuit
        return (
            attempt.probe
            and circuit.state is CircuitState.HALF_OPEN
            and circuit.probe_started == attempt.started
        )

    def record(self, attempt: Attempt, outcome: Outcome, now: float) -> Transition | None:
        """Takes in what became of an attempt; returns the circuit's change, if any."""
        route = self._routes.get(attempt.route.route_id)
        if route is None:  # reconfigured away meanwhile
            return None
        if outcome is Outcome.ABANDONED:
            if self._is_current_probe(route, attempt):
                route.circuit.probe_started = None
            return None
        stats = route.stats
        elapsed = max(0.0, now - attempt.started)
        stats.outcomes_since_close += 1
        if outcome is Outcome.ANSWERED:
            stats.answered += 1
            stats.latency.add(elapsed)
            stats.errors.add(0.0)
            stats.consecutive_failures = 0
            if self._is_current_probe(route, attempt):
                return self._close(route, f"probe answered in {_ms(elapsed)}")
            return None
        if outcome is Outcome.TIMEOUT:
            stats.timeouts += 1
            stats.latency.add(elapsed)
        else:
            stats.failures += 1
        stats.errors.add(1.0)
        stats.consecutive_failures += 1
        what = _FAILURE_WORDS[outcome]
        if self._is_current_probe(route, attempt):
            circuit = route.circuit
            circuit.cool_down = min(circuit.cool_down * 2, self.policy.max_cool_down_seconds)
            return self._open(route, now, f"probe failed with a {what}")
        if route.circuit.state is not CircuitState.CLOSED:
            return None
        policy = self.policy
        if stats.consecutive_failures >= policy.failure_threshold:
            return self._open(
                route, now, f"{stats.consecutive_failures} consecutive failures, last a {what}"
            )
        if (
            stats.outcomes_since_close >= policy.error_rate_min_requests
            and stats.error_rate > policy.error_rate_threshold
        ):
            return self._open(
                route,
                now,
                f"error rate {stats.error_rate:.0%} above {policy.error_rate_threshold:.0%}",
            )
        return None

    def _open(self, route: _Route, now: float, why: str) -> Transition:
        circuit = route.circuit
        circuit.state = CircuitState.OPEN
        circuit.opened_at = now
        circuit.probe_started = None
        circuit.why = why
        return Transition(
            route.spec.route_id,
            CircuitState.OPEN,
            f"circuit of {route.spec.route_id} opened: {why}; cool-down {circuit.cool_down:g}s",
        )

    def _close(self, route: _Route, why: str) -> Transition:
        circuit = route.circuit
        circuit.state = CircuitState.CLOSED
        circuit.cool_down = self.policy.cool_down_seconds
        circuit.probe_started = None
        circuit.why = ""
        stats = route.stats
        stats.consecutive_failures = 0
        stats.outcomes_since_close = 0
        stats.errors = Ewma(self.policy.error_alpha, 0.0)
        return Transition(
            route.spec.route_id,
            CircuitState.CLOSED,
            f"circuit of {route.spec.route_id} closed: {why}",
        )

    def _unusable_reason(self, route: _Route, now: float) -> str:
        circuit = route.circuit
        if circuit.state is CircuitState.OPEN:
            left = max(0.0, circuit.opened_at + circuit.cool_down - now)
            return f"circuit open ({circuit.why}); trial in {left:.1f}s"
        return "half-open: trial request in flight"

    def health(self, now: float, channel: str = "") -> list[RouteHealth]:
        """Every route (of one channel, or all), usable ones first in rank order per channel."""
        rows: list[RouteHealth] = []
        for name in [channel] if channel else self.channels():
            ranked = self.ranked(name, now)
            places = {r.spec.route_id: (rank, r.reason) for rank, r in enumerate(ranked, 1)}
            channel_rows = []
            for route in self._routes.values():
                if route.spec.channel != name:
                    continue
                rank, reason = places.get(route.spec.route_id, (0, ""))
                stats = route.stats
                channel_rows.append(
                    RouteHealth(
                        spec=route.spec,
                        state=self._state(route, now),
                        latency_ms=stats.latency_ms,
                        error_rate=stats.error_rate,
                        requests=stats.requests,
                        timeouts=stats.timeouts,
                        failures=stats.failures,
                        rank=rank,
                        reason=reason or self._unusable_reason(route, now),
                    )
                )
            channel_rows.sort(key=lambda h: (h.rank == 0, h.rank))
            rows.extend(channel_rows)
        return rows


def default_routes(channels: Iterable[str]) -> list[RouteSpec]:
    """One direct route per channel, named "<channel>-direct"."""
    return [RouteSpec(f"{c}-direct", c, None) for c in dict.fromkeys(channels)]


def _key_names(keys: Iterable[object]) -> str:
    names = [k if isinstance(k, str) and _KEY_RE.match(k) else "?" for k in keys]
    return ", ".join(sorted(names))


def _check_proxy(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RouteConfigError(f"{where}.proxy: must be a URL string or null")
    # Messages below never repeat the URL: it may carry credentials.
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise RouteConfigError(f"{where}.proxy: not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RouteConfigError(f"{where}.proxy: must be http(s)://host[:port]")
    if parts.path not in ("", "/") or parts.query or parts.fragment or port == 0:
        raise RouteConfigError(f"{where}.proxy: must be http(s)://host[:port], nothing more")
    return value


def _route(item: object, where: str, channels: Collection[str]) -> RouteSpec:
    if not isinstance(item, dict):
        raise RouteConfigError(f"{where}: must be an object")
    unknown = set(item) - _ROUTE_KEYS
    if unknown:
        raise RouteConfigError(f"{where}: unknown field(s) {_key_names(unknown)}")
    route_id = item.get("route_id")
    if not isinstance(route_id, str) or not _ROUTE_ID_RE.match(route_id):
        raise RouteConfigError(f"{where}.route_id: 1-64 letters, digits, '.', '_' or '-'")
    channel = item.get("channel")
    if not isinstance(channel, str) or not _CHANNEL_RE.match(channel):
        raise RouteConfigError(f"{where}.channel: 1-32 lowercase letters, digits, '_' or '-'")
    if channels and channel not in channels:
        raise RouteConfigError(f"{where}.channel: {channel!r} is not a channel of this gateway")
    region = item.get("region", "")
    if not isinstance(region, str) or not _REGION_RE.match(region):
        raise RouteConfigError(f"{where}.region: at most 32 letters, digits, '.', '_' or '-'")
    weight = item.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= MAX_WEIGHT:
        raise RouteConfigError(f"{where}.weight: an integer from 1 to {MAX_WEIGHT}")
    proxy = _check_proxy(item.get("proxy"), where)
    return RouteSpec(route_id, channel, proxy, region, weight)


def parse_routes(
    document: object, channels: Collection[str] = (), *, every_channel: bool = True
) -> list[RouteSpec]:
    """Routes from a parsed routes file; when channels are given, routes name only those, and
    with every_channel each of them needs a route.

    `{"routes": [{"route_id", "channel", "proxy" (URL or null for direct), "region", "weight"}]}`
    """
    if not isinstance(document, dict):
        raise RouteConfigError("the routes file must hold a JSON object")
    unknown = set(document) - {"routes"}
    if unknown:
        raise RouteConfigError(f"unknown top-level field(s) {_key_names(unknown)}")
    items = document.get("routes")
    if not isinstance(items, list) or not items:
        raise RouteConfigError("routes: must be a non-empty list")
    if len(items) > MAX_ROUTES:
        raise RouteConfigError(f"routes: at most {MAX_ROUTES}")
    specs: list[RouteSpec] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        spec = _route(item, f"routes[{index}]", channels)
        if spec.route_id in seen:
            raise RouteConfigError(f"routes[{index}].route_id: {spec.route_id!r} is used twice")
        seen.add(spec.route_id)
        specs.append(spec)
    missing = [c for c in channels if c not in {s.channel for s in specs}]
    if missing and every_channel:
        raise RouteConfigError(f"no route for channel(s) {', '.join(sorted(missing))}")
    return specs

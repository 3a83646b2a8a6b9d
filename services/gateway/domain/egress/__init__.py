"""Egress routing: which route (direct or through a proxy) carries a request to a channel.

Routes come from the egress routes file (GATEWAY_EGRESS_ROUTES_FILE); the router measures
each, opens a circuit on a failing one and ranks the rest. Which channel takes a payment is
another matter: gateway.domain.channel_selection.
"""

from gateway.domain.egress.router import (
    Attempt,
    CircuitState,
    EgressPolicy,
    Ewma,
    Outcome,
    RouteConfigError,
    RouteHealth,
    RouteHealthSource,
    Router,
    RouteSpec,
    Transition,
    default_routes,
    failover_reason,
    parse_routes,
    redact_proxy,
)

__all__ = [
    "Attempt",
    "CircuitState",
    "EgressPolicy",
    "Ewma",
    "Outcome",
    "RouteConfigError",
    "RouteHealth",
    "RouteHealthSource",
    "RouteSpec",
    "Router",
    "Transition",
    "default_routes",
    "failover_reason",
    "parse_routes",
    "redact_proxy",
]

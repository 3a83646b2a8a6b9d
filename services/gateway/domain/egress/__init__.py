"""Egress routing: which route (direct or through a proxy) carries a request to a channel.

Routes come from the egress routes file (GATEWAY_EGRESS_ROUTES_FILE); the router measures
each, opens a circuit on a failing one and ranks the rest. Which channel takes a payment is
another matter: gateway.domain.channel_selection.
"""

from gateway.domain.egress.circuit import CircuitState, Transition
from gateway.domain.egress.health import RouteHealth, RouteHealthSource
from gateway.domain.egress.measurements import Ewma, Outcome
from gateway.domain.egress.policy import EgressPolicy
from gateway.domain.egress.ranking import failover_reason
from gateway.domain.egress.router import Attempt, Router
from gateway.domain.egress.routes import (
    RouteConfigError,
    RouteSpec,
    default_routes,
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

"""GetRoutes: egress route health in protobuf terms; proxy URLs shown without credentials."""

from __future__ import annotations

from gateway.domain.egress import CircuitState, RouteHealth, RouteHealthSource
from paysuite.errors import Violations
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.runtime.protoconv import check_id

_STATES = {
    CircuitState.CLOSED: pb.Route.STATE_CLOSED,
    CircuitState.OPEN: pb.Route.STATE_OPEN,
    CircuitState.HALF_OPEN: pb.Route.STATE_HALF_OPEN,
}


def route_to_proto(health: RouteHealth) -> pb.Route:
    spec = health.spec
    return pb.Route(
        route_id=spec.route_id,
        channel=spec.channel,
        proxy=spec.proxy_label,
        region=spec.region,
        state=_STATES[health.state],
        latency_ewma_ms=health.latency_ms or 0.0,
        error_rate=health.error_rate,
        requests=health.requests,
        timeouts=health.timeouts,
        rank=health.rank,
    )


def get_routes(
    source: RouteHealthSource | None, request: pb.GetRoutesRequest
) -> pb.GetRoutesResponse:
    """Validates the channel filter and reads the live health; no routes without a source."""
    violations = Violations()
    check_id(request.channel, "channel", violations, max_length=32, required=False)
    violations.raise_if_any()
    if source is None:
        return pb.GetRoutesResponse()
    return pb.GetRoutesResponse(routes=[route_to_proto(h) for h in source.health(request.channel)])

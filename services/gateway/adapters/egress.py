"""HTTP to channels over ranked egress routes, failing over only if nothing reached the channel."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import NamedTuple

import aiohttp
from multidict import CIMultiDictProxy
from opentelemetry import metrics

from gateway.adapters.egress_routes_file import EgressRoutesFile
from gateway.adapters.http_spans import answered, failed, start_client_span, traced_headers
from gateway.domain.egress import (
    Attempt,
    CircuitState,
    EgressPolicy,
    Outcome,
    RouteHealth,
    Router,
    default_routes,
    failover_reason,
)
from paysuite.runtime import span_attributes as attrs

_log = logging.getLogger(__name__)

# Every request to a channel, by channel, route and what became of it (paysuite.runtime.metrics).
_channel_duration = metrics.get_meter(__name__).create_histogram(
    "paysuite.channel.duration",
    unit="ms",
    description="Channel HTTP calls by channel, egress route and outcome",
    explicit_bucket_boundaries_advisory=(5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
)

# Set by our egress proxy on an error answer it made up itself, before forwarding anything.
PROXY_ERROR_HEADER = "X-Egress-Proxy-Error"
_PROXY_ERROR_STATUSES = frozenset({502, 503, 504})


class EgressResponse(NamedTuple):
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


# The error code of a charge no route could carry to its channel.
CHANNEL_UNREACHABLE = "CHANNEL_UNREACHABLE"


class NoRouteError(aiohttp.ClientConnectionError):
    """No route could carry the request: every usable one failed before sending, or none is."""


class EgressClient:
    """Sends a channel's HTTP requests over its best route, measuring every attempt.

    Moves on to the next route only when the request provably did not reach the channel: the
    connection to the route could not be made (refused, reset, DNS, connect timeout), or our
    proxy answered 502/503/504 marked with X-Egress-Proxy-Error. A timeout or a connection lost
    after sending is the caller's to handle (a charge sent twice could be taken twice).
    Each attempt is an HTTP client span carrying paysuite.route.id and paysuite.route.reason.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        router: Router,
        *,
        routes_file: EgressRoutesFile | None = None,
        clock: Callable[[], float] = time.monotonic,
        connect_timeout_seconds: float = 3.0,
    ) -> None:
        self._session = session
        self.router = router
        self._routes_file = routes_file
        self._clock = clock
        self._connect_timeout = connect_timeout_seconds

    @classmethod
    def direct(cls, session: aiohttp.ClientSession, channels: Collection[str]) -> EgressClient:
        """One direct route per channel (no proxy)."""
        return cls(session, Router(routes=default_routes(channels)))

    def health(self, channel: str = "") -> list[RouteHealth]:
        if self._routes_file is not None:
            self._routes_file.refresh()
        return self.router.health(self._clock(), channel)

    def _settle(self, attempt: Attempt, outcome: Outcome) -> None:
        now = self._clock()
        _channel_duration.record(
            (now - attempt.started) * 1000,
            {
                attrs.CHANNEL: attempt.route.channel,
                attrs.ROUTE_ID: attempt.route.route_id,
                attrs.EGRESS_OUTCOME: outcome.value,
            },
        )
        change = self.router.record(attempt, outcome, now)
        if change is not None:
            level = logging.WARNING if change.state is CircuitState.OPEN else logging.INFO
            _log.log(
                level,
                "egress route circuit changed",
                extra={
                    "channel": attempt.route.channel,
                    "route_id": change.route_id,
                    "state": change.state.value,
                    "change": change.text,
                },
            )

    def _timeout(self, remaining: float | None) -> aiohttp.ClientTimeout:
        connect = (
            self._connect_timeout if remaining is None else min(self._connect_timeout, remaining)
        )
        return aiohttp.ClientTimeout(total=remaining, connect=connect)

    async def request(
        self,
        channel: str,
        method: str,
        url: str,
        *,
        data: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: aiohttp.ClientTimeout | float | None = None,
    ) -> EgressResponse:
        """The channel's answer over the best route that could carry the request.

        Raises TimeoutError when no answer came in time after sending, aiohttp.ClientError when
        the connection broke after sending, and NoRouteError when no route could carry it.
        """
        if self._routes_file is not None:
            self._routes_file.refresh()
        budget = timeout.total if isinstance(timeout, aiohttp.ClientTimeout) else timeout
        started = self._clock()
        failed_on: str | None = None
        last_error: BaseException | None = None
        for choice in self.router.ranked(channel, started):
            now = self._clock()
            remaining = None if budget is None else budget - (now - started)
            if remaining is not None and remaining <= 0:
                raise TimeoutError("no time left to try another route")
            attempt = self.router.begin(choice.spec.route_id, now)
            if attempt is None:  # its single trial request was taken meanwhile
                continue
            spec = attempt.route
            span = start_client_span(
                method,
                url,
                {attrs.ROUTE_ID: spec.route_id, attrs.ROUTE_REASON: failed_on or choice.reason},
            )
            try:
                async with self._session.request(
                    method,
                    url,
                    data=data,
                    params=params,
                    headers=traced_headers(span, headers),
                    proxy=spec.proxy,
                    timeout=self._timeout(remaining),
                ) as response:
                    body = await response.read()
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                # No connection, so no request: safe to send it over the next route.
                self._settle(attempt, Outcome.UNREACHABLE)
                failed_on = failover_reason(spec, f"connection error ({type(exc).__name__})")
                last_error = exc
                self._note_failover(channel, spec.route_id, type(exc).__name__)
                failed(span, exc)
                continue
            except TimeoutError as exc:
                self._settle(attempt, Outcome.TIMEOUT)
                failed(span, exc)
                raise
            except aiohttp.InvalidURL as exc:
                self._settle(attempt, Outcome.ABANDONED)
                failed(span, exc)
                raise
            except aiohttp.ClientError as exc:
                self._settle(attempt, Outcome.BROKEN)
                failed(span, exc)
                raise
            except BaseException as exc:
                self._settle(attempt, Outcome.ABANDONED)
                failed(span, exc)
                raise
            answered(span, response.status)
            if (
                spec.proxy is not None
                and response.status in _PROXY_ERROR_STATUSES
                and response.headers.get(PROXY_ERROR_HEADER) == "1"
            ):
                # Our proxy could not reach the channel and forwarded nothing.
                self._settle(attempt, Outcome.UNREACHABLE)
                failed_on = failover_reason(spec, f"proxy error {response.status}")
                last_error = None
                self._note_failover(channel, spec.route_id, f"proxy {response.status}")
                continue
            self._settle(attempt, Outcome.ANSWERED)
            return EgressResponse(response.status, response.headers, body)
        raise NoRouteError(f"no route reached channel {channel}") from last_error

    @staticmethod
    def _note_failover(channel: str, route_id: str, error: str) -> None:
        _log.warning(
            "egress route failed before sending; trying the next",
            extra={"channel": channel, "route_id": route_id, "error": error},
        )


def build_egress(
    session: aiohttp.ClientSession,
    channels: Collection[str],
    routes_file: Path | None = None,
    policy: EgressPolicy | None = None,
) -> EgressClient:
    """An egress client for the channels: routes from the file, else one direct route each."""
    router = Router(policy)
    if routes_file is None:
        router.configure(default_routes(channels))
        return EgressClient(session, router)
    source = EgressRoutesFile(routes_file, router, channels)
    source.load()
    return EgressClient(session, router, routes_file=source)

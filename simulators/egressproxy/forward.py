"""Forwards absolute-form HTTP requests to loopback targets and streams the answers back."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from egressproxy.faults import Faults, Stats
from egressproxy.settings import EgressProxySettings

_log = logging.getLogger(__name__)

# On an answer the proxy made up itself without forwarding anything: the client may safely send
# the request another way. Answers after forwarding (the target broke off or was too slow) are
# never marked, because the target may have acted on the request.
PROXY_ERROR_HEADER = "X-Egress-Proxy-Error"

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_CHUNK = 64 * 1024


@dataclass
class ProxyState:
    settings: EgressProxySettings
    faults: Faults
    stats: Stats = field(default_factory=Stats)
    session: aiohttp.ClientSession | None = None


STATE = web.AppKey("egressproxy_state", ProxyState)


def _hop_by_hop(headers: CIMultiDictProxy[str]) -> frozenset[str]:
    named = {t.strip().lower() for v in headers.getall("Connection", []) for t in v.split(",")}
    return _HOP_BY_HOP | named


def _request_headers(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    """Headers to send on: end-to-end ones only; Host and Content-Length are set anew."""
    skip = _hop_by_hop(headers) | {"host", "content-length"}
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in skip)


def _made_up(state: ProxyState, status: int, text: str) -> web.Response:
    """An answer of the proxy's own: nothing was forwarded."""
    return web.Response(
        status=status,
        text=text + "\n",
        headers={PROXY_ERROR_HEADER: "1", "Via": f"1.1 {state.settings.name}"},
    )


def _refused(state: ProxyState, status: int, text: str) -> web.Response:
    state.stats.refused += 1
    _log.warning("request refused", extra={"status": status, "reason": text})
    return _made_up(state, status, text)


def _broken_off(state: ProxyState, status: int, error: str) -> web.Response:
    """After forwarding, no answer: not marked, the target may have acted on the request."""
    state.stats.upstream_errors += 1
    _log.warning("upstream gave no answer", extra={"status": status, "error": error})
    return web.Response(
        status=status,
        text="upstream gave no answer\n",
        headers={"Via": f"1.1 {state.settings.name}"},
    )


async def forward(request: web.Request) -> web.StreamResponse:
    """Forwards one proxy request; loopback targets only, after the injected latency."""
    state = request.app[STATE]
    target = URL(request.raw_path, encoded=True)  # absolute-form for proxy requests
    if request.method == "CONNECT":
        return _refused(state, 405, "CONNECT is not supported: plain HTTP forwarding only")
    if not target.is_absolute() or target.scheme != "http":
        return _refused(state, 400, "not a proxy request: send an absolute-form http:// target")
    if not state.settings.allows_target(target.host):
        return _refused(state, 403, "only loopback or named targets are allowed")
    session = state.session
    if session is None:
        return _made_up(state, 503, "proxy not ready")
    body = await request.read()
    latency_ms = state.faults.latency_ms
    if latency_ms:  # the request is in; it goes on even if the client stops waiting
        await asyncio.sleep(latency_ms / 1000)
    started = time.monotonic()
    where = {
        "method": request.method,
        "target": f"{target.host}:{target.port}",
        "path": target.path,
    }
    try:
        upstream = await session.request(
            request.method,
            target,
            headers=_request_headers(request.headers),
            data=body or None,
            allow_redirects=False,
        )
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
        state.stats.unreachable += 1
        _log.warning("upstream unreachable", extra={**where, "error": type(exc).__name__})
        return _made_up(state, 502, "upstream unreachable")
    except TimeoutError:
        state.stats.forwarded += 1
        return _broken_off(state, 504, "TimeoutError")
    except aiohttp.ClientError as exc:
        state.stats.forwarded += 1
        return _broken_off(state, 502, type(exc).__name__)
    state.stats.forwarded += 1
    async with upstream:
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        skip = _hop_by_hop(upstream.headers)
        for name, value in upstream.headers.items():
            if name.lower() not in skip:
                response.headers.add(name, value)
        response.headers.add("Via", f"1.1 {state.settings.name}")
        try:
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(_CHUNK):
                await response.write(chunk)
        except (ConnectionResetError, aiohttp.ClientError, TimeoutError) as exc:
            if request.transport is None or request.transport.is_closing():
                _log.info(
                    "client left before the answer", extra={**where, "status": upstream.status}
                )
                return response
            # Too late for a status: cut the connection so the client sees a broken answer.
            state.stats.upstream_errors += 1
            _log.warning(
                "upstream broke off mid-answer", extra={**where, "error": type(exc).__name__}
            )
            request.transport.abort()
            return response
        await response.write_eof()
    _log.info(
        "forwarded",
        extra={
            **where,
            "status": upstream.status,
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
        },
    )
    return response


def create_proxy_app(state: ProxyState) -> web.Application:
    """The proxy port's application: every request is a forwarding request."""
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[STATE] = state
    app.router.add_route("*", "/{tail:.*}", forward)
    return app

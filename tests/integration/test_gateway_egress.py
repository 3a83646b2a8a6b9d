"""Egress routes for real: two egress proxies on loopback in front of the bank simulator."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from devstack import demo
from egressproxy.server import EgressProxy
from egressproxy.settings import EgressProxySettings
from gateway.adapters.channels.banksim import BankQuickPayChannel
from gateway.adapters.egress import EgressClient, NoRouteError
from gateway.bootstrap import build_app as build_gateway
from gateway.channel_settings import dev_channels
from gateway.domain.egress import CircuitState, EgressPolicy, Router, RouteSpec
from gateway.domain.ports import ChannelAnswer, ChannelCharge, ChannelOutcome
from gateway.settings import GatewaySettings
from paysuite.dev_secrets import DEV_BANK_SECRET
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.money import Money
from paysuite.type.v1.money_pb2 import Money as MoneyPb
from tests.helpers import connect
from tests.integration.conftest import free_port, serving

SLOW_MS = 80
FAST_MS = 5
POLICY = EgressPolicy(failure_threshold=2, cool_down_seconds=0.3, max_cool_down_seconds=2.0)
_tracer = trace.get_tracer(__name__)


@pytest.fixture
async def slow() -> AsyncIterator[EgressProxy]:
    proxy = EgressProxy(
        EgressProxySettings(name="egress-slow", port=0, admin_port=0, latency_ms=SLOW_MS)
    )
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def fast() -> AsyncIterator[EgressProxy]:
    proxy = EgressProxy(
        EgressProxySettings(name="egress-fast", port=0, admin_port=0, latency_ms=FAST_MS)
    )
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def route(proxy: EgressProxy) -> RouteSpec:
    return RouteSpec(f"route-{proxy.settings.name}", "banksim", proxy.proxy_url, "loopback")


def bank_over(
    http: aiohttp.ClientSession, bank_url: str, egress: EgressClient, timeout: float = 5.0
) -> BankQuickPayChannel:
    return BankQuickPayChannel(
        "banksim", bank_url, DEV_BANK_SECRET.encode(), "PAYSUITE01", http, timeout, egress=egress
    )


async def forwarded(http: aiohttp.ClientSession, proxy: EgressProxy) -> dict[str, Any]:
    async with http.get(f"{proxy.admin_url}/_admin/stats") as response:
        assert response.status == 200
        stats: dict[str, Any] = await response.json()
        return stats


async def set_faults(http: aiohttp.ClientSession, proxy: EgressProxy, **faults: Any) -> None:
    async with http.post(f"{proxy.admin_url}/_admin/faults", json=faults) as response:
        assert response.status == 200, await response.text()


async def charges_at_bank(http: aiohttp.ClientSession, bank_url: str, payment_id: str) -> int:
    async with http.get(f"{bank_url}/_admin/transactions") as response:
        transactions = await response.json()
    return sum(1 for t in transactions if t["out_trade_no"] == payment_id)


def attempts(exporter: InMemorySpanExporter, trace_id: int) -> list[dict[str, Any]]:
    """Attributes of the HTTP client spans of one trace that went over a route, oldest first."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, SdkTracerProvider):
        provider.force_flush()
    found: list[ReadableSpan] = sorted(
        (
            s
            for s in exporter.get_finished_spans()
            if s.context is not None
            and s.context.trace_id == trace_id
            and "paysuite.route.id" in (s.attributes or {})
        ),
        key=lambda s: s.start_time or 0,
    )
    assert found
    return [dict(s.attributes or {}) for s in found]


class Charger:
    """Charges through an adapter; tells the route of the answered attempt, and why."""

    def __init__(self, bank: BankQuickPayChannel, exporter: InMemorySpanExporter) -> None:
        self.bank = bank
        self.exporter = exporter
        self.attempts: list[dict[str, Any]] = []

    async def __call__(self) -> tuple[str, ChannelAnswer, dict[str, Any]]:
        payment_id = f"pay_egress_{secrets.token_hex(6)}"
        with _tracer.start_as_current_span("test charge") as span:
            answer = await self.bank.charge(
                ChannelCharge(payment_id, Money("CNY", 100), "AGR1234567890EGRESS", "egress test")
            )
            trace_id = span.get_span_context().trace_id
        self.attempts = attempts(self.exporter, trace_id)
        return payment_id, answer, self.attempts[-1]


async def test_traffic_moves_to_the_faster_route_once_measured(
    bank_url: str,
    spans: InMemorySpanExporter,
    http: aiohttp.ClientSession,
    slow: EgressProxy,
    fast: EgressProxy,
) -> None:
    egress = EgressClient(http, Router(POLICY, [route(slow), route(fast)]))
    charge = Charger(bank_over(http, bank_url, egress), spans)

    chosen = []
    for _ in range(6):
        payment_id, answer, attributes = await charge()
        assert answer.outcome is ChannelOutcome.SUCCEEDED
        assert await charges_at_bank(http, bank_url, payment_id) == 1
        chosen.append((attributes["paysuite.route.id"], attributes["paysuite.route.reason"]))

    assert chosen[0] == ("route-egress-slow", "unmeasured: measuring route-egress-slow")
    assert chosen[1] == ("route-egress-fast", "unmeasured: measuring route-egress-fast")
    for route_id, reason in chosen[2:]:
        assert route_id == "route-egress-fast"
        assert reason.startswith("fastest healthy: ") and " vs " in reason
    assert (await forwarded(http, slow))["forwarded"] == 1
    assert (await forwarded(http, fast))["forwarded"] == 5
    health = {h.spec.route_id: h for h in egress.health("banksim")}
    assert health["route-egress-fast"].rank == 1 and health["route-egress-slow"].rank == 2
    fast_ms = health["route-egress-fast"].latency_ms
    slow_ms = health["route-egress-slow"].latency_ms
    assert fast_ms is not None and slow_ms is not None
    # The slow route's latency includes its injected delay; the fast one's is lower, though on a
    # busy machine not always below that delay.
    assert slow_ms >= SLOW_MS and 0 < fast_ms < slow_ms


async def test_a_dead_route_fails_over_opens_and_heals_through_a_trial(
    bank_url: str,
    spans: InMemorySpanExporter,
    http: aiohttp.ClientSession,
    slow: EgressProxy,
    fast: EgressProxy,
) -> None:
    egress = EgressClient(http, Router(POLICY, [route(slow), route(fast)]))
    charge = Charger(bank_over(http, bank_url, egress), spans)
    for _ in range(3):  # both measured; the fast one is preferred
        await charge()
    assert egress.router.rank("banksim", time.monotonic())[0].route_id == "route-egress-fast"
    slow_before = (await forwarded(http, slow))["forwarded"]
    fast_before = (await forwarded(http, fast))["forwarded"]

    await fast.stop()  # the dedicated line dies
    for _ in range(POLICY.failure_threshold):
        payment_id, answer, attributes = await charge()
        assert answer.outcome is ChannelOutcome.SUCCEEDED
        assert await charges_at_bank(http, bank_url, payment_id) == 1
        assert attributes["paysuite.route.id"] == "route-egress-slow"
        assert attributes["paysuite.route.reason"] == (
            "failover after connection error (ClientProxyConnectionError) on route-egress-fast"
        )
        first = charge.attempts[0]
        assert first["paysuite.route.id"] == "route-egress-fast"
        assert first["paysuite.route.reason"].startswith("fastest healthy: ")
    assert (await forwarded(http, slow))["forwarded"] == slow_before + POLICY.failure_threshold

    health = {h.spec.route_id: h for h in egress.health("banksim")}
    assert health["route-egress-fast"].state is CircuitState.OPEN
    assert health["route-egress-fast"].rank == 0
    payment_id, answer, attributes = await charge()
    assert answer.outcome is ChannelOutcome.SUCCEEDED
    assert attributes["paysuite.route.id"] == "route-egress-slow"
    assert attributes["paysuite.route.reason"].startswith("only healthy route: ")

    await fast.start()  # healed, same port
    await asyncio.sleep(POLICY.cool_down_seconds + 0.05)
    payment_id, answer, attributes = await charge()
    assert answer.outcome is ChannelOutcome.SUCCEEDED
    assert await charges_at_bank(http, bank_url, payment_id) == 1
    assert attributes["paysuite.route.id"] == "route-egress-fast"
    assert attributes["paysuite.route.reason"] == (
        f"half-open probe of route-egress-fast after {POLICY.cool_down_seconds:g}s cool-down"
    )
    assert egress.router.state("route-egress-fast", time.monotonic()) is CircuitState.CLOSED
    payment_id, answer, attributes = await charge()
    assert attributes["paysuite.route.id"] == "route-egress-fast"
    assert attributes["paysuite.route.reason"].startswith("fastest healthy: ")
    # The trial and the last charge; nothing while it was down.
    assert (await forwarded(http, fast))["forwarded"] == fast_before + 2


async def test_a_refusing_proxy_is_failed_over_and_used_again_once_it_listens(
    bank_url: str,
    spans: InMemorySpanExporter,
    http: aiohttp.ClientSession,
    slow: EgressProxy,
    fast: EgressProxy,
) -> None:
    egress = EgressClient(http, Router(POLICY, [route(fast), route(slow)]))
    charge = Charger(bank_over(http, bank_url, egress), spans)
    await set_faults(http, fast, fail=True)
    assert not (await forwarded(http, fast))["listening"]
    payment_id, answer, attributes = await charge()
    assert answer.outcome is ChannelOutcome.SUCCEEDED
    assert await charges_at_bank(http, bank_url, payment_id) == 1
    assert attributes["paysuite.route.id"] == "route-egress-slow"
    assert attributes["paysuite.route.reason"].startswith("failover after connection error")

    await set_faults(http, fast, fail=False)
    _, answer, attributes = await charge()
    assert answer.outcome is ChannelOutcome.SUCCEEDED
    assert attributes["paysuite.route.id"] == "route-egress-fast"  # still closed: 1 < 2 failures
    assert (await forwarded(http, fast))["forwarded"] == 1


async def test_a_proxy_that_cannot_reach_the_target_is_failed_over_and_nothing_sent(
    spans: InMemorySpanExporter,
    http: aiohttp.ClientSession,
    slow: EgressProxy,
    fast: EgressProxy,
) -> None:
    egress = EgressClient(http, Router(POLICY, [route(fast), route(slow)]))
    nowhere = f"http://127.0.0.1:{free_port()}/api/quickpay/query"
    with _tracer.start_as_current_span("test request") as span:
        with pytest.raises(NoRouteError):
            await egress.request("banksim", "POST", nowhere, data=b"{}", timeout=5)
        trace_id = span.get_span_context().trace_id
    tried = [
        (a["paysuite.route.id"], a["paysuite.route.reason"]) for a in attempts(spans, trace_id)
    ]
    assert tried == [
        ("route-egress-fast", "unmeasured: measuring route-egress-fast"),
        ("route-egress-slow", "failover after proxy error 502 on route-egress-fast"),
    ]
    for proxy in (fast, slow):
        stats = await forwarded(http, proxy)
        assert (stats["unreachable"], stats["forwarded"]) == (1, 0)
        assert egress.router.stats(route(proxy).route_id).failures == 1


async def test_a_timeout_after_sending_is_not_retried_on_another_route(
    bank_url: str,
    spans: InMemorySpanExporter,
    http: aiohttp.ClientSession,
    slow: EgressProxy,
    fast: EgressProxy,
) -> None:
    egress = EgressClient(http, Router(POLICY, [route(fast), route(slow)]))
    patient = Charger(bank_over(http, bank_url, egress), spans)
    for _ in range(3):
        await patient()
    before = {p: (await forwarded(http, p))["forwarded"] for p in (fast, slow)}
    # The route the router tries first, as it measured them: on a busy machine that can be
    # the slow one, and the test is about what follows the first try, not about ranking.
    first_id = egress.router.rank("banksim", time.monotonic())[0].route_id
    first, second = (fast, slow) if first_id == route(fast).route_id else (slow, fast)

    latency = first.settings.latency_ms
    await set_faults(http, first, latency_ms=1500)  # reaches the bank only after we gave up
    hasty = Charger(bank_over(http, bank_url, egress, timeout=0.5), spans)
    payment_id, answer, attributes = await hasty()
    assert answer.outcome is ChannelOutcome.UNKNOWN
    assert answer.error_code == "TimeoutError"
    assert attributes["paysuite.route.id"] == first_id

    for _ in range(60):
        if (await forwarded(http, first))["forwarded"] > before[first]:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)
    assert (await forwarded(http, first))["forwarded"] == before[first] + 1
    assert (await forwarded(http, second))["forwarded"] == before[second]
    assert await charges_at_bank(http, bank_url, payment_id) == 1
    assert egress.router.stats(first_id).timeouts == 1
    await set_faults(http, first, latency_ms=latency)


def write_routes(path: Path, routes: list[dict[str, Any]]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"routes": routes}))
    temporary.replace(path)


def payment_request() -> pb.CreatePaymentRequest:
    return pb.CreatePaymentRequest(
        request_id=f"req-{secrets.token_hex(8)}",
        merchant_id=demo.MERCHANT_ID,
        merchant_order_no=f"ORD-{secrets.token_hex(6)}",
        amount=MoneyPb(currency_code="CNY", minor_units=100),
        method=pb.PAYMENT_METHOD_BANK_CARD,
        payer_user_id=demo.USER_ID,
    )


async def test_the_default_gateway_reaches_every_channel_directly(gateway_addr: str) -> None:
    async with connect(gateway_addr) as channel:
        answer = await pb_grpc.GatewayServiceStub(channel).GetRoutes(pb.GetRoutesRequest())
    assert [(r.route_id, r.proxy, r.state, r.rank) for r in answer.routes] == [
        ("alipaysim-direct", "", pb.Route.STATE_CLOSED, 1),
        ("banksim-direct", "", pb.Route.STATE_CLOSED, 1),
        ("wechatsim-direct", "", pb.Route.STATE_CLOSED, 1),
    ]


async def test_get_routes_shows_live_health_and_follows_the_egress_routes_file(
    ledger_addr: str,
    identity_addr: str,
    bank_url: str,
    gateway_addr: str,
    tmp_path: Path,
    slow: EgressProxy,
    fast: EgressProxy,
) -> None:
    routes_file = tmp_path / "routes.json"
    fast_route = {
        "route_id": "bank-dedicated",
        "channel": "banksim",
        "proxy": fast.proxy_url,
        "region": "cn-east",
        "weight": 2,
    }
    slow_route = {"route_id": "bank-regional", "channel": "banksim", "proxy": slow.proxy_url}
    write_routes(routes_file, [slow_route, fast_route])
    settings = GatewaySettings(
        ledger_addr=ledger_addr,
        identity_addr=identity_addr,
        channels=dev_channels(bank_url),
        egress_routes_file=routes_file,
        notify_port=0,
    )
    async with serving(build_gateway, settings) as addr, connect(addr) as channel:
        gateway = pb_grpc.GatewayServiceStub(channel)
        bank_routes = pb.GetRoutesRequest(channel="banksim")  # the wallets go direct
        # The janitor may already be querying the bank about other tests' payments.
        first = {r.route_id: r for r in (await gateway.GetRoutes(bank_routes)).routes}
        assert set(first) == {"bank-dedicated", "bank-regional"}
        assert sorted(r.rank for r in first.values()) == [1, 2]
        assert first["bank-dedicated"].proxy == fast.proxy_url
        assert first["bank-dedicated"].region == "cn-east"

        for _ in range(4):
            payment = (await gateway.CreatePayment(payment_request())).payment
            assert payment.state == pb.Payment.STATE_SUCCEEDED
        routes = (await gateway.GetRoutes(pb.GetRoutesRequest(channel="banksim"))).routes
        by_id = {r.route_id: r for r in routes}
        assert [r.route_id for r in routes] == ["bank-dedicated", "bank-regional"]
        assert [r.rank for r in routes] == [1, 2]
        assert all(r.state == pb.Route.STATE_CLOSED for r in routes)
        assert by_id["bank-regional"].requests == 1  # once, to measure it
        assert by_id["bank-dedicated"].requests >= 3
        assert by_id["bank-regional"].latency_ewma_ms >= SLOW_MS
        assert 0 < by_id["bank-dedicated"].latency_ewma_ms < by_id["bank-regional"].latency_ewma_ms
        assert by_id["bank-dedicated"].error_rate == 0 and by_id["bank-dedicated"].timeouts == 0

        # Reload: the regional proxy goes, a direct route comes; measurements of kept ids stay.
        write_routes(routes_file, [fast_route, {"route_id": "bank-direct", "channel": "banksim"}])
        await asyncio.sleep(1.1)
        reloaded = {r.route_id: r for r in (await gateway.GetRoutes(bank_routes)).routes}
        assert set(reloaded) == {"bank-dedicated", "bank-direct"}
        assert reloaded["bank-dedicated"].requests == by_id["bank-dedicated"].requests
        assert reloaded["bank-direct"].proxy == "" and reloaded["bank-direct"].rank == 1

        # A broken file changes nothing.
        routes_file.write_text('{"routes": [{"route_id": "x", "channel": "nosuch"}]}')
        await asyncio.sleep(1.1)
        kept = (await gateway.GetRoutes(bank_routes)).routes
        assert {r.route_id for r in kept} == {"bank-dedicated", "bank-direct"}

        none = await gateway.GetRoutes(pb.GetRoutesRequest(channel="walletsim"))
        assert list(none.routes) == []
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await gateway.GetRoutes(pb.GetRoutesRequest(channel="bad channel!"))
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT

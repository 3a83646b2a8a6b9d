"""The dev suite's egress proxies, as `make run` starts them: the gateway reaches every channel
through them, two routes to the bank, each with latency the gateway measured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import aiohttp
import pytest

from devstack.egress import dev_routes
from devstack.free_ports import free_ports
from devstack.stack import DEFAULT_PORTS, Stack, StackConfig
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from tests.e2e.own_suite import card_payment, own_suite
from tests.helpers import connect

if TYPE_CHECKING:
    from devstack.pki import DevCA


@pytest.fixture
async def proxied(
    admin_url: str, tmp_path_factory: pytest.TempPathFactory, test_ca: DevCA
) -> AsyncIterator[Stack]:
    """Ledger, identity and gateway with the simulators behind the dev routes' proxies."""
    ports = free_ports([*DEFAULT_PORTS, *(f"proxy-{i}" for i in range(8))])

    def configure(database_url: str) -> StackConfig:
        return StackConfig(
            database_url=database_url,
            data_dir=tmp_path_factory.mktemp("egress"),
            ports={port: ports[port] for port in DEFAULT_PORTS},
            egress_routes=dev_routes([ports[f"proxy-{i}"] for i in range(8)]),
            pki_dir=test_ca.directory,
        )

    async with own_suite(admin_url, configure) as suite:
        yield suite


async def _forwarded(stack: Stack) -> dict[str, int]:
    """How many requests each route's proxy forwarded."""
    counts = {}
    async with aiohttp.ClientSession() as http:
        for route in stack.config.egress_routes:
            url = f"http://127.0.0.1:{route.admin_port}/_admin/stats"
            async with http.get(url) as answer:
                counts[route.route_id] = int((await answer.json())["forwarded"])
    return counts


async def test_payments_go_out_through_the_proxies_and_every_route_is_measured(
    proxied: Stack,
) -> None:
    before = await _forwarded(proxied)
    async with connect(proxied.config.addr("gateway")) as channel:
        gateway = gpb_grpc.GatewayServiceStub(channel)
        for _ in range(4):
            paid = await gateway.CreatePayment(card_payment("egress", 250))
            assert paid.payment.state == gpb.Payment.STATE_SUCCEEDED
        routes = (await gateway.GetRoutes(gpb.GetRoutesRequest())).routes
    after = await _forwarded(proxied)

    bank = [r for r in routes if r.channel == "banksim"]
    assert {r.route_id for r in bank} == {"banksim-east", "banksim-north"}
    assert all(r.proxy.startswith("http://127.0.0.1:") for r in routes)
    assert {r.channel for r in routes} == {"banksim", "alipaysim", "wechatsim"}
    # The bank's charges (and the seed's card check) went out through its proxies only.
    bank_forwarded = sum(after[r] - before[r] for r in ("banksim-east", "banksim-north"))
    assert bank_forwarded >= 4
    assert any(r.latency_ewma_ms > 0 for r in bank)

"""Two replicas each of the gateway and the ledger, as real processes on one database, under
card and wallet payments with channel faults dialled: every payment settles exactly once
(captured in the ledger once iff the channel took the money, none left unresolved, the outbox
drained) and every merchant callback is sent once, none skipped, though both gateways run
every background loop (outbox relay, janitor, event sequencer, callback dispatcher)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from devstack import demo
from devstack.free_ports import free_ports
from devstack.stack import DEFAULT_PORTS, Stack, StackConfig
from gateway.adapters.callback_http import SIGNATURE_HEADER
from gateway.adapters.store.stores import unit_of_work_factory
from gateway.service_layer.merchants import set_callback
from paysuite.clock import utc_now
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.http_signing import verify
from paysuite.runtime.database import create_pool
from paysuite.runtime.dsn import plain_postgres_url
from tests.e2e.own_suite import own_suite
from tests.e2e.soak.channel_books import read_channel_books
from tests.e2e.soak.faults import QUIET, faults_restored
from tests.e2e.soak.invariants import client_violations, violations
from tests.e2e.soak.merchant import CHANNEL_OPTIONS, Merchant, pay_all
from tests.e2e.soak.orders import OrderBook
from tests.e2e.soak.simulators import ALIPAY, BANK, WECHAT, Simulators
from tests.e2e.soak.waiting import settle, wait_for
from tests.helpers import connect, service_dsn

if TYPE_CHECKING:
    from devstack.pki import DevCA

CALLBACK_SECRET = "replica-callback-secret"
# Faults that every replica must recover from by its own background work (queries by the
# janitor, notifications lost or sent twice), and none that waits out the channel timeout.
STORM = MappingProxyType(
    {
        BANK: {
            "decline_rate": 0.1,
            "error_rate": 0.1,
            "processing_rate": 0.2,
            "processing_ms": 1_500,
        },
        **{
            wallet: {
                "accepted_rate": 0.3,
                "decide_ms": 1_500,
                "decline_rate": 0.1,
                "error_rate": 0.1,
                "notify_delay_ms": 300,
                "notify_duplicate_rate": 0.3,
                "notify_drop_rate": 0.2,
                "notify_backoff_ms": 200,
            }
            for wallet in (ALIPAY, WECHAT)
        },
    }
)


@dataclass
class MerchantEndpoint:
    """The merchant's callback URL: checks each signature and keeps every event it is sent."""

    sequences: list[int] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        verify(
            CALLBACK_SECRET.encode(), body, request.headers[SIGNATURE_HEADER], now=int(time.time())
        )
        self.sequences.append(int(json.loads(body)["sequence"]))
        return web.Response(status=204)


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[MerchantEndpoint, str]]:
    merchant_end = MerchantEndpoint()
    app = web.Application()
    app.router.add_post("/events", merchant_end.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield merchant_end, f"http://127.0.0.1:{runner.addresses[0][1]}/events"
    finally:
        await runner.cleanup()


@pytest.fixture
async def replicated(
    admin_url: str, tmp_path_factory: pytest.TempPathFactory, test_ca: DevCA
) -> AsyncIterator[Stack]:
    """gateway, gateway-2, ledger, ledger-2 and identity on one fresh database; gateway-2
    posts to ledger-2."""
    ports = free_ports([*DEFAULT_PORTS, "gateway-2", "gateway_notify-2", "ledger-2"])

    def configure(database_url: str) -> StackConfig:
        return StackConfig(
            database_url=database_url,
            data_dir=tmp_path_factory.mktemp("replicas"),
            ports={port: ports[port] for port in DEFAULT_PORTS},
            extra_env={"OTEL_BSP_SCHEDULE_DELAY": "200"},
            pki_dir=test_ca.directory,  # the test's channels trust it
        )

    async def replicas(suite: Stack) -> None:
        await suite.start_replica("ledger-2", "ledger", {"ledger": ports["ledger-2"]})
        await suite.start_replica(
            "gateway-2",
            "gateway",
            {"gateway": ports["gateway-2"], "gateway_notify": ports["gateway_notify-2"]},
            env={"LEDGER_ADDR": suite.config.addr("ledger-2")},
        )

    async with own_suite(admin_url, configure, then=replicas) as suite:
        yield suite


async def _send_callbacks_to(stack: Stack, url: str) -> None:
    pool = await create_pool(
        service_dsn(stack.config.database_url, "gateway"), schema="gateway", service="test", size=1
    )
    try:
        await set_callback(
            unit_of_work_factory(pool), demo.MERCHANT_ID, url, CALLBACK_SECRET, utc_now
        )
    finally:
        await pool.close()


def _through(merchant: Merchant, stack: Stack, gateway: str) -> Merchant:
    """The merchant calling the given gateway replica."""
    merchant.channel = connect(stack.config.addr(gateway), options=CHANNEL_OPTIONS)
    merchant.gateway = gpb_grpc.GatewayServiceStub(merchant.channel)
    return merchant


@pytest.mark.slow  # about a hundred seconds: a suite of its own, faults, settling
async def test_two_replicas_of_gateway_and_ledger_never_double_work_and_skip_none(
    replicated: Stack, endpoint: tuple[MerchantEndpoint, str]
) -> None:
    stack = replicated
    merchant_end, url = endpoint
    await _send_callbacks_to(stack, url)
    pool = await asyncpg.create_pool(
        plain_postgres_url(stack.config.database_url), min_size=1, max_size=4
    )
    http = aiohttp.ClientSession()
    simulators = Simulators(http, stack)
    first = _through(Merchant(stack, pool), stack, "gateway")
    second = _through(Merchant(stack, pool), stack, "gateway-2")
    book = OrderBook()
    try:
        async with faults_restored(simulators):
            await simulators.dial_all(STORM)
            orders = book.storm("replicas", 36)
            await asyncio.gather(pay_all(first, orders[0::2], 6), pay_all(second, orders[1::2], 6))
            await simulators.dial_all(QUIET)
            books = await settle(first, book.orders)
            channels = await read_channel_books(simulators)

        async def sequenced() -> list[int]:
            rows = await pool.fetch(
                "SELECT sequence FROM gateway.payment_events WHERE merchant_id = $1 "
                "AND sequence IS NOT NULL ORDER BY sequence",
                demo.MERCHANT_ID,
            )
            return [row["sequence"] for row in rows]

        async def all_sent() -> bool:
            return set(merchant_end.sequences) >= set(await sequenced())

        await wait_for("every event's callback", all_sent, 60)
        events = await sequenced()
    finally:
        await first.close()
        await second.close()
        await http.close()
        await pool.close()

    found = (
        violations(books, channels)
        + client_violations(first.calls, books)
        + client_violations(second.calls, books)
    )
    assert not found, f"{len(found)} violations:\n" + "\n".join(found[:50])
    assert len(books.payments) >= 36
    # Each event was sent once by one of the two dispatchers, in order, none skipped.
    assert events
    assert merchant_end.sequences == events

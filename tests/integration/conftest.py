"""In-process servers of each service on port 0, against the session's real database."""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from channelsim.app import create_app
from channelsim.settings import ChannelSimSettings
from devstack import demo, seed
from gateway.bootstrap import build_app as build_gateway
from gateway.channel_settings import ChannelKind, ChannelSettings, dev_channels
from gateway.settings import GatewaySettings
from identity.bootstrap import build_app as build_identity
from identity.settings import IdentitySettings
from ledger.bootstrap import build_app as build_ledger
from ledger.settings import LedgerSettings
from paysuite.dev_secrets import DEV_ALIPAY_SECRET, DEV_BANK_SECRET, DEV_WECHAT_SECRET
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.identity.v1 import identity_service_pb2 as idpb
from paysuite.identity.v1 import identity_service_pb2_grpc as idpb_grpc
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.runtime.dsn import plain_postgres_url
from paysuite.runtime.entrypoint import server_security
from paysuite.runtime.server import ServiceApp, start_server
from paysuite.runtime.settings import CommonSettings
from paysuite.runtime.telemetry import Telemetry, setup_telemetry
from recon.bootstrap import build_app as build_recon
from recon.settings import ReconSettings
from tests.helpers import connect, outbox_drained
from tests.integration.kyc_support import fresh_phone
from tests.integration.wallet_client import WalletClient, running_wallet, wallet_settings
from walletsim.settings import Flavour


@asynccontextmanager
async def serving(
    build: Callable[[Any], Awaitable[ServiceApp]], settings: Any, port: int = 0
) -> AsyncIterator[str]:
    """Runs a service's real app in this process (port 0: a free one); yields its address."""
    app = await build(settings)
    security = server_security(app, settings)
    running = await start_server(app, host="127.0.0.1", port=port, security=security)
    try:
        yield f"127.0.0.1:{running.port}"
    finally:
        await running.stop(0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span the in-process services record, kept in memory for inspection."""
    exporter = InMemorySpanExporter()
    telemetry: Telemetry = setup_telemetry(
        "paysuite-in-process", CommonSettings(), exporter_factory=lambda _: exporter
    )
    yield exporter
    telemetry.shutdown()


@pytest.fixture(scope="session")
async def ledger_addr(suite_db: str, spans: InMemorySpanExporter) -> AsyncIterator[str]:
    async with serving(build_ledger, LedgerSettings()) as addr:
        yield addr


@pytest.fixture(scope="session")
def gateway_port() -> int:
    """Chosen up front: identity calls the gateway (VerifyCard) and the gateway calls identity."""
    return free_port()


@pytest.fixture(scope="session")
async def identity_addr(
    suite_db: str, spans: InMemorySpanExporter, gateway_port: int
) -> AsyncIterator[str]:
    settings = IdentitySettings(gateway_addr=f"127.0.0.1:{gateway_port}")
    async with serving(build_identity, settings) as addr:
        yield addr


@pytest.fixture(scope="session")
async def bank_url(suite_db: str) -> AsyncIterator[str]:
    """The bank simulator's real app on loopback."""
    settings = ChannelSimSettings(secret=SecretStr(DEV_BANK_SECRET), port=free_port())
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", settings.port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        await runner.cleanup()


@pytest.fixture(scope="session")
async def alipay(suite_db: str) -> AsyncIterator[WalletClient]:
    """The Alipay-style wallet simulator's real app on loopback, and a client for it."""
    async with running_wallet(wallet_settings(Flavour.ALIPAY, DEV_ALIPAY_SECRET)) as client:
        yield client


@pytest.fixture(scope="session")
async def wechat(suite_db: str) -> AsyncIterator[WalletClient]:
    """The WeChat-Pay-style wallet simulator's real app on loopback, and a client for it."""
    async with running_wallet(wallet_settings(Flavour.WECHAT, DEV_WECHAT_SECRET)) as client:
        yield client


def gateway_settings(
    ledger_addr: str,
    identity_addr: str,
    bank_url: str,
    alipay: WalletClient,
    wechat: WalletClient,
    *,
    channel_changes: Mapping[str, Mapping[str, Any]] | None = None,
    extra_channels: Mapping[str, ChannelSettings] | None = None,
    **overrides: Any,
) -> GatewaySettings:
    """A gateway on the test services and simulators, short channel timeouts; channel_changes
    sets fields of a channel by name."""
    changes = channel_changes or {}
    channels = {
        name: channel.model_copy(update={"timeout_seconds": 1.5, **changes.get(name, {})})
        for name, channel in dev_channels(bank_url, alipay.base_url, wechat.base_url).items()
    }
    return GatewaySettings(
        ledger_addr=ledger_addr,
        identity_addr=identity_addr,
        channels={**channels, **(extra_channels or {})},
        notify_port=0,
        **overrides,
    )


@pytest.fixture(scope="session")
async def gateway_addr(
    ledger_addr: str,
    identity_addr: str,
    bank_url: str,
    gateway_port: int,
    alipay: WalletClient,
    wechat: WalletClient,
) -> AsyncIterator[str]:
    settings = gateway_settings(ledger_addr, identity_addr, bank_url, alipay, wechat)
    await seed.seed_ledger(ledger_addr)
    async with serving(build_gateway, settings, port=gateway_port) as addr:
        await seed.seed_merchant(addr)
        await seed.seed_user(identity_addr, bank_url)
        yield addr


def bank_channel(url: str, secret: str = DEV_BANK_SECRET, **fields: Any) -> ChannelSettings:
    """Another contract with a bank (the bank simulator at url), with a short timeout."""
    return ChannelSettings(
        kind=ChannelKind.BANK, url=url, secret=SecretStr(secret), timeout_seconds=1.5, **fields
    )


Replica = Callable[..., AbstractAsyncContextManager[str]]


@pytest.fixture
def replica(
    gateway_addr: str,  # the suite's gateway, for the demo merchant and payer it seeds
    ledger_addr: str,
    identity_addr: str,
    bank_url: str,
    alipay: WalletClient,
    wechat: WalletClient,
) -> Replica:
    """Starts another gateway replica on the suite's services and simulators, configured by
    the keywords of gateway_settings; yields its address."""

    def start(**overrides: Any) -> AbstractAsyncContextManager[str]:
        settings = gateway_settings(
            ledger_addr, identity_addr, bank_url, alipay, wechat, **overrides
        )
        return serving(build_gateway, settings)

    return start


@pytest.fixture
async def gateway_stub(gateway_addr: str) -> AsyncIterator[gpb_grpc.GatewayServiceAsyncStub]:
    async with connect(gateway_addr) as channel:
        yield gpb_grpc.GatewayServiceStub(channel)


@pytest.fixture
async def ledger_stub(ledger_addr: str) -> AsyncIterator[lpb_grpc.LedgerServiceAsyncStub]:
    async with connect(ledger_addr) as channel:
        yield lpb_grpc.LedgerServiceStub(channel)


@pytest.fixture(scope="session")
async def recon_addr(gateway_addr: str, ledger_addr: str) -> AsyncIterator[str]:
    settings = ReconSettings(gateway_addr=gateway_addr, ledger_addr=ledger_addr, ranges=4)
    async with serving(build_recon, settings) as addr:
        yield addr


@pytest.fixture
def addresses(
    gateway_addr: str, ledger_addr: str, identity_addr: str, recon_addr: str
) -> dict[str, str]:
    """Every service's in-process address, by service name."""
    return {
        "gateway": gateway_addr,
        "ledger": ledger_addr,
        "identity": identity_addr,
        "recon": recon_addr,
    }


@pytest.fixture
async def payer(identity_addr: str) -> str:
    """A registered user with no card and no real name: enough for a wallet."""
    async with connect(identity_addr) as channel:
        answer = await idpb_grpc.IdentityServiceStub(channel).RegisterUser(
            idpb.RegisterUserRequest(request_id=f"w-{secrets.token_hex(6)}", phone=fresh_phone())
        )
    return answer.user.user_id


@pytest.fixture
async def db(suite_db: str) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection for assertions about what was (not) written."""
    conn = await asyncpg.connect(plain_postgres_url(suite_db))
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def demo_user() -> str:
    return demo.USER_ID


@pytest.fixture(autouse=True)
async def earlier_tests_settled(request: pytest.FixtureRequest) -> None:
    """Before a test that runs the gateway: what earlier tests' payments put in its outbox has
    reached the ledger and identity, so balances read now stay put but for this test's own."""
    if "gateway_addr" not in request.fixturenames:
        return
    suite_db = request.getfixturevalue("suite_db")
    conn = await asyncpg.connect(plain_postgres_url(suite_db))
    try:
        assert await outbox_drained(conn), "earlier tests left gateway outbox messages behind"
    finally:
        await conn.close()

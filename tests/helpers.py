"""Small helpers shared by the test rings."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from devstack.callers import RoutedChannel
from devstack.pki import DevCA
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.runtime.dsn import dev_service_password, service_role, with_credentials
from paysuite.runtime.entrypoint import server_security
from paysuite.runtime.migrations import upgrade_to_head
from paysuite.runtime.server import RunningServer, ServiceApp, start_server
from paysuite.runtime.settings import ServiceSettings

T = TypeVar("T")
SERVICES = ("gateway", "ledger", "identity", "recon")
SERVICES_DIR = Path(__file__).resolve().parents[1] / "services"


def connect(
    address: str,
    options: Sequence[tuple[str, Any]] | None = None,
    interceptors: Sequence[Any] | None = None,
) -> RoutedChannel:
    """The one way tests open a channel to a service: mutual TLS with the session's CA
    (PAYSUITE_PKI_DIR), each RPC called as an identity the service's policy allows (the
    operator where it may, else a merchant: the request's merchant_id or the demo merchant)."""
    ca = DevCA(Path(os.environ["PAYSUITE_PKI_DIR"]))
    return RoutedChannel(address, ca, options, interceptors)


async def start_in_process(app: ServiceApp, settings: ServiceSettings) -> RunningServer:
    """Starts a service's app in this process on a free loopback port, with its real mutual
    TLS and policy (the session's CA)."""
    security = server_security(app, settings)
    return await start_server(app, host="127.0.0.1", port=0, security=security)


def service_dsn(database_url: str, service: str) -> str:
    """The URL a service connects with: its own role."""
    return with_credentials(database_url, service_role(service), dev_service_password(service))


async def migrate_every_service(database_url: str) -> None:
    """Each service's migrations, in its own schema and as its own role, as `make run` runs them."""
    for service in SERVICES:
        await upgrade_to_head(
            service,
            service,
            service_dsn(database_url, service),
            SERVICES_DIR / service / "migrations" / "versions",
        )


async def eventually(probe: Callable[[], Awaitable[T]], expected: T, timeout: float = 10.0) -> T:
    """What probe() returns once it returns expected, or when timeout runs out: for effects the
    outbox carries to other services after the answer (ledger postings, limit commits)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value == expected or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


async def outbox_drained(db: Any, timeout: float = 10.0) -> bool:
    """Whether every gateway outbox message was delivered within timeout: read a shared
    account's balance after this, or a posting of an earlier test may still land on it."""
    undelivered = "SELECT count(*) FROM gateway.outbox"

    async def pending() -> int:
        count: int = await db.fetchval(undelivered)
        return count

    return await eventually(pending, 0, timeout) == 0


async def payment_events(
    gateway: gpb_grpc.GatewayServiceAsyncStub, merchant_id: str, count: int, after: int = 0
) -> list[gpb.WatchPaymentEventsResponse]:
    """The merchant's next `count` events after sequence `after`, from WatchPaymentEvents."""
    call = gateway.WatchPaymentEvents(
        gpb.WatchPaymentEventsRequest(merchant_id=merchant_id, after_sequence=after)
    )
    got: list[gpb.WatchPaymentEventsResponse] = []
    try:
        async with asyncio.timeout(10):
            async for event in call:
                got.append(event)
                if len(got) == count:
                    break
    finally:
        call.cancel()
    return got

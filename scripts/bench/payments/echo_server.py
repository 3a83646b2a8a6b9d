"""A gRPC echo service on the services' own server stack (tracing and error-mapping
interceptors, health, reflection, collector tuning): the benchmark's echo yardstick, and a hop
of the floor path, which before it answers may write a row in a transaction of its own, call
the next hop over the services' traced client and POST to an HTTP echo.

Run as a file: `python echo_server.py PORT [--database-url URL] [--call ADDRESS] [--post URL]`;
SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import aiohttp
import asyncpg
import grpc

from devstack.pki import DevCA
from paysuite.runtime import event_loop
from paysuite.runtime.authz import Policy
from paysuite.runtime.clients import open_channel
from paysuite.runtime.dsn import plain_postgres_url
from paysuite.runtime.gc_tuning import tune_for_service
from paysuite.runtime.identities import service
from paysuite.runtime.server import Security, ServiceApp, start_server
from paysuite.runtime.settings import CommonSettings
from paysuite.runtime.telemetry import setup_telemetry

SERVICE = "paysuite.bench.v1.EchoService"
METHOD = f"/{SERVICE}/Echo"
CALL_TIMEOUT_SECONDS = 10.0
POOL_SIZE = 8

Step = Callable[[bytes], Awaitable[None]]


@asynccontextmanager
async def row_transactions(database_url: str, pool_size: int = POOL_SIZE) -> AsyncIterator[Step]:
    """A one-row INSERT, its own committed transaction, in a table of its own (dropped after)."""
    table = f"bench_floor_{secrets.token_hex(4)}"
    pool = await asyncpg.create_pool(
        plain_postgres_url(database_url), min_size=pool_size, max_size=pool_size
    )
    await pool.execute(
        f"CREATE TABLE {table} (id text PRIMARY KEY, amount bigint NOT NULL, "
        "created_at timestamptz NOT NULL DEFAULT now())"
    )
    counter = iter(range(10**12))
    statement = f"INSERT INTO {table} (id, amount) VALUES ($1, $2)"

    async def write(_request: bytes) -> None:
        await pool.execute(statement, f"row-{next(counter)}", 100)

    try:
        yield write
    finally:
        await pool.execute(f"DROP TABLE {table}")
        await pool.close()


@asynccontextmanager
async def _grpc_call(address: str) -> AsyncIterator[Step]:
    """The request passed on to the next hop, as one service calls another (as the gateway)."""
    channel = open_channel(address, DevCA.from_environment().files(service("gateway")))
    echo = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)

    async def call(request: bytes) -> None:
        await echo(request, timeout=CALL_TIMEOUT_SECONDS)

    try:
        yield call
    finally:
        await channel.close(None)


@asynccontextmanager
async def _http_post(url: str) -> AsyncIterator[Step]:
    """The request POSTed on a keep-alive connection, as the gateway calls a channel."""
    async with aiohttp.ClientSession() as session:

        async def post(request: bytes) -> None:
            async with session.post(url, data=request) as response:
                await response.read()

        yield post


def _handler(steps: list[Step]) -> Callable[..., Awaitable[bytes]]:
    async def echo(request: bytes, _context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        for step in steps:
            await step(request)
        return request

    return echo


async def serve(args: argparse.Namespace) -> None:
    telemetry = setup_telemetry("echo", CommonSettings())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    # Over mutual TLS as the services serve: the dev CA's ledger certificate, any operator,
    # merchant or service of the suite may call.
    ca = DevCA.from_environment()
    ca.ensure_suite()
    security = Security(
        tls=ca.files(service("ledger")),
        policy=Policy({METHOD: ("operator/*", "merchant/*", "service/*")}),
    )
    async with AsyncExitStack() as stack:
        steps: list[Step] = []
        if args.database_url:
            steps.append(await stack.enter_async_context(row_transactions(args.database_url)))
        if args.call:
            steps.append(await stack.enter_async_context(_grpc_call(args.call)))
        if args.post:
            steps.append(await stack.enter_async_context(_http_post(args.post)))
        handler = grpc.method_handlers_generic_handler(
            SERVICE, {"Echo": grpc.unary_unary_rpc_method_handler(_handler(steps))}
        )

        def register(server: grpc.aio.Server) -> None:
            server.add_generic_rpc_handlers((handler,))

        running = await start_server(
            ServiceApp(name="echo", services=[], register=register),
            host="127.0.0.1",
            port=args.port,
            security=security,
        )
        tune_for_service()
        await stop.wait()
        await running.stop(1.0)
    telemetry.shutdown()


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--database-url", default="", help="write a row per call here")
    parser.add_argument("--call", default="", help="call this echo server's address per call")
    parser.add_argument("--post", default="", help="POST each request to this URL")
    return parser.parse_args()


if __name__ == "__main__":
    event_loop.run(serve(_arguments()))

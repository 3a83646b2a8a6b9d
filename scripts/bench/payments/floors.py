"""What a payment cannot do without, each measured alone in the same run: CPU per operation
of the calling and the called process (and Postgres), for

- a gRPC call into a service (an untraced outside client, the services' server stack),
- a gRPC call between services (the services' traced client and server stack),
- an HTTP call to a channel (keep-alive aiohttp client, bare aiohttp server),
- a one-statement database transaction (asyncpg, commit included),
- one ledger posting amortised in a batch of BATCH transfers.

Each client runs in a process of its own, closed loop, CLIENTS calls in flight.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from devstack.pki import DevCA, dev_channel
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.runtime.clients import open_channel
from paysuite.runtime.identities import service
from paysuite.type.v1.money_pb2 import Money

from ..proc_cpu import cpu_seconds, snapshot
from .echo_server import METHOD as ECHO_METHOD
from .echo_server import row_transactions

CLIENTS = 16
LEDGER_BATCH = 100
PAYLOAD = b"x" * 200
FLOOR_ACCOUNTS = ("bench.floor.debit.CNY", "bench.floor.credit.CNY")


@dataclass(frozen=True)
class OpCost:
    """One operation's rate and CPU microseconds per operation, by process."""

    name: str
    ops: int
    seconds: float
    cpu_us: dict[str, float]

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    @property
    def total_us(self) -> float:
        return sum(self.cpu_us.values())


async def _closed_loop(
    name: str,
    call: Callable[[], Awaitable[int]],
    seconds: float,
    pids: dict[str, int],
    uses_postgres: bool,
) -> OpCost:
    """CLIENTS loops calling `call` (which returns operations done) until the deadline; the
    CPU of the client, of `pids` and, if `uses_postgres`, of Postgres, per operation."""

    async def loop(until: float) -> int:
        done = 0
        while time.perf_counter() < until:
            done += await call()
        return done

    await asyncio.gather(*(loop(time.perf_counter() + 0.5) for _ in range(CLIENTS)))
    before, cpu0, start = snapshot(pids), time.process_time(), time.perf_counter()
    counts = await asyncio.gather(*(loop(start + seconds) for _ in range(CLIENTS)))
    elapsed, spent = time.perf_counter() - start, time.process_time() - cpu0
    ops = sum(counts)
    used = {**cpu_seconds(before, snapshot(pids)), "client": spent}
    if not uses_postgres:
        used.pop("postgres", None)
    return OpCost(name, ops, elapsed, {k: v * 1e6 / max(ops, 1) for k, v in used.items()})


async def _grpc_echo(address: str, traced: bool, seconds: float, pids: dict[str, int]) -> OpCost:
    channel = (
        open_channel(address, DevCA.from_environment().files(service("gateway")))
        if traced
        else dev_channel(address)
    )
    echo = channel.unary_unary(ECHO_METHOD, request_serializer=None, response_deserializer=None)

    async def call() -> int:
        await echo(PAYLOAD, timeout=10)
        return 1

    try:
        name = "grpc between services (traced)" if traced else "grpc call in"
        return await _closed_loop(name, call, seconds, pids, uses_postgres=False)
    finally:
        await channel.close(None)


def grpc_echo(address: str, traced: bool, seconds: float, server_pid: int) -> OpCost:
    """Process entry point; `traced` uses the services' own client channel."""
    if traced:
        from paysuite.runtime.settings import CommonSettings
        from paysuite.runtime.telemetry import setup_telemetry

        setup_telemetry("bench-echo-client", CommonSettings())
    return asyncio.run(_grpc_echo(address, traced, seconds, {"server": server_pid}))


async def _echo_handler(request: web.Request) -> web.Response:
    return web.Response(body=await request.read(), content_type="application/json")


def serve_http_echo(port: int) -> None:
    """Process entry point: a bare aiohttp server answering POST /echo with the body."""
    app = web.Application()
    app.router.add_post("/echo", _echo_handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def _http_echo(url: str, seconds: float, pids: dict[str, int]) -> OpCost:
    async with aiohttp.ClientSession() as session:

        async def call() -> int:
            async with session.post(url, data=PAYLOAD) as response:
                await response.read()
            return 1

        return await _closed_loop(
            "http call to a channel", call, seconds, pids, uses_postgres=False
        )


def http_echo(url: str, seconds: float, server_pid: int) -> OpCost:
    """Process entry point."""
    return asyncio.run(_http_echo(url, seconds, {"server": server_pid}))


async def _db_transaction(database_url: str, seconds: float) -> OpCost:
    async with row_transactions(database_url, pool_size=CLIENTS) as write:

        async def call() -> int:
            await write(PAYLOAD)
            return 1

        return await _closed_loop("database transaction", call, seconds, {}, uses_postgres=True)


def db_transaction(database_url: str, seconds: float) -> OpCost:
    """Process entry point: one-row INSERTs, each its own committed transaction."""
    return asyncio.run(_db_transaction(database_url, seconds))


async def _ledger_posting(address: str, seconds: float, ledger_pid: int) -> OpCost:
    prefix = f"floor-{secrets.token_hex(4)}-"
    counter = iter(range(10**9))
    async with dev_channel(address, "gateway") as channel:
        ledger = lpb_grpc.LedgerServiceStub(channel)
        await ledger.CreateAccounts(
            lpb.CreateAccountsRequest(
                accounts=[
                    lpb.AccountSpec(
                        account_id=account_id,
                        name="benchmark floor",
                        type=kind,
                        currency_code="CNY",
                        owner_type=lpb.OWNER_TYPE_PLATFORM,
                        owner_id="bench",
                    )
                    for account_id, kind in zip(
                        FLOOR_ACCOUNTS,
                        (lpb.ACCOUNT_TYPE_ASSET, lpb.ACCOUNT_TYPE_LIABILITY),
                        strict=True,
                    )
                ]
            ),
            timeout=10,
        )

        async def call() -> int:
            transfers = [
                lpb.TransferSpec(
                    transfer_id=f"{prefix}{next(counter)}",
                    postings=[
                        lpb.Posting(
                            debit_account_id=FLOOR_ACCOUNTS[0],
                            credit_account_id=FLOOR_ACCOUNTS[1],
                            amount=Money(currency_code="CNY", minor_units=100),
                        )
                    ],
                )
                for _ in range(LEDGER_BATCH)
            ]
            await ledger.CreateTransfers(
                lpb.CreateTransfersRequest(transfers=transfers), timeout=30
            )
            return LEDGER_BATCH

        return await _closed_loop(
            "ledger posting in a batch", call, seconds, {"ledger": ledger_pid}, uses_postgres=True
        )


def ledger_posting(address: str, seconds: float, ledger_pid: int) -> OpCost:
    """Process entry point: batches of LEDGER_BATCH one-posting transfers."""
    return asyncio.run(_ledger_posting(address, seconds, ledger_pid))
